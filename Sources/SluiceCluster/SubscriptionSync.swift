import Foundation
import SluiceCore

/// A subscription is the cluster's, not a node's: each status, incoming message and
/// account event is recorded by one node (the one that sent the message, the one that
/// holds the number), so every node must know every subscriber. A subscription made on a
/// node is published under `/<prefix>/subscriptions/<node>/<id>`, and every other node
/// keeps a mirror of it (`SubscriptionRecord.mirrorOf`) that its own delivery serves.
/// A campaign filter names a campaign of the node that made it: the mirror takes the
/// campaign here that sends it (`SubscriptionRecord.origin`).
///
/// The node that made a subscription owns its key: it publishes what its journal holds,
/// and deletes keys its journal no longer has. The keys have no lease: a subscriber still
/// gets the other nodes' events while the node that made it is down.
public enum SubscriptionSync {
    /// What a subscription asks for, as kept in etcd.
    public struct Spec: Sendable, Equatable {
        public var url: String
        public var secret: String
        public var campaign: CampaignID?
        public var states: Set<MessageState>?
        public var events: Set<SubscriberEventKind>
        public var batch: Int

        public init(_ record: SubscriptionRecord) {
            url = record.url
            secret = record.secret
            campaign = record.campaign
            states = record.states
            events = record.events
            batch = record.batchMax
        }

        /// `{"url","secret","campaign":"7"|null,"states":[…]|null,"events":[…],"batch":1}`.
        public var json: [UInt8] {
            let object: [String: Any] = [
                "url": url, "secret": secret, "campaign": campaign.map { $0.description as Any } ?? NSNull(),
                "states": states.map { $0.map(\.description).sorted() as Any } ?? NSNull(),
                "events": events.sorted().map(\.rawValue), "batch": batch,
            ]
            return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
        }

        /// Nil for anything this build cannot keep as a subscription (written by hand?).
        public init?(json: [UInt8]) {
            guard let o = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any],
                let url = o["url"] as? String, !url.isEmpty, let secret = o["secret"] as? String, !secret.isEmpty,
                let batch = (o["batch"] as? NSNumber)?.intValue, (1...SubscriptionRecord.batchMaxLimit).contains(batch)
            else { return nil }
            let events = Set(((o["events"] as? [String]) ?? []).compactMap(SubscriberEventKind.init(rawValue:)))
            guard !events.isEmpty else { return nil }
            var states: Set<MessageState>?
            if let names = o["states"] as? [String] {
                let known = Set(MessageState.allCases.filter { $0.isReported && names.contains($0.description) })
                guard !known.isEmpty, known.count == Set(names).count else { return nil }
                states = known
            }
            var campaign: CampaignID?
            if let text = o["campaign"] as? String {
                guard let id = UInt64(text), id > 0 else { return nil }
                campaign = CampaignID(id)
            }
            self.url = url
            self.secret = secret
            self.campaign = campaign
            self.states = states
            self.events = events
            self.batch = batch
        }

        /// Whether `record`, a mirror of node `node`'s subscription, asks for what this does.
        func isMirrored(by record: SubscriptionRecord, node: String) -> Bool {
            record.url == url && record.secret == secret && record.campaign == nil && record.states == states && record.events == events
                && record.batchMax == batch && record.origin == campaign.map { CampaignOrigin(node: node, campaign: $0) }
        }
    }

    /// A key under the subscriptions prefix: whose and which.
    public struct Published: Sendable, Equatable {
        public var node: String
        public var id: UInt64
        /// Nil when the value cannot be read.
        public var spec: Spec?

        public init(node: String, id: UInt64, spec: Spec?) {
            self.node = node
            self.id = id
            self.spec = spec
        }

        /// `<node>/<id>` after the prefix; nil for any other key.
        public init?(key: Substring, value: [UInt8]) {
            let parts = key.split(separator: "/")
            guard parts.count == 2, let id = UInt64(parts[1]), id > 0 else { return nil }
            self.init(node: String(parts[0]), id: id, spec: Spec(json: value))
        }
    }

    public enum Step: Sendable, Equatable {
        /// Write this node's subscription `id` to etcd.
        case publish(id: UInt64, Spec)
        /// Delete this node's key for `id`: the journal no longer has it.
        case unpublish(id: UInt64)
        /// Make a mirror here of another node's subscription.
        case mirror(SubscriptionMirror, Spec)
        /// Delete the mirror `localID`: what it mirrors is gone or changed.
        case drop(localID: UInt64)
    }

    /// The steps that bring this node and etcd into agreement, deletions first (they free
    /// room for mirrors).
    public static func plan(node: String, local: [SubscriptionRecord], published: [Published]) -> [Step] {
        var drops: [Step] = []
        var others: [Step] = []
        var mine: [UInt64: Spec?] = [:]
        var theirs: [SubscriptionMirror: Spec] = [:]
        for p in published {
            if p.node == node { mine[p.id] = p.spec } else if let spec = p.spec { theirs[SubscriptionMirror(node: p.node, id: p.id)] = spec }
        }
        var mirrored: Set<SubscriptionMirror> = []
        for record in local.sorted(by: { $0.id < $1.id }) {
            if let mirror = record.mirrorOf {
                // A mirror of this node's own (a journal copied from another node?) is dropped too.
                if mirror.node != node, let spec = theirs[mirror], spec.isMirrored(by: record, node: mirror.node), !mirrored.contains(mirror) {
                    mirrored.insert(mirror)
                } else {
                    drops.append(.drop(localID: record.id))
                }
            } else {
                let spec = Spec(record)
                if (mine[record.id] ?? nil) != spec { others.append(.publish(id: record.id, spec)) }
                mine[record.id] = nil
            }
        }
        for id in mine.keys.sorted() { drops.append(.unpublish(id: id)) }
        for (mirror, spec) in theirs.sorted(by: { ($0.key.node, $0.key.id) < ($1.key.node, $1.key.id) }) where !mirrored.contains(mirror) {
            others.append(.mirror(mirror, spec))
        }
        return drops + others
    }
}
