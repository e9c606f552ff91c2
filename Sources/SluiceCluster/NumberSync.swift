import Foundation

/// A number's tier and pause are the cluster's, not a node's: an operator's `PUT`, pause
/// or resume on any node, or what the holder records itself (a `THROUGHPUT_UPGRADE`, a
/// pause after WhatsApp refused the number's token), is published under
/// `/<prefix>/settings/<phone>` and every node that has the number takes it within a round.
///
/// Each node remembers the settings and etcd revision it last agreed on. A newer revision
/// in etcd was set elsewhere and is taken here; settings that differ from the agreed ones
/// changed here and are published. After a restart, what etcd has wins (it may have moved
/// on while this node was away); a number registered later publishes its own.
public enum NumberSync {
    public struct Settings: Sendable, Equatable {
        public var tier: Double
        public var paused: Bool
        public var pauseReason: String?

        public init(tier: Double, paused: Bool = false, pauseReason: String? = nil) {
            self.tier = tier
            self.paused = paused
            self.pauseReason = paused ? pauseReason : nil
        }

        /// `{"tier":80,"paused":true,"pause_reason":"…"}`, as kept in etcd.
        public var json: [UInt8] {
            var object: [String: Any] = ["tier": tier, "paused": paused]
            if let pauseReason { object["pause_reason"] = pauseReason }
            return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
        }

        public init?(json: [UInt8]) {
            guard let o = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any], let tier = (o["tier"] as? NSNumber)?.doubleValue else { return nil }
            self.init(tier: tier, paused: o["paused"] as? Bool ?? false, pauseReason: o["pause_reason"] as? String)
        }
    }

    public struct Seen: Sendable, Equatable {
        public var settings: Settings
        public var revision: Int64

        public init(_ settings: Settings, revision: Int64) {
            self.settings = settings
            self.revision = revision
        }
    }

    public enum Step: Sendable, Equatable {
        /// Set the local sender to the cluster's settings.
        case adopt(Settings)
        /// Publish the local settings.
        case publish(Settings)
        /// In agreement since the revision given.
        case agree(Seen)
    }

    /// - Parameters:
    ///   - here: the settings in this node's journal.
    ///   - there: the settings in etcd and their revision, nil when none are published.
    ///   - agreed: what this node last agreed on, nil when it has not yet.
    ///   - afterRestart: this is the node's first round with etcd since it started.
    public static func step(here: Settings, there: Seen?, agreed: Seen?, afterRestart: Bool) -> Step {
        guard let there else { return .publish(here) }
        if let agreed {
            if there.revision != agreed.revision { return there.settings == here ? .agree(there) : .adopt(there.settings) }
            return here == agreed.settings ? .agree(agreed) : .publish(here)
        }
        if there.settings == here { return .agree(there) }
        return afterRestart ? .adopt(there.settings) : .publish(here)
    }
}
