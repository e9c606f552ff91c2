/// A number's tier is the cluster's, not a node's: an operator's `PUT` on any node, or a
/// `THROUGHPUT_UPGRADE` recorded by the holder, is published under `/<prefix>/tiers/<phone>`
/// and every node that has the number takes it within a round.
///
/// Each node remembers the tier and etcd revision it last agreed on. A newer revision in
/// etcd was set elsewhere and is taken here; a tier that differs from the agreed one
/// changed here and is published. After a restart, what etcd has wins (it may have moved
/// on while this node was away); a number registered later publishes its own tier.
public enum TierSync {
    public struct Seen: Sendable, Equatable {
        public var tier: Double
        public var revision: Int64

        public init(tier: Double, revision: Int64) {
            self.tier = tier
            self.revision = revision
        }
    }

    public enum Step: Sendable, Equatable {
        /// Set the local sender to the cluster's tier.
        case adopt(Double)
        /// Publish the local tier.
        case publish(Double)
        /// In agreement since the revision given.
        case agree(Seen)
    }

    /// - Parameters:
    ///   - here: the tier in this node's journal.
    ///   - there: the tier in etcd and its revision, nil when none is published.
    ///   - agreed: what this node last agreed on, nil when it has not yet.
    ///   - afterRestart: this is the node's first round with etcd since it started.
    public static func step(here: Double, there: Seen?, agreed: Seen?, afterRestart: Bool) -> Step {
        guard let there else { return .publish(here) }
        if let agreed {
            if there.revision != agreed.revision { return there.tier == here ? .agree(there) : .adopt(there.tier) }
            return here == agreed.tier ? .agree(agreed) : .publish(here)
        }
        if there.tier == here { return .agree(there) }
        return afterRestart ? .adopt(there.tier) : .publish(here)
    }
}
