import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SluiceCore
import SluiceCrypto
import SluiceEngine

/// How `SubscriberDelivery` paces and bounds its POSTs.
public struct SubscriberDeliveryConfiguration: Sendable {
    /// Backoff after a failed attempt, and when to give up (24 h).
    public var policy = DeliveryPolicy()
    /// Whole request, connect to last byte of the answer.
    public var requestTimeoutMilliseconds: Int64 = 10_000
    /// POSTs on the wire per subscriber.
    public var concurrencyPerSubscription = 8
    /// Events read per page of one subscriber's outbox.
    public var pageMax = 64
    /// Pause between passes over an outbox that had nothing to deliver.
    public var pollIntervalMilliseconds: Int64 = 250
    /// Longest pause of a subscriber whose every attempt of a page failed (then it is
    /// tried again with the next due events), and between passes over a large outbox
    /// that had nothing due.
    public var holdMillisecondsMax: Int64 = 30_000
    /// A pass that delivered nothing waits at least this long per entry it looked at:
    /// a backlog waiting out its backoff is not read over and over (1 000 000 entries,
    /// 4 s between passes).
    public var idleMicrosecondsPerEntry: Int64 = 4

    public init() {}
}

/// Delivers the outbox: for each subscriber a worker POSTs the first waiting event of each
/// message (and of each contact's incoming messages), taken round-robin across lanes
/// (campaigns, numbers) so that one campaign's flood does not delay another's events,
/// signed with the subscriber's secret,
/// and journals the outcome before it looks at that message's next event — so a
/// subscriber sees a message's events, and a contact's messages, in order, and
/// a restart resumes from the journal (delivery is at least once: `event_id` tells a
/// redelivery). Answers other than 2xx and timeouts are retried with exponential,
/// jittered backoff for 24 h, then the event is dead (counted). Redirects are not followed.
///
/// ```swift
/// let delivery = SubscriberDelivery(dispatcher: dispatcher)
/// // in a ServiceGroup after the DispatcherService, so it stops before the journal closes
/// ```
public final class SubscriberDelivery: Service, Sendable {
    public static let signatureHeader = "X-Sluice-Signature-256"
    /// Answer bytes read (and dropped) so that the connection can be reused.
    static let answerBytesMax = 64 * 1024
    /// How often an idle worker looks for newly journaled events (a lock and a compare).
    static let wakeCheckMilliseconds: Int64 = 5

    let dispatcher: Dispatcher
    let configuration: SubscriberDeliveryConfiguration
    let logger: Logger
    private let client: HTTPClient
    /// Subscribers with a worker.
    private let running = Locked<Set<UInt64>>([])
    /// In a cluster, each campaign's origin (fixed when it was made), read once.
    private let origins = Locked<[CampaignID: CampaignOrigin?]>([:])
    static let originsCachedMax = 10_000

    public init(dispatcher: Dispatcher, configuration: SubscriberDeliveryConfiguration = .init(), logger: Logger = Logger(label: "sluice.subscribers")) {
        self.dispatcher = dispatcher
        self.configuration = configuration
        self.logger = logger
        var http = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5)))
        http.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = configuration.concurrencyPerSubscription
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.supervise() }
        try await client.shutdown()
    }

    /// Starts a worker per subscriber, as subscribers appear; a worker ends when its
    /// subscriber is deleted.
    func supervise() async {
        do {
            let purged = try await dispatcher.purgeOrphanedOutbox()
            if purged > 0 { logger.info("purged the outbox entries of \(purged) deleted subscriber(s)") }
        } catch {
            logger.error("purging the outbox of deleted subscribers failed: \(error)")
        }
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                do {
                    for record in try dispatcher.subscriptions() where running.withLock({ $0.insert(record.id).inserted }) {
                        group.addTask {
                            await self.work(record.id)
                            self.running.withLock { _ = $0.remove(record.id) }
                        }
                    }
                } catch {
                    logger.error("reading subscribers failed: \(error)")
                }
                try? await Task.sleep(for: .milliseconds(configuration.pollIntervalMilliseconds))
            }
        }
    }

    /// Passes over one subscriber's outbox until it is deleted or the task is cancelled.
    func work(_ id: UInt64) async {
        var cursor = OutboxCursor()
        var progressed = false
        var passScanned = 0
        var failingPages: UInt32 = 0
        var rng = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            let record: SubscriptionRecord
            let page: OutboxPage
            // Read before the page: events journaled after it wake the wait below.
            let revision = dispatcher.outboxRevision
            do {
                guard let found = try dispatcher.subscription(id: id) else { return }
                record = found
                // Enough heads for every POST on the wire to carry a full batch.
                let limit = max(configuration.pageMax, record.batchMax * configuration.concurrencyPerSubscription)
                page = try dispatcher.outboxHeads(subscription: id, from: cursor, dueMilliseconds: dispatcher.clock.wallMilliseconds(), limit: limit)
            } catch {
                logger.error("reading the outbox of sub_\(id) failed: \(error)")
                try? await Task.sleep(for: .milliseconds(configuration.pollIntervalMilliseconds))
                continue
            }
            let (ready, media) = readyEntries(page.entries)
            if !ready.isEmpty {
                let outcomes = await deliver(ready, to: record, media: media)
                let cancelled = Task.isCancelled
                var settlements: [OutboxSettlement] = []
                var delivered = 0
                let now = dispatcher.clock.wallMilliseconds()
                for (entry, outcome) in zip(ready, outcomes) {
                    let e = entry.event
                    switch outcome {
                    case .delivered:
                        delivered += 1
                        settlements.append(.delivered(entry))
                    case .failed(let reason):
                        // A POST cut short by shutdown is not the subscriber's failure.
                        if cancelled { continue }
                        let attempts = entry.attempts + 1
                        switch configuration.policy.afterFailure(attempts: attempts, eventMilliseconds: e.occurredMilliseconds, nowMilliseconds: now, using: &rng) {
                        case .retry(let at):
                            settlements.append(.failed(entry, attempts: attempts, nextAttemptMilliseconds: at))
                        case .dead:
                            logger.warning("sub_\(id): event \(e.eventID) (\(SubscriberEvent.summary(e))) is dead after \(attempts) attempt(s); last: \(reason)")
                            settlements.append(.dead(entry))
                        }
                    }
                }
                do {
                    try await dispatcher.settleOutbox(settlements)
                } catch {
                    logger.error("journaling deliveries to sub_\(id) failed: \(error); they will be sent again")
                }
                if delivered > 0 {
                    progressed = true
                    failingPages = 0
                } else if !cancelled {
                    // The subscriber fails everything: do not spend the backlog on it.
                    failingPages += 1
                    let hold = min(configuration.policy.envelopeMilliseconds(attempts: failingPages), configuration.holdMillisecondsMax)
                    if failingPages == 1 || failingPages % 10 == 0, case .failed(let reason)? = outcomes.first {
                        logger.warning("sub_\(id) (\(record.url)) failed \(outcomes.count) delivery attempt(s), e.g. \(reason); pausing it \(hold) ms")
                    }
                    try? await Task.sleep(for: .milliseconds(hold))
                }
            }
            passScanned += page.scanned
            if let resume = page.resume {
                cursor = resume
                continue
            }
            cursor = OutboxCursor()
            if !progressed {
                let idle = min(Int64(passScanned) * configuration.idleMicrosecondsPerEntry / 1_000, configuration.holdMillisecondsMax)
                // A short outbox is read again as soon as new events are journaled; a long
                // one (a subscriber down, its backlog waiting out its backoff) on its pace.
                await waitForEvents(
                    since: revision, atMostMilliseconds: max(configuration.pollIntervalMilliseconds, idle),
                    early: idle <= configuration.pollIntervalMilliseconds)
            }
            progressed = false
            passScanned = 0
        }
    }

    /// Sleeps `atMostMilliseconds`, or (`early`) until the outbox has events journaled
    /// after `since`, checked every `wakeCheckMilliseconds`.
    func waitForEvents(since revision: UInt64, atMostMilliseconds: Int64, early: Bool) async {
        guard early else {
            try? await Task.sleep(for: .milliseconds(atMostMilliseconds))
            return
        }
        var waited: Int64 = 0
        while waited < atMostMilliseconds && !Task.isCancelled && dispatcher.outboxRevision == revision {
            try? await Task.sleep(for: .milliseconds(Self.wakeCheckMilliseconds))
            waited += Self.wakeCheckMilliseconds
        }
    }

    /// The entries that can go now, with the media records their events describe: an
    /// incoming message whose media is still downloading waits (and with it only the
    /// later messages of the same contact, which are behind it in the outbox).
    func readyEntries(_ entries: [OutboxEntry]) -> ([OutboxEntry], [String: MediaRecord]) {
        var ready: [OutboxEntry] = []
        var media: [String: MediaRecord] = [:]
        for entry in entries {
            if case .message(let e) = entry.event, let reference = e.message.media {
                let record: MediaRecord?
                do { record = try dispatcher.media(id: reference.id) } catch {
                    logger.error("reading media \(reference.id) failed: \(error)")
                    continue
                }
                if record?.state == .pending { continue }
                if let record { media[record.id] = record }
            }
            ready.append(entry)
        }
        return (ready, media)
    }

    enum Outcome: Equatable {
        case delivered
        case failed(String)
    }

    /// POSTs the entries, `batchMax` per request (heads of distinct messages and contacts,
    /// so a batch never holds two events whose order matters), at most
    /// `concurrencyPerSubscription` requests at a time; one outcome per entry.
    func deliver(_ entries: [OutboxEntry], to record: SubscriptionRecord, media: [String: MediaRecord] = [:]) async -> [Outcome] {
        var outcomes = [Outcome](repeating: .failed("not attempted"), count: entries.count)
        let size = max(1, record.batchMax)
        let batches = stride(from: 0, to: entries.count, by: size).map { $0..<min($0 + size, entries.count) }
        await withTaskGroup(of: (Range<Int>, Outcome).self) { group in
            var next = 0
            func start() {
                let range = batches[next]
                next += 1
                group.addTask { (range, await self.post(Array(entries[range]), to: record, media: media)) }
            }
            while next < min(batches.count, max(1, configuration.concurrencyPerSubscription)) { start() }
            for await (range, outcome) in group {
                for i in range { outcomes[i] = outcome }
                if next < batches.count && !Task.isCancelled { start() }
            }
        }
        return outcomes
    }

    /// The origin of a status event's campaign, when another node handed it over.
    func origin(of event: OutboxEvent) -> CampaignOrigin? {
        guard dispatcher.configuration.nodeID != nil, case .status(let e) = event else { return nil }
        if let known = origins.withLock({ $0[e.campaign] }) { return known }
        let origin: CampaignOrigin?
        do { origin = try dispatcher.campaignProgress(e.campaign)?.options.origin } catch { return nil }  // asked again next time
        origins.withLock {
            if $0.count >= Self.originsCachedMax { $0.removeAll() }
            $0[e.campaign] = .some(origin)
        }
        return origin
    }

    /// One POST: the event itself, or (a subscription with `batch` above 1) `{"events":[…]}`
    /// of up to that many, signed as a whole.
    func post(_ entries: [OutboxEntry], to record: SubscriptionRecord, media: [String: MediaRecord]) async -> Outcome {
        var body: [UInt8]
        if record.batchMax > 1 {
            body = Array(#"{"events":["#.utf8)
            for (i, entry) in entries.enumerated() {
                if i > 0 { body.append(UInt8(ascii: ",")) }
                body += SubscriberEvent.body(entry.event, media: media, node: dispatcher.configuration.nodeID, origin: origin(of: entry.event))
            }
            body += Array("]}".utf8)
        } else {
            body = SubscriberEvent.body(entries[0].event, media: media, node: dispatcher.configuration.nodeID, origin: origin(of: entries[0].event))
        }
        var request = HTTPClientRequest(url: record.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "sluice")
        request.headers.add(name: Self.signatureHeader, value: WebhookSignature.header(secret: Array(record.secret.utf8), body: body))
        request.headers.add(name: "X-Sluice-Event-ID", value: entries.map { String($0.event.eventID) }.joined(separator: ","))
        request.headers.add(name: "X-Sluice-Delivery-Attempt", value: String(entries.map(\.attempts).max()! + 1))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .milliseconds(configuration.requestTimeoutMilliseconds))
            _ = try? await response.body.collect(upTo: Self.answerBytesMax)
            guard (200..<300).contains(response.status.code) else { return .failed("HTTP \(response.status.code)") }
            return .delivered
        } catch {
            return .failed("\(error)")
        }
    }
}

/// The JSON a subscriber receives for one event.
public enum SubscriberEvent {
    /// `media`: the records of the media that message events name, by id. In a cluster
    /// each event says which `node` recorded it (ids are per node).
    /// A status event of a campaign handed over by another node names that `origin`.
    public static func body(_ event: OutboxEvent, media: [String: MediaRecord] = [:], node: String? = nil, origin: CampaignOrigin? = nil) -> [UInt8] {
        switch event {
        case .status(let e): body(e, node: node, origin: origin)
        case .message(let e): body(e, media: e.message.media.flatMap { media[$0.id] }, node: node)
        case .account(let e): body(e, node: node)
        }
    }

    /// For a log line: "message 42, delivered" or "incoming wamid.…".
    static func summary(_ event: OutboxEvent) -> String {
        switch event {
        case .status(let e): "message \(e.message), \(e.state)"
        case .message(let e): "incoming \(e.message.wamid)"
        case .account(let e): "account \(e.update.senderPhoneNumberID), \(e.update.event)"
        }
    }

    /// `{"event_id":"11","type":"account","sender":"1065…","display_phone_number":"1555…",
    /// "event":"THROUGHPUT_UPGRADE","limit":"TIER_UNLIMITED","old_limit":null,"tier_mps":1000,
    /// "messaging_limit":null,"received_at":"2025-06-15T09:30:00.125Z"}`: what WhatsApp
    /// announced, and the number's tier and messaging limit after it.
    public static func body(_ e: AccountEvent, node: String? = nil) -> [UInt8] {
        let u = e.update
        var object: [String: Any] = [
            "event_id": String(e.eventID),
            "type": "account",
            "sender": u.senderPhoneNumberID,
            "display_phone_number": u.displayPhoneNumber,
            "event": u.event,
            "limit": u.limit.map { $0 as Any } ?? NSNull(),
            "old_limit": u.oldLimit.map { $0 as Any } ?? NSNull(),
            "tier_mps": u.tierMessagesPerSecond,
            "messaging_limit": u.messagingLimit.map { $0 as Any } ?? NSNull(),
            "received_at": APIKeyRoutes.timestamp(u.receivedMilliseconds),
            "received_at_ms": u.receivedMilliseconds,
        ]
        if let node { object["node"] = node }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    /// `{"event_id":"9","type":"message","sender":"1065…","from":"9665…","from_user_id":…,
    /// "contact_name":"Amal","wamid":"wamid.…","message_type":"text","timestamp":"1749979800",
    /// "message":{…as WhatsApp sent it…},"media":null,"received_at":"2025-06-15T09:30:00.125Z"}`;
    /// `from_user_id` and `contact_name` only when WhatsApp gave them. For media messages
    /// `media` is `{"id","sha256","mime_type","size","url":"/v1/media/{id}"}`, or
    /// `{"id","mime_type","error"}` when the download was given up.
    public static func body(_ e: InboundEvent, media record: MediaRecord? = nil, node: String? = nil) -> [UInt8] {
        let m = e.message
        var object: [String: Any] = [
            "event_id": String(e.eventID),
            "type": "message",
            "sender": m.senderPhoneNumberID,
            "from": m.from.map { $0 as Any } ?? NSNull(),
            "wamid": m.wamid,
            "message_type": m.type,
            "timestamp": m.timestamp,
            "message": (try? JSONSerialization.jsonObject(with: Data(m.object))) ?? NSNull(),
            "media": m.media.map { MediaRoutes.eventJSON($0, record) as Any } ?? NSNull(),
            "received_at": APIKeyRoutes.timestamp(m.receivedMilliseconds),
            "received_at_ms": m.receivedMilliseconds,
        ]
        if let id = m.fromUserID { object["from_user_id"] = id }
        if let name = m.contactName { object["contact_name"] = name }
        if let node { object["node"] = node }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    /// `{"event_id":"7","type":"message.status","message_id":"42","campaign_id":"3",
    /// "sender":"1065…","recipient":"9665…","status":"delivered","wamid":"wamid.…",
    /// "error":null,"timestamp":"2025-06-15T09:30:00.125Z","timestamp_ms":1749979800125}`;
    /// `error` is `{"code":131026,"message":"…"}` for `failed` (and `unknown`).
    public static func body(_ e: StatusEvent, node: String? = nil, origin: CampaignOrigin? = nil) -> [UInt8] {
        var error: Any = NSNull()
        if e.errorCode != 0 || e.errorMessage != nil {
            var object: [String: Any] = ["code": Int(e.errorCode)]
            if let text = e.errorMessage { object["message"] = text }
            error = object
        }
        var object: [String: Any] = [
            "event_id": String(e.eventID),
            "type": "message.status",
            "message_id": e.message.description,
            "campaign_id": e.campaign.description,
            "sender": e.senderPhoneNumberID,
            "recipient": e.recipient,
            "status": e.state.description,
            "wamid": e.wamid.map { $0 as Any } ?? NSNull(),
            "error": error,
            "timestamp": APIKeyRoutes.timestamp(e.occurredMilliseconds),
            "timestamp_ms": e.occurredMilliseconds,
        ]
        if let node { object["node"] = node }
        if let origin { object["origin"] = ["node": origin.node, "campaign_id": origin.campaign.description] }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }
}
