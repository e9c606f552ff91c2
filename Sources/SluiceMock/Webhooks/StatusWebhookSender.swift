import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SluiceCrypto
import SluiceCore

/// Posts status webhooks for accepted messages on a schedule: one loop task wakes every
/// tick, takes the statuses that came due, groups them per phone number into bodies of at
/// most `statusesPerPostMax`, signs and posts them. Failed posts are retried with backoff.
final class StatusWebhookSender: Sendable {
    struct Status: Sendable {
        var phoneNumberID: String
        var wamid: String
        var to: String
        var callbackData: String?
        var status: String
        var attempt: Int
    }

    private struct State {
        /// Due statuses by tick number (monotonic milliseconds / tick).
        var buckets: [Int64: [Status]] = [:]
        var pending = 0
        var random: SeededGenerator
        var counters = WebhookCounters()
    }

    static let tickMilliseconds: Int64 = 10
    /// Delivered statuses kept for `GET /__mock/webhooks/delivered`; later ones are counted, not kept.
    static let deliveredRecordsMax = 5_000_000

    let configuration: WebhookConfiguration
    private let state: Locked<State>
    private let logger: Logger
    private let loop = Locked<Task<Void, Never>?>(nil)
    /// Every `delivered` status the receiver acknowledged with 2xx, stamped with the wall
    /// time of that answer, oldest first (bounded by ``deliveredRecordsMax``).
    private let delivered = Locked<[Arrival]>([])

    init(configuration: WebhookConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.state = Locked(State(random: SeededGenerator(seed: configuration.seed)))
    }

    var counters: WebhookCounters { state.withLock { $0.counters } }

    /// Schedules the statuses of one accepted message.
    func accepted(phoneNumberID: String, to: String, callbackData: String?, wamid: String) {
        let now = Self.monotonicMilliseconds()
        let c = configuration
        state.withLock { s in
            var sentAt = now + Int64(c.sentDelayMilliseconds)
            var deliveredAt = now + Int64(c.deliveredDelayMilliseconds)
            if s.random.unit() < c.reorderShare { swap(&sentAt, &deliveredAt) }
            var due: [(Int64, String)] = [(sentAt, "sent"), (deliveredAt, "delivered")]
            if s.random.unit() < c.duplicateShare { due.append((deliveredAt + 50, "delivered")) }
            if s.random.unit() < c.readShare { due.append((now + Int64(c.readDelayMilliseconds), "read")) }
            for (at, name) in due {
                guard s.pending < WebhookConfiguration.pendingMax else {
                    s.counters.dropped += 1
                    continue
                }
                s.buckets[Self.tick(dueAt: at), default: []].append(
                    Status(phoneNumberID: phoneNumberID, wamid: wamid, to: to, callbackData: callbackData, status: name, attempt: 0))
                s.pending += 1
            }
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
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Self.tickMilliseconds))
            if configuration.verifyToken != nil, !counters.subscribed {
                if await subscribe(client) {
                    state.withLock { $0.counters.subscribed = true }
                } else {
                    continue
                }
            }
            let due = takeDue()
            guard !due.isEmpty else { continue }
            var byPhone: [String: [Status]] = [:]
            for status in due { byPhone[status.phoneNumberID, default: []].append(status) }
            for (phone, statuses) in byPhone {
                var start = 0
                while start < statuses.count {
                    let chunk = Array(statuses[start..<min(start + WebhookConfiguration.statusesPerPostMax, statuses.count)])
                    start += chunk.count
                    if await post(chunk, phoneNumberID: phone, client: client) {
                        recordDelivered(chunk, atNanoseconds: WallClock.nowNanoseconds())
                        state.withLock {
                            $0.counters.posts += 1
                            $0.counters.statuses += chunk.count
                        }
                    } else {
                        retry(chunk)
                    }
                }
            }
        }
        try? await client.shutdown()
    }

    /// Keeps the `delivered` statuses of a post the receiver acknowledged.
    private func recordDelivered(_ statuses: [Status], atNanoseconds time: Int64) {
        var records: [Arrival] = []
        for s in statuses where s.status == "delivered" {
            records.append(Arrival(timeNanoseconds: time, phoneNumberID: s.phoneNumberID, to: s.to, callbackData: s.callbackData, wamid: s.wamid))
        }
        guard !records.isEmpty else { return }
        let dropped = delivered.withLock { list -> Int in
            let room = max(0, Self.deliveredRecordsMax - list.count)
            list.append(contentsOf: records.prefix(room))
            return records.count - min(room, records.count)
        }
        state.withLock {
            $0.counters.delivered += records.count
            $0.counters.deliveredNotKept += dropped
        }
    }

    /// Up to `limit` acknowledged `delivered` statuses after the first `offset`, oldest first.
    func deliveries(offset: Int, limit: Int) -> [Arrival] {
        precondition(offset >= 0 && limit >= 0)
        return delivered.withLock { list in
            guard offset < list.count else { return [] }
            return Array(list[offset..<min(list.count, offset + limit)])
        }
    }

    /// The first tick at or after `dueAt` (ms): a status never leaves before its delay.
    static func tick(dueAt: Int64) -> Int64 {
        (dueAt + tickMilliseconds - 1) / tickMilliseconds
    }

    private func takeDue() -> [Status] {
        let nowTick = Self.monotonicMilliseconds() / Self.tickMilliseconds
        return state.withLock { s in
            var due: [Status] = []
            // Oldest tick first: when several came due at once (a slow tick, the subscribe
            // handshake), statuses keep their scheduled order (sent before delivered before read).
            for tick in s.buckets.keys.filter({ $0 <= nowTick }).sorted() {
                due.append(contentsOf: s.buckets.removeValue(forKey: tick) ?? [])
            }
            s.pending -= due.count
            return due
        }
    }

    private func retry(_ statuses: [Status]) {
        let now = Self.monotonicMilliseconds()
        state.withLock { s in
            s.counters.failures += 1
            for var status in statuses {
                status.attempt += 1
                guard status.attempt < WebhookConfiguration.attemptsMax else {
                    s.counters.dropped += 1
                    continue
                }
                let delay = min(Int64(100) << min(status.attempt, 10), Int64(WebhookConfiguration.retryDelayMillisecondsMax))
                s.buckets[Self.tick(dueAt: now + delay), default: []].append(status)
                s.pending += 1
            }
        }
    }

    private func post(_ statuses: [Status], phoneNumberID: String, client: HTTPClient) async -> Bool {
        switch await configuration.post(Self.body(statuses, phoneNumberID: phoneNumberID), client: client) {
        case .success(let status) where (200..<300).contains(status):
            return true
        case .success(let status):
            logger.debug("webhook answered \(status)")
            return false
        case .failure(let error):
            logger.debug("webhook post failed: \(error)")
            return false
        }
    }

    private func subscribe(_ client: HTTPClient) async -> Bool {
        guard let token = configuration.verifyToken else { return true }
        let challenge = String(UInt32.random(in: 1_000_000...UInt32.max))
        var components = URLComponents(string: configuration.url)
        components?.queryItems = [
            URLQueryItem(name: "hub.mode", value: "subscribe"),
            URLQueryItem(name: "hub.verify_token", value: token),
            URLQueryItem(name: "hub.challenge", value: challenge),
        ]
        guard let url = components?.string else { return false }
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1024)
            return response.status.code == 200 && String(buffer: body) == challenge
        } catch {
            return false
        }
    }

    /// `{"object":"whatsapp_business_account","entry":[{"id":…,"changes":[{"field":"messages","value":{…,"statuses":[…]}}]}]}`
    static func body(_ statuses: [Status], phoneNumberID: String) -> [UInt8] {
        let timestamp = String(Int(Date().timeIntervalSince1970))
        var b = Array(#"{"object":"whatsapp_business_account","entry":[{"id":"0","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"#.utf8)
        JSONText.appendString(MockDisplayNumber.of(phoneNumberID), to: &b)
        b.append(contentsOf: #","phone_number_id":"#.utf8)
        JSONText.appendString(phoneNumberID, to: &b)
        b.append(contentsOf: #"},"statuses":["#.utf8)
        for (i, s) in statuses.enumerated() {
            if i > 0 { b.append(UInt8(ascii: ",")) }
            b.append(contentsOf: #"{"id":"#.utf8)
            JSONText.appendString(s.wamid, to: &b)
            b.append(contentsOf: #","status":"#.utf8)
            JSONText.appendString(s.status, to: &b)
            b.append(contentsOf: #","timestamp":"#.utf8)
            JSONText.appendString(timestamp, to: &b)
            b.append(contentsOf: #","recipient_id":"#.utf8)
            JSONText.appendString(s.to, to: &b)
            if let callback = s.callbackData {
                b.append(contentsOf: #","biz_opaque_callback_data":"#.utf8)
                JSONText.appendString(callback, to: &b)
            }
            b.append(UInt8(ascii: "}"))
        }
        b.append(contentsOf: "]}}]}]}".utf8)
        return b
    }

    static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// What the status-webhook sender did so far.
public struct WebhookCounters: Sendable, Equatable {
    /// Webhook POSTs the receiver answered with 2xx.
    public var posts = 0
    /// Statuses in those posts.
    public var statuses = 0
    /// POSTs that failed (their statuses are retried with backoff).
    public var failures = 0
    /// Statuses given up on (queue full or out of attempts).
    public var dropped = 0
    /// Whether the subscribe handshake succeeded (false when none is configured).
    public var subscribed = false
    /// `delivered` statuses the receiver acknowledged with 2xx (duplicates included).
    public var delivered = 0
    /// Of those, the ones past ``StatusWebhookSender/deliveredRecordsMax`` that were counted but not kept.
    public var deliveredNotKept = 0
}
