import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SluiceCrypto
import SluiceCore

/// Posts status webhooks for accepted messages on a schedule, as WhatsApp does: one status
/// per POST by default (`statusesPerPost` above 1 groups a number's due statuses into one
/// body), many POSTs side by side. Statuses that came due join a ready queue; a post
/// starts for each that may go: at most ``postsInFlightMax`` on the wire, and never two for
/// the same message (wamid) at once, so that a message's statuses arrive in their
/// scheduled order (`sent`, `delivered`, `read`, unless `reorderShare` swapped them). One
/// loop task wakes every tick and fills the free slots; a post that is answered takes the
/// next one that may go into its own slot at once. A status whose message is on the wire,
/// or that finds every slot taken, keeps its place for the next chance. Failed posts are
/// retried with backoff; a retried status may then arrive after its message's later ones,
/// as WhatsApp's retries do.
final class StatusWebhookSender: Sendable {
    struct Status: Sendable {
        var phoneNumberID: String
        var wamid: String
        var to: String
        var callbackData: String?
        var status: String
        var attempt: Int
    }

    /// One POST: statuses of one number, in their scheduled order.
    struct Post: Sendable {
        var phoneNumberID: String
        var statuses: [Status]
    }

    private struct State {
        /// Scheduled statuses by tick number (monotonic milliseconds / tick), later than
        /// `movedThroughTick`.
        var buckets: [Int64: [Status]] = [:]
        /// Statuses that came due and wait for a post, oldest first, from `readyHead` on
        /// (the slots before it are spent).
        var ready: [Status] = []
        var readyHead = 0
        /// The tick through which due buckets were moved to `ready`.
        var movedThroughTick: Int64 = 0
        /// Statuses in `buckets` and in `ready`.
        var pending = 0
        /// Posts on the wire, and the messages they carry.
        var postsInFlight = 0
        var wamidsInFlight: Set<String> = []
        var random: SeededGenerator
        var counters = WebhookCounters()
    }

    static let tickMilliseconds: Int64 = 10
    /// Posts on the wire at once. Side by side, a receiver that takes 15 ms per post still
    /// gets the 4 000 statuses a second of a large load test (64 / 15 ms); bounded, one that
    /// stalls is not flooded with connections (the client pools as many).
    static let postsInFlightMax = 64
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
                Self.schedule(
                    Status(phoneNumberID: phoneNumberID, wamid: wamid, to: to, callbackData: callbackData, status: name, attempt: 0),
                    dueAt: at, in: &s)
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
        var http = HTTPClient.Configuration()
        // A connection per post on the wire (HTTP/1.1 pools 8 per host by default).
        http.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = Self.postsInFlightMax
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        // Posts go out side by side: one after another's answer would cap the rate at one
        // per receiver latency. The group waits for the posts on the wire when stopped; a
        // cancelled one is retried after a restart.
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Self.tickMilliseconds))
                if configuration.verifyToken != nil, !counters.subscribed {
                    if await subscribe(client) {
                        state.withLock { $0.counters.subscribed = true }
                    } else {
                        continue
                    }
                }
                let nowTick = Self.monotonicMilliseconds() / Self.tickMilliseconds
                let posts = state.withLock { s in
                    Self.takePosts(from: &s, nowTick: nowTick, perPost: configuration.statusesPerPost, postsMax: Self.postsInFlightMax)
                }
                for post in posts {
                    group.addTask { await self.deliver(post, client: client) }
                }
            }
        }
        try? await client.shutdown()
    }

    /// Posts `first`; once answered, counts it or schedules its statuses again, frees its
    /// messages, and goes on with the next post that may go, in the same slot: a slot
    /// freed between ticks does not wait for the next one. Frees the slot when none may.
    private func deliver(_ first: Post, client: HTTPClient) async {
        var post = first
        let perPost = configuration.statusesPerPost
        while true {
            let acknowledged = await self.post(post.statuses, phoneNumberID: post.phoneNumberID, client: client)
            let kept = acknowledged ? recordDelivered(post.statuses, atNanoseconds: WallClock.nowNanoseconds()) : (delivered: 0, notKept: 0)
            let now = Self.monotonicMilliseconds()
            let stopping = Task.isCancelled
            let answered = post
            let next = state.withLock { s -> Post? in
                s.postsInFlight -= 1
                for status in answered.statuses { s.wamidsInFlight.remove(status.wamid) }
                if acknowledged {
                    s.counters.posts += 1
                    s.counters.statuses += answered.statuses.count
                    s.counters.delivered += kept.delivered
                    s.counters.deliveredNotKept += kept.notKept
                } else {
                    Self.retry(answered.statuses, nowMilliseconds: now, in: &s)
                }
                guard !stopping else { return nil }
                return Self.takePosts(from: &s, nowTick: now / Self.tickMilliseconds, perPost: perPost, postsMax: 1).first
            }
            guard let next else { return }
            post = next
        }
    }

    /// Keeps the `delivered` statuses of a post the receiver acknowledged: how many there
    /// were, and how many of them found no room.
    private func recordDelivered(_ statuses: [Status], atNanoseconds time: Int64) -> (delivered: Int, notKept: Int) {
        var records: [Arrival] = []
        for s in statuses where s.status == "delivered" {
            records.append(Arrival(timeNanoseconds: time, phoneNumberID: s.phoneNumberID, to: s.to, callbackData: s.callbackData, wamid: s.wamid))
        }
        guard !records.isEmpty else { return (0, 0) }
        let notKept = delivered.withLock { list -> Int in
            let room = max(0, Self.deliveredRecordsMax - list.count)
            list.append(contentsOf: records.prefix(room))
            return records.count - min(room, records.count)
        }
        return (records.count, notKept)
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

    /// Moves the statuses that came due to the ready queue, then takes from its head the
    /// posts that may start now, counted in flight: at most `postsMax` and the free slots,
    /// each of one number's statuses (at most `perPost`), none for a message already on
    /// the wire. A status passed over keeps its place, and so do its message's later ones.
    /// The walk stops at the first status that would need a slot when none is left, so it
    /// costs the posts taken plus the few statuses passed over.
    private static func takePosts(from s: inout State, nowTick: Int64, perPost: Int, postsMax: Int) -> [Post] {
        if nowTick > s.movedThroughTick {
            // Oldest tick first: when several came due at once (a slow tick, the subscribe
            // handshake), statuses keep their scheduled order (sent before delivered before read).
            if !s.buckets.isEmpty {
                for tick in s.buckets.keys.filter({ $0 <= nowTick }).sorted() {
                    s.ready.append(contentsOf: s.buckets.removeValue(forKey: tick) ?? [])
                }
            }
            s.movedThroughTick = nowTick
        }
        var room = min(postsMax, postsInFlightMax - s.postsInFlight)
        guard room > 0, s.readyHead < s.ready.count else { return [] }
        var posts: [Post] = []
        // Messages with a status passed over in this walk: their later ones wait behind it.
        var held: Set<String> = []
        var passed: [Status] = []
        // With grouping: each number's post still taking statuses, and the post each
        // message taken in this walk went into (a message may have several in one body).
        var open: [String: Int] = [:]
        var joined: [String: Int] = [:]
        var taken = 0
        var i = s.readyHead
        while i < s.ready.count {
            let status = s.ready[i]
            let wamid = status.wamid
            let onWire = s.wamidsInFlight.contains(wamid)
            if !held.isEmpty, held.contains(wamid) {
                passed.append(status)
            } else if perPost > 1, let p = open[status.phoneNumberID], !onWire || joined[wamid] == p {
                posts[p].statuses.append(status)
                if !onWire {
                    s.wamidsInFlight.insert(wamid)
                    joined[wamid] = p
                }
                if posts[p].statuses.count == perPost { open[status.phoneNumberID] = nil }
                taken += 1
            } else if onWire {
                held.insert(wamid)
                passed.append(status)
            } else if room > 0 {
                room -= 1
                posts.append(Post(phoneNumberID: status.phoneNumberID, statuses: [status]))
                s.wamidsInFlight.insert(wamid)
                if perPost > 1 {
                    open[status.phoneNumberID] = posts.count - 1
                    joined[wamid] = posts.count - 1
                }
                taken += 1
            } else {
                break
            }
            i += 1
        }
        // The passed-over statuses go back in front of the ones not reached, in order.
        let head = i - passed.count
        for (k, status) in passed.enumerated() { s.ready[head + k] = status }
        s.readyHead = head
        if s.readyHead == s.ready.count {
            // Its buffer is kept for the next statuses, unless a backlog had made it large.
            s.ready.removeAll(keepingCapacity: s.ready.capacity <= 65_536)
            s.readyHead = 0
        } else if s.readyHead >= 4_096, s.readyHead * 2 >= s.ready.count {
            s.ready.removeSubrange(0..<s.readyHead)
            s.readyHead = 0
        }
        s.pending -= taken
        s.postsInFlight += posts.count
        return posts
    }

    /// Puts a status in its tick's bucket, or straight in the ready queue when that tick
    /// was already moved.
    private static func schedule(_ status: Status, dueAt: Int64, in s: inout State) {
        let tick = tick(dueAt: dueAt)
        if tick <= s.movedThroughTick {
            s.ready.append(status)
        } else {
            s.buckets[tick, default: []].append(status)
        }
        s.pending += 1
    }

    private static func retry(_ statuses: [Status], nowMilliseconds now: Int64, in s: inout State) {
        s.counters.failures += 1
        for var status in statuses {
            status.attempt += 1
            guard status.attempt < WebhookConfiguration.attemptsMax else {
                s.counters.dropped += 1
                continue
            }
            let delay = min(Int64(100) << min(status.attempt, 10), Int64(WebhookConfiguration.retryDelayMillisecondsMax))
            schedule(status, dueAt: now + delay, in: &s)
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
