import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceCrypto

/// Simulated customers writing to every registered number: signed incoming-message
/// webhooks, one message per POST as Meta mostly sends them, at
/// `inboundMessagesPerSecond` per number, from a pool of contacts, cycling through every
/// Cloud API message type. Media messages name a file the mock holds (`MockMediaStore`),
/// which the receiver fetches like Meta's. A failed post is retried with backoff, so a
/// message may arrive late and out of order, as Meta's do.
final class InboundMessageSender: Sendable {
    /// One incoming message the receiver acknowledged.
    struct Posted: Sendable {
        var wamid: String
        var phoneNumberID: String
        var from: String
        var type: String
        var mediaID: String?
        /// Wall-clock nanoseconds of the first post: when the message took its place in
        /// the number's throughput window.
        var postedNanoseconds: Int64 = 0
        /// Wall-clock nanoseconds of the 2xx.
        var acknowledgedNanoseconds: Int64
    }

    struct Counters: Sendable, Equatable {
        var posted = 0
        var failures = 0
        var dropped = 0
    }

    /// Every type the Cloud API delivers, in the order the sender cycles through them.
    static let types = [
        "text", "image", "interactive", "video", "location", "audio", "button", "document", "reaction", "sticker", "contacts", "order",
        "system", "unsupported",
    ]
    static let contactsPerNumber = 20
    static let tickMilliseconds: Int64 = 10
    static let postedKeptMax = 1_000_000
    /// Posts on the wire at once, over all numbers.
    static let postsInFlightMax = 64

    private struct Pending {
        var body: [UInt8]
        var posted: Posted
        var attempt: Int
        var dueMilliseconds: Int64
    }

    private struct State {
        var random: SeededGenerator
        var credit: [String: Double] = [:]
        var sequence = 0
        var retries: [Pending] = []
        var counters = Counters()
    }

    let configuration: WebhookConfiguration
    private let book: SenderBook
    private let media: MockMediaStore
    private let logger: Logger
    private let state: Locked<State>
    private let posted = Locked<[Posted]>([])
    private let loop = Locked<Task<Void, Never>?>(nil)
    /// Posts on the wire, and the contacts they are for.
    private let posting = Locked<(count: Int, contacts: Set<String>)>((0, []))

    init(configuration: WebhookConfiguration, book: SenderBook, media: MockMediaStore, logger: Logger) {
        self.configuration = configuration
        self.book = book
        self.media = media
        self.logger = logger
        state = Locked(State(random: SeededGenerator(seed: configuration.seed &+ 1)))
    }

    var counters: Counters { state.withLock { $0.counters } }

    /// Acknowledged messages after the first `offset`, oldest first.
    func acknowledged(offset: Int, limit: Int) -> [Posted] {
        posted.withLock { list in
            guard offset < list.count else { return [] }
            return Array(list[offset..<min(list.count, offset + limit)])
        }
    }

    func start() {
        loop.withLock { task in
            guard task == nil else { return }
            task = Task { await self.run() }
        }
    }

    func stop() async {
        let task = loop.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
    }

    private func run() async {
        var http = HTTPClient.Configuration()
        // A connection per post on the wire (HTTP/1.1 pools 8 per host by default).
        http.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = Self.postsInFlightMax
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        // Meta posts a number's messages side by side, not one after another's answer: a
        // receiver that takes 30 ms per post still sees them at the rate they were written.
        // A contact's next message waits for the answer to its last.
        await withDiscardingTaskGroup { group in
            var last = StatusWebhookSender.monotonicMilliseconds()
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Self.tickMilliseconds))
                let now = StatusWebhookSender.monotonicMilliseconds()
                let elapsed = Double(now - last) / 1_000
                last = now
                for var item in due(elapsedSeconds: elapsed, nowMilliseconds: now) {
                    if Task.isCancelled { break }
                    // One post per contact at a time, so that a contact's messages arrive in order.
                    let key = item.posted.phoneNumberID + "/" + item.posted.from
                    let admitted = posting.withLock { p -> Bool in
                        guard p.count < Self.postsInFlightMax, !p.contacts.contains(key) else { return false }
                        p.count += 1
                        p.contacts.insert(key)
                        return true
                    }
                    guard admitted else {
                        // It waits for the next tick, as due.
                        state.withLock { $0.retries.append(item) }
                        continue
                    }
                    if item.attempt == 0 {
                        item.posted.postedNanoseconds = WallClock.nowNanoseconds()
                        book.noteInbound(phoneNumberID: item.posted.phoneNumberID, from: item.posted.from, time: item.posted.postedNanoseconds)
                    }
                    group.addTask {
                        await self.deliver(item, client: client)
                        self.posting.withLock { p in
                            p.count -= 1
                            p.contacts.remove(key)
                        }
                    }
                }
            }
        }
        try? await client.shutdown()
    }

    private func deliver(_ item: Pending, client: HTTPClient) async {
        if await post(item.body, client: client) {
            var p = item.posted
            p.acknowledgedNanoseconds = WallClock.nowNanoseconds()
            posted.withLock { if $0.count < Self.postedKeptMax { $0.append(p) } }
            state.withLock { $0.counters.posted += 1 }
        } else {
            retry(item, nowMilliseconds: StatusWebhookSender.monotonicMilliseconds())
        }
    }

    /// Retries that came due, then new messages for the time that passed.
    private func due(elapsedSeconds: Double, nowMilliseconds: Int64) -> [Pending] {
        let numbers = book.senders().keys.sorted()
        let rate = configuration.inboundMessagesPerSecond
        var out: [Pending] = []
        var fresh: [(phone: String, sequence: Int, from: String)] = []
        state.withLock { s in
            out = s.retries.filter { $0.dueMilliseconds <= nowMilliseconds }
            s.retries.removeAll { $0.dueMilliseconds <= nowMilliseconds }
            for phone in numbers {
                // At most a second's worth after a stall: a slow receiver is not flooded.
                var credit = min(s.credit[phone, default: 0] + rate * elapsedSeconds, max(1, rate))
                while credit >= 1 {
                    credit -= 1
                    let contact = Int(s.random.next() % UInt64(Self.contactsPerNumber))
                    fresh.append((phone, s.sequence, "9715\(String(format: "%08d", contact))"))
                    s.sequence += 1
                }
                s.credit[phone] = credit
            }
        }
        for f in fresh { out.append(make(phone: f.phone, sequence: f.sequence, from: f.from)) }
        return out
    }

    private func retry(_ item: Pending, nowMilliseconds: Int64) {
        state.withLock { s in
            s.counters.failures += 1
            var again = item
            again.attempt += 1
            guard again.attempt < WebhookConfiguration.attemptsMax else {
                s.counters.dropped += 1
                return
            }
            again.dueMilliseconds = nowMilliseconds + min(Int64(100) << min(again.attempt, 10), Int64(WebhookConfiguration.retryDelayMillisecondsMax))
            s.retries.append(again)
        }
    }

    private func post(_ body: [UInt8], client: HTTPClient) async -> Bool {
        switch await configuration.post(body, client: client) {
        case .success(let status): return (200..<300).contains(status)
        case .failure(let error):
            logger.debug("inbound webhook post failed: \(error)")
            return false
        }
    }

    /// The `sequence`th message of the run: its type by turn, media stored when it has any.
    private func make(phone: String, sequence: Int, from: String) -> Pending {
        let type = Self.types[sequence % Self.types.count]
        let wamid = "wamid.MOCKIN\(phone.suffix(6)).\(sequence)"
        var mediaID: String?
        var message: [String: Any] = ["from": from, "id": wamid, "timestamp": String(Int(Date().timeIntervalSince1970)), "type": type]
        if let kind = MediaKind(rawValue: type) {
            let (mime, size) = Self.sample(kind)
            var generator = SeededGenerator(seed: UInt64(sequence) &* 0x9E37_79B9_7F4A_7C15)
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if let item = media.put(phoneNumberID: phone, mimeType: mime, bytes: bytes) {
                mediaID = item.id
                var object: [String: Any] = ["id": item.id, "mime_type": mime, "sha256": Data(Digest.sha256(bytes)).base64EncodedString()]
                if kind == .image || kind == .video || kind == .document { object["caption"] = "\(type) \(sequence)" }
                if kind == .document { object["filename"] = "invoice-\(sequence).pdf" }
                if kind == .audio { object["voice"] = sequence % 2 == 0 }
                if kind == .sticker { object["animated"] = false }
                message[type] = object
            } else {
                message["type"] = "text"
                message["text"] = ["body": "(the mock's media store is full)"]
            }
        } else {
            message[type] = Self.object(type: type, sequence: sequence, from: from)
            if type == "unsupported" {
                message.removeValue(forKey: type)
                message["errors"] = [["code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                                      "error_data": ["details": "Message type is currently not supported."]]]
            }
        }
        if type == "button" || sequence % 7 == 3 { message["context"] = ["from": phone, "id": "wamid.MOCKCTX.\(sequence)"] }
        let value: [String: Any] = [
            "messaging_product": "whatsapp",
            "metadata": ["display_phone_number": MockDisplayNumber.of(phone), "phone_number_id": phone],
            "contacts": [["profile": ["name": "Customer \(from.suffix(2))"], "wa_id": from, "user_id": "US.\(from)"]],
            "messages": [message],
        ]
        let root: [String: Any] = ["object": "whatsapp_business_account", "entry": [["id": "0", "changes": [["field": "messages", "value": value]]]]]
        let body = (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])).map { Array($0) } ?? []
        let posted = Posted(wamid: wamid, phoneNumberID: phone, from: from, type: type, mediaID: mediaID, acknowledgedNanoseconds: 0)
        return Pending(body: body, posted: posted, attempt: 0, dueMilliseconds: 0)
    }

    /// A MIME type and a small size for each kind (within Meta's limits).
    static func sample(_ kind: MediaKind) -> (String, Int) {
        switch kind {
        case .image: ("image/jpeg", 24_000)
        case .video: ("video/mp4", 64_000)
        case .audio: ("audio/ogg", 12_000)
        case .document: ("application/pdf", 40_000)
        case .sticker: ("image/webp", 8_000)
        }
    }

    static func object(type: String, sequence: Int, from: String) -> Any {
        switch type {
        case "text": ["body": sequence % 5 == 0 ? "STOP" : "Hello \(sequence)"]
        case "location": ["latitude": 24.7136, "longitude": 46.6753, "name": "Kingdom Centre", "address": "Riyadh"]
        case "contacts": [["name": ["formatted_name": "Amal Saleh", "first_name": "Amal"], "phones": [["phone": "+966500000001", "type": "CELL", "wa_id": "966500000001"]]]]
        case "interactive":
            sequence % 2 == 0
                ? ["type": "button_reply", "button_reply": ["id": "confirm", "title": "Confirm"]]
                : ["type": "list_reply", "list_reply": ["id": "slot-2", "title": "10:00", "description": "Tomorrow"]]
        case "button": ["payload": "STOP_PROMOTIONS", "text": "Stop promotions"]
        case "reaction": ["message_id": "wamid.MOCKCTX.\(max(0, sequence - 1))", "emoji": "👍"]
        case "order": ["catalog_id": "4711", "text": "Order \(sequence)", "product_items": [["product_retailer_id": "sku-1", "quantity": 2, "item_price": 25, "currency": "SAR"]]]
        case "system": ["body": "User \(from) changed from \(from) to 97150000\(sequence % 10)", "type": "user_changed_number", "new_wa_id": "97150000\(sequence % 10)"]
        default: [String: Any]()
        }
    }
}
