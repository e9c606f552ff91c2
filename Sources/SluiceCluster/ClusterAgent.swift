import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceCrypto
import SluiceEngine

/// How a node takes part in a cluster.
public struct ClusterConfiguration: Sendable, Equatable {
    public var etcdEndpoints: [String]
    public var nodeID: String
    /// Where other nodes and operators reach this node's API.
    public var advertiseURL: String?
    /// Keys live under `/<prefix>/`.
    public var prefix = "sluice"
    public var leaseTTLSeconds = 10
    /// Sending stops this long before the lease could lapse.
    public var marginMilliseconds: Int64 = 4_000
    public var renewIntervalMilliseconds: Int64 = 1_000

    public init(etcdEndpoints: [String], nodeID: String, advertiseURL: String? = nil) {
        self.etcdEndpoints = etcdEndpoints
        self.nodeID = nodeID
        self.advertiseURL = advertiseURL
    }

    /// Longest a request to WhatsApp may take in a cluster: within the margin, so that
    /// nothing of this node is on the wire when its lease could lapse.
    public var sendTimeoutMilliseconds: Int { Int(marginMilliseconds) - 1_000 }
    /// etcd calls end well within a renewal interval's worth of the margin.
    var etcdTimeoutMilliseconds: Int64 { max(200, min(renewIntervalMilliseconds, marginMilliseconds / 4)) }

    var nodesPrefix: String { "/\(prefix)/nodes/" }
    var ownersPrefix: String { "/\(prefix)/owners/" }
    /// `/<prefix>/numbers/<phone>/<node>` = tier: who has each number registered.
    var numbersPrefix: String { "/\(prefix)/numbers/" }
    /// `/<prefix>/settings/<phone>` = the number's tier and pause for the whole cluster
    /// (JSON, no lease).
    var settingsPrefix: String { "/\(prefix)/settings/" }
    /// `<node>/<id>` → a subscription made on that node (`SubscriptionSync`).
    var subscriptionsPrefix: String { "/\(prefix)/subscriptions/" }
    /// The secret nodes show each other when handing messages over (created once, no lease).
    var tokenKey: String { "/\(prefix)/token" }
    /// Between two passes of handing backlog over to the numbers' holders.
    var handoverIntervalMilliseconds: Int64 = 2_000
    /// Rounds a free number waits for the node placement prefers before another claims it.
    var claimGraceRounds = 3

    /// `a-z A-Z 0-9 . _ -`, 1–64: a node id is part of etcd keys and of the API.
    public static func isNodeID(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e || c == 0x5f || c == 0x2d
        }
    }
}

/// What `GET /v1/cluster` shows: the nodes etcd knows (alive: their lease holds their
/// key) and the owner of each number that has one.
public struct ClusterView: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var id: String
        public var url: String?
        public var alive: Bool
    }

    public var nodeID: String
    public var nodes: [Node]
    /// phone_number_id → node id.
    public var owners: [String: String]
    /// Whether this node's lease is known to be alive now (it sends only then).
    public var leaseAlive: Bool
    public var lastError: String?
    /// Messages this node handed over to the holders of their numbers since it started.
    public var handedOver = 0
}

/// Keeps this node in the cluster: a lease renewed every second, the node's key under it,
/// and one owner key per number this node sends for, created only where none exists (so
/// a number has one owner at a time). Tells the dispatcher which numbers it holds and
/// until when (`LeaseGuard`): when etcd cannot be reached, sending stops by itself
/// before the lease could lapse and another node take the numbers over.
///
/// Each node publishes the numbers registered in its own journal (with their tiers);
/// `Placement` picks, among the nodes that have a number, the one that should send for
/// it, and that node claims it when it is free. A holder gives a number up when it is
/// deleted there, when its lease lapses, or when placement prefers another node for a
/// while (`Rebalancer`: it stops sending, lets the wire drain, then releases the key);
/// then the node placement prefers takes it, and the backlog follows (`BacklogHandover`).
public actor ClusterAgent: Service, ClusterDirectorySource {
    let dispatcher: Dispatcher
    let etcd: EtcdClient
    let http: HTTPClient
    public let configuration: ClusterConfiguration
    let logger: Logger
    private var lease: Int64?
    private var leaseGuard: LeaseGuard
    private var view: ClusterView
    private var failing = false
    /// What this node has published under `numbersPrefix` (phone → tier), for its lease.
    private var published: [String: Double] = [:]
    /// Rounds each free number has been seen free.
    private var freeRounds: [String: Int] = [:]
    /// The cluster's handover secret, read when joining.
    private var token: String?
    /// Messages handed over to other nodes since start.
    private var handedOver = 0
    /// Where other nodes reach this node's API: `--advertise`, else the address `serve`
    /// listens on (`listening(on:)`), published with the node's key.
    private var advertised: String?
    private var publishedURL: String?
    /// Placement's choice for each number, from the last round.
    private var preferred: [String: String] = [:]
    /// Numbers this node gives up to the node placement prefers.
    private var rebalancer: Rebalancer
    /// Each number's settings as this node last agreed with etcd on them (`NumberSync`).
    private var settingsAgreed: [String: NumberSync.Seen] = [:]
    private var settingsSyncedOnce = false
    /// Campaigns a holder refused, left alone until then (one error a minute, not a pass).
    private var refusedUntil: [CampaignID: ContinuousClock.Instant] = [:]
    /// Subscriptions of other nodes there was no room to mirror (logged once each).
    private var mirrorsRefused: Set<SubscriptionMirror> = []

    public init(dispatcher: Dispatcher, configuration: ClusterConfiguration, http: HTTPClient = .shared, logger: Logger = Logger(label: "sluice.cluster")) {
        precondition(dispatcher.configuration.clustered, "a cluster agent needs a dispatcher configured as clustered")
        self.dispatcher = dispatcher
        self.configuration = configuration
        self.http = http
        self.etcd = EtcdClient(endpoints: configuration.etcdEndpoints, http: http, requestTimeoutMilliseconds: configuration.etcdTimeoutMilliseconds)
        self.logger = logger
        leaseGuard = LeaseGuard(marginMilliseconds: configuration.marginMilliseconds)
        // Longer than any request to WhatsApp may take (`sendTimeoutMilliseconds`).
        rebalancer = Rebalancer(drainMilliseconds: configuration.marginMilliseconds)
        advertised = configuration.advertiseURL
        view = ClusterView(nodeID: configuration.nodeID, nodes: [], owners: [:], leaseAlive: false, lastError: nil)
    }

    public func current() -> ClusterView {
        var v = view
        v.leaseAlive = leaseGuard.isAlive(at: dispatcher.clock.now())
        v.handedOver = handedOver
        return v
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        await self.step()
                        try? await Task.sleep(for: .milliseconds(self.configuration.renewIntervalMilliseconds))
                    }
                }
                // Apart from the rounds: a slow holder must not delay a lease renewal.
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(self.configuration.handoverIntervalMilliseconds))
                        await self.handOver()
                    }
                }
            }
        }
        await leave()
    }

    /// What `directory()` answers, from the last round.
    private var directoryCache: ClusterDirectory?

    /// The API's address once it listens; used unless `--advertise` named one.
    public func listening(on url: String) {
        if configuration.advertiseURL == nil { advertised = url }
    }

    /// The secret a node shows to hand messages over here; nil before this node joined.
    public func handoverToken() -> String? { token }

    /// Who holds what and where nodes are, for passing webhooks on; nil before this node
    /// joined. From the last round that reached etcd (addresses rarely move).
    public func directory() -> ClusterDirectory? { directoryCache }

    /// Made once a round for every webhook until the next (not per webhook).
    private func refreshDirectory() {
        guard let token else { return }
        var urls: [String: String] = [:]
        for n in view.nodes { if let url = n.url { urls[n.id] = url } }
        directoryCache = ClusterDirectory(nodeID: configuration.nodeID, token: token, urls: urls, holders: view.owners)
    }

    /// One pass of `BacklogHandover`, for the numbers registered here that another live
    /// node holds, while etcd answers (a stale view could name a holder that is gone).
    func handOver() async {
        guard !failing, lease != nil, let token, let directory = directoryCache else { return }
        var holders: [String: BacklogHandover.Holder] = [:]
        for (phone, node) in directory.holders where node != configuration.nodeID {
            if let url = directory.urls[node] { holders[phone] = BacklogHandover.Holder(node: node, url: url) }
        }
        guard !holders.isEmpty else { return }
        let handover = BacklogHandover(dispatcher: dispatcher, http: http, nodeID: configuration.nodeID, logger: logger)
        // Bounded, so that the next pass sees holders that moved.
        let now = ContinuousClock.now
        refusedUntil = refusedUntil.filter { $0.value > now }
        let (handed, refused) = await handover.pass(holders: holders, token: token, until: now + .seconds(20), skipping: Set(refusedUntil.keys))
        for campaign in refused { refusedUntil[campaign] = ContinuousClock.now + .seconds(60) }
        handedOver += handed
    }

    /// One round: renew (or get) the lease, claim free numbers, tell the dispatcher.
    func step() async {
        do {
            try await renew()
            let local = try dispatcher.senders()
            var owners = try await claim(local)
            let until = leaseGuard.validUntil
            let held = Set(owners.filter { $0.value.lease == lease }.keys)
            let wasDraining = Set(rebalancer.releasing.keys)
            let (draining, release) = rebalancer.round(held: held, preferred: preferred, me: configuration.nodeID, now: dispatcher.clock.now())
            for phone in draining.subtracting(wasDraining).sorted() {
                logger.info("cluster: \(phone) goes to node \(preferred[phone] ?? "?") (placement): this node stops sending for it, and releases it once what is on the wire has ended")
            }
            var deadlines: [String: Instant] = [:]
            var fencing: [String: Int64] = [:]
            for phone in held.subtracting(draining) {
                deadlines[phone] = until
                fencing[phone] = owners[phone]?.createRevision
            }
            try dispatcher.setOwnership(deadlines, fencing: fencing)
            for phone in release {
                guard let entry = owners[phone] else { continue }
                try await etcd.deleteIf(configuration.ownersPrefix + phone, createRevision: entry.createRevision)
                owners[phone] = nil
                logger.info("cluster: released \(phone) for node \(preferred[phone] ?? "?"); its backlog here is handed over once that node holds it")
            }
            let nodes = try await etcd.range(prefix: configuration.nodesPrefix)
            view.nodes = nodes.map { kv in
                let info = (try? JSONSerialization.jsonObject(with: Data(kv.value))) as? [String: Any]
                return ClusterView.Node(id: String(kv.key.dropFirst(configuration.nodesPrefix.count)), url: info?["url"] as? String, alive: true)
            }
            view.owners = owners.mapValues { String(decoding: $0.value, as: UTF8.self) }
            refreshDirectory()
            try await syncSettings(local)
            try await syncSubscriptions()
            view.lastError = nil
            if failing { logger.info("cluster: etcd answers again") }
            failing = false
        } catch {
            // The deadlines given stand and run out by themselves.
            view.lastError = "\(error)"
            if !failing { logger.warning("cluster: \(error); sending stops when the lease can no longer be trusted") }
            failing = true
        }
    }

    private func renew() async throws {
        let sentAt = dispatcher.clock.now()
        if let lease {
            let ttl = try await etcd.keepAlive(lease)
            guard ttl > 0 else {
                // Lapsed (a partition longer than the TTL): its keys are gone; start over.
                logger.warning("cluster: lease \(lease) lapsed; every number is released")
                self.lease = nil
                published = [:]
                leaseGuard.lost()
                try dispatcher.setOwnership([:])
                throw EtcdError("the lease lapsed")
            }
            leaseGuard.renewed(sentAt: sentAt, ttlSeconds: ttl)
            if advertised != publishedURL { try await publishNode(lease: lease) }
            return
        }
        let granted = try await etcd.grantLease(ttlSeconds: configuration.leaseTTLSeconds)
        try await publishNode(lease: granted)
        lease = granted
        if token == nil { token = try await clusterToken() }
        leaseGuard.renewed(sentAt: sentAt, ttlSeconds: configuration.leaseTTLSeconds)
        logger.info("cluster: node \(configuration.nodeID) joined with lease \(granted)")
    }

    /// This node's key: its id and where it is reached.
    private func publishNode(lease: Int64) async throws {
        var info: [String: Any] = ["id": configuration.nodeID]
        let url = advertised
        if let url { info["url"] = url }
        let value = try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys, .withoutEscapingSlashes])
        try await etcd.put(configuration.nodesPrefix + configuration.nodeID, Array(value), lease: lease)
        publishedURL = url
    }

    /// The cluster's handover secret: the first node to join creates it.
    private func clusterToken() async throws -> String {
        let fresh = SecureRandom.hexToken()
        let (created, entry) = try await etcd.createIfAbsent(configuration.tokenKey, Array(fresh.utf8), lease: 0)
        if created { return fresh }
        guard let entry, !entry.value.isEmpty else { throw EtcdError("\(configuration.tokenKey) exists without a value") }
        return String(decoding: entry.value, as: UTF8.self)
    }

    /// The owner keys after claiming every local number that has none.
    private func claim(_ local: [SenderRecord]) async throws -> [String: EtcdClient.KeyValue] {
        guard let lease else { return [:] }
        var owners: [String: EtcdClient.KeyValue] = [:]
        for kv in try await etcd.range(prefix: configuration.ownersPrefix) {
            owners[String(kv.key.dropFirst(configuration.ownersPrefix.count))] = kv
        }
        var changed = false
        // A number deleted here is given up, for a node that still has it.
        let registered = Set(local.map(\.phoneNumberID))
        for (phone, entry) in owners where entry.lease == lease && !registered.contains(phone) {
            try await etcd.deleteIf(configuration.ownersPrefix + phone, createRevision: entry.createRevision)
            changed = true
            logger.info("cluster: \(phone) is no longer registered here; released")
        }
        let preferred = try await placement(local, lease: lease)
        self.preferred = preferred
        for sender in local where owners[sender.phoneNumberID] == nil {
            let phone = sender.phoneNumberID
            let rounds = freeRounds[phone, default: 0] + 1
            freeRounds[phone] = rounds
            // The node placement prefers claims a free number once every node has had a round
            // to publish it (a number registered everywhere at once is not taken by the
            // fastest); another node only if the preferred one does not.
            guard (preferred[phone] == configuration.nodeID && rounds >= 2) || rounds > configuration.claimGraceRounds else { continue }
            let (created, holder) = try await etcd.createIfAbsent(
                configuration.ownersPrefix + sender.phoneNumberID, Array(configuration.nodeID.utf8), lease: lease)
            freeRounds[phone] = nil
            if created {
                changed = true
                logger.info("cluster: this node now sends for \(sender.phoneNumberID)")
            } else if let holder {
                owners[sender.phoneNumberID] = holder
            }
        }
        guard changed else { return owners }
        // Read back: the revisions (fencing tokens) of what was just created.
        owners = [:]
        for kv in try await etcd.range(prefix: configuration.ownersPrefix) {
            owners[String(kv.key.dropFirst(configuration.ownersPrefix.count))] = kv
        }
        return owners
    }

    /// Publishes this node's numbers (with their tiers) and places every number the
    /// cluster has: phone → the node that should send for it.
    private func placement(_ local: [SenderRecord], lease: Int64) async throws -> [String: String] {
        let mine = Dictionary(local.map { ($0.phoneNumberID, $0.tierMessagesPerSecond) }, uniquingKeysWith: { a, _ in a })
        for (phone, tier) in mine where published[phone] != tier {
            try await etcd.put(configuration.numbersPrefix + phone + "/" + configuration.nodeID, Array(String(tier).utf8), lease: lease)
            published[phone] = tier
        }
        for phone in published.keys where mine[phone] == nil {
            try await etcd.delete(configuration.numbersPrefix + phone + "/" + configuration.nodeID)
            published[phone] = nil
        }
        var numbers: [String: Placement.Number] = [:]
        for kv in try await etcd.range(prefix: configuration.numbersPrefix) {
            let path = kv.key.dropFirst(configuration.numbersPrefix.count).split(separator: "/", maxSplits: 1)
            guard path.count == 2 else { continue }
            let phone = String(path[0])
            let tier = Double(String(decoding: kv.value, as: UTF8.self)) ?? 0
            numbers[phone, default: Placement.Number(phoneNumberID: phone, tierMessagesPerSecond: tier, candidates: [])].candidates.append(String(path[1]))
        }
        return Placement.assign(Array(numbers.values))
    }

    /// Takes the tiers and pauses set elsewhere and publishes the ones set here (`NumberSync`).
    private func syncSettings(_ local: [SenderRecord]) async throws {
        var cluster: [String: NumberSync.Seen] = [:]
        for kv in try await etcd.range(prefix: configuration.settingsPrefix) {
            guard let settings = NumberSync.Settings(json: kv.value) else { continue }
            cluster[String(kv.key.dropFirst(configuration.settingsPrefix.count))] = NumberSync.Seen(settings, revision: kv.modRevision)
        }
        for sender in local {
            let phone = sender.phoneNumberID
            let here = NumberSync.Settings(tier: sender.tierMessagesPerSecond, paused: sender.paused, pauseReason: sender.pauseReason)
            switch NumberSync.step(here: here, there: cluster[phone], agreed: settingsAgreed[phone], afterRestart: !settingsSyncedOnce) {
            case .agree(let seen):
                settingsAgreed[phone] = seen
            case .adopt(let settings):
                do {
                    if settings.tier != here.tier {
                        _ = try await dispatcher.setSenderTier(phoneNumberID: phone, tierMessagesPerSecond: settings.tier)
                        logger.notice("cluster: \(phone) is at \(settings.tier) msg/s, as set on another node (was \(here.tier) here)")
                    }
                    if settings.paused != here.paused || settings.pauseReason != here.pauseReason {
                        _ = try await dispatcher.setSenderPaused(phoneNumberID: phone, paused: settings.paused, reason: settings.pauseReason)
                        logger.notice("cluster: \(phone) \(settings.paused ? "paused (\(settings.pauseReason ?? ""))" : "resumed") on another node; so here too")
                    }
                } catch let error as IntakeError {
                    // Not a tier this node can pace at (written to etcd by hand?): it keeps its own.
                    logger.error("cluster: \(phone)'s settings in etcd are not taken: \(error)")
                }
                settingsAgreed[phone] = cluster[phone]
            case .publish(let settings):
                let revision = try await etcd.put(configuration.settingsPrefix + phone, settings.json, lease: 0)
                settingsAgreed[phone] = NumberSync.Seen(settings, revision: revision)
                if cluster[phone] != nil { logger.notice("cluster: \(phone) changed here (tier \(settings.tier), \(settings.paused ? "paused" : "not paused")); every node takes it") }
            }
        }
        settingsSyncedOnce = true
    }

    /// Publishes this node's subscriptions and mirrors the other nodes' (`SubscriptionSync`).
    private func syncSubscriptions() async throws {
        let prefix = configuration.subscriptionsPrefix
        let published = try await etcd.range(prefix: prefix).compactMap { SubscriptionSync.Published(key: $0.key.dropFirst(prefix.count), value: $0.value) }
        for step in SubscriptionSync.plan(node: configuration.nodeID, local: try dispatcher.subscriptions(), published: published) {
            switch step {
            case .publish(let id, let spec):
                _ = try await etcd.put(prefix + "\(configuration.nodeID)/\(id)", spec.json, lease: 0)
                logger.info("cluster: sub_\(id) published; every node delivers its events to \(spec.url)")
            case .unpublish(let id):
                try await etcd.delete(prefix + "\(configuration.nodeID)/\(id)")
                logger.info("cluster: sub_\(id) was deleted here; the other nodes drop their mirrors")
            case .mirror(let mirror, let spec):
                do {
                    let record = try await dispatcher.createSubscription(
                        url: spec.url, secret: spec.secret, campaign: nil, states: spec.states, events: spec.events, batchMax: spec.batch,
                        origin: spec.campaign.map { CampaignOrigin(node: mirror.node, campaign: $0) }, mirrorOf: mirror)
                    logger.info("cluster: \(record.publicID) mirrors \(mirror): this node's events reach \(spec.url) too")
                } catch is SubscriptionLimitError {
                    guard mirrorsRefused.insert(mirror).inserted else { continue }  // said once
                    logger.error("cluster: \(mirror) is not mirrored here: \(Dispatcher.subscriptionsMax) subscriptions exist on this node")
                }
            case .drop(let id):
                _ = try await dispatcher.deleteSubscription(id: id)
                logger.info("cluster: sub_\(id) dropped: what it mirrored is gone or changed")
            }
        }
    }

    /// Stops sending, lets what is on the wire end, then gives the numbers up at once.
    private func leave() async {
        try? dispatcher.setOwnership([:])
        guard let lease else { return }
        try? await Task.sleep(for: .milliseconds(configuration.sendTimeoutMilliseconds))
        try? await etcd.revokeLease(lease)
        self.lease = nil
        logger.info("cluster: node \(configuration.nodeID) left; its numbers are free")
    }
}
