import Foundation
import Hummingbird
import Logging
import SluiceCrypto
import Testing

@testable import SluiceMock
import SluiceCore
import SluiceTestSupport

/// A webhook receiver on 127.0.0.1 that keeps what it was sent and answers the handshake.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var signature: String?
        var body: [UInt8]
        /// When the POST arrived, and when its answer was sent.
        var arrived: ContinuousClock.Instant
        var answered: ContinuousClock.Instant?
    }

    /// One status of a verified, accepted delivery.
    struct Seen: Sendable {
        var post: Int
        var phoneNumberID: String
        var wamid: String
        var status: String
        var callback: String
    }

    let deliveries = Locked<[Delivery]>([])
    let handshakes = Locked(0)
    /// POSTs being answered now, and the most at once.
    let open = Locked<(now: Int, max: Int)>((0, 0))
    /// Answer 503 to the first `failFirst` posts, to exercise the mock's retries.
    let failFirst: Int
    /// Milliseconds to hold the answer to the `n`th POST (from 1).
    let answerAfter: @Sendable (Int) -> Int

    init(failFirst: Int = 0, answerAfter: @escaping @Sendable (Int) -> Int = { _ in 0 }) {
        self.failFirst = failFirst
        self.answerAfter = answerAfter
    }

    func run(_ body: (String) async throws -> Void) async throws {
        let router = Router()
        router.get("hook") { [self] request, _ -> Response in
            let q = request.uri.queryParameters
            guard q["hub.verify_token"].map(String.init) == "verify-me", let challenge = q["hub.challenge"] else {
                return Response(status: .forbidden)
            }
            handshakes.withLock { $0 += 1 }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: String(challenge))))
        }
        router.post("hook") { [self] request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            let signature = request.headers.first(where: { $0.name.canonicalName == "x-hub-signature-256" })?.value
            open.withLock { $0 = ($0.now + 1, max($0.max, $0.now + 1)) }
            let n = deliveries.withLock { list in
                list.append(Delivery(signature: signature, body: Array(buffer.readableBytesView), arrived: .now))
                return list.count
            }
            let hold = answerAfter(n)
            if hold > 0 { try? await Task.sleep(for: .milliseconds(hold)) }
            deliveries.withLock { $0[n - 1].answered = .now }
            open.withLock { $0.now -= 1 }
            return Response(status: n <= failFirst ? .serviceUnavailable : .ok)
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        do {
            try await body("http://127.0.0.1:\(port)/hook")
        } catch {
            task.cancel()
            throw error
        }
        task.cancel()
        _ = await task.result
    }

    /// Every status as (callback, status), from the accepted deliveries whose signature verifies.
    func statuses(secret: String) -> (verified: [(String, String)], badSignatures: Int) {
        var out: [(String, String)] = []
        var bad = 0
        for d in deliveries.withLock({ $0 }).dropFirst(failFirst) {
            guard let signature = d.signature, WebhookSignature.isValid(header: signature, secret: Array(secret.utf8), body: d.body) else {
                bad += 1
                continue
            }
            guard let root = try? JSONSerialization.jsonObject(with: Data(d.body)) as? [String: Any],
                let entry = (root["entry"] as? [[String: Any]])?.first,
                let change = (entry["changes"] as? [[String: Any]])?.first,
                let value = change["value"] as? [String: Any],
                let statuses = value["statuses"] as? [[String: Any]]
            else { continue }
            for s in statuses { out.append((s["biz_opaque_callback_data"] as? String ?? "", s["status"] as? String ?? "")) }
        }
        return (out, bad)
    }

    /// The statuses of each accepted delivery whose signature verifies, by POST (index
    /// into `deliveries`).
    func posts(secret: String) -> [(post: Int, statuses: [Seen])] {
        var out: [(Int, [Seen])] = []
        for (n, d) in deliveries.withLock({ $0 }).enumerated().dropFirst(failFirst) {
            guard let signature = d.signature, WebhookSignature.isValid(header: signature, secret: Array(secret.utf8), body: d.body),
                let root = try? JSONSerialization.jsonObject(with: Data(d.body)) as? [String: Any],
                let entry = (root["entry"] as? [[String: Any]])?.first,
                let change = (entry["changes"] as? [[String: Any]])?.first,
                let value = change["value"] as? [String: Any],
                let phone = (value["metadata"] as? [String: Any])?["phone_number_id"] as? String,
                let statuses = value["statuses"] as? [[String: Any]]
            else { continue }
            out.append((n, statuses.map {
                Seen(post: n, phoneNumberID: phone, wamid: $0["id"] as? String ?? "", status: $0["status"] as? String ?? "",
                     callback: $0["biz_opaque_callback_data"] as? String ?? "")
            }))
        }
        return out
    }
}

@Suite("Status webhooks", .serialized, .timeLimit(.minutes(1)))
struct StatusWebhookTests {
    static let secret = "mock-app-secret"

    /// Statuses come within a second when the machine is quiet; CI's parallel run once
    /// held a retried post past 10 s. The wait ends as soon as the condition holds.
    func waitFor(sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool) async throws {
        try await eventually(within: 30, sourceLocation: sourceLocation) { condition() }
    }

    @Test func signedStatusesFollowEachAcceptedMessageAfterTheHandshake() async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await withConfiguredEndpoint({ configuration in
                var webhook = WebhookConfiguration(url: url, appSecret: Self.secret)
                webhook.verifyToken = "verify-me"
                webhook.sentDelayMilliseconds = 10
                webhook.deliveredDelayMilliseconds = 30
                webhook.readDelayMilliseconds = 60
                configuration.webhook = webhook
            }) { endpoint, running, directory in
                for i in 1...3 {
                    let body = #"{"messaging_product":"whatsapp","to":"1555000000\#(i)","type":"text","text":{"body":"hi"},"biz_opaque_callback_data":"\#(i)"}"#
                    let r = try await Curl.run(Curl.sendArguments(url: running.baseURL + "/v21.0/106540352242922/messages", body: body), in: directory)
                    #expect(r.status == 200)
                }
                // The mock counts a post once its 2xx is back, a moment after the receiver has it.
                try await waitFor { receiver.statuses(secret: Self.secret).verified.count >= 9 && (endpoint.stats().webhooks?.statuses ?? 0) >= 9 }
                let (verified, bad) = receiver.statuses(secret: Self.secret)
                #expect(bad == 0, "every webhook verifies with the app secret")
                #expect(receiver.handshakes.withLock { $0 } >= 1)
                for i in 1...3 {
                    let mine = verified.filter { $0.0 == String(i) }.map(\.1)
                    #expect(mine == ["sent", "delivered", "read"], "message \(i): \(mine)")
                }
                let w = try #require(endpoint.stats().webhooks)
                #expect(w.statuses == 9 && w.subscribed && w.dropped == 0)
                #expect(!receiver.statuses(secret: "other").verified.contains { _ in true }, "a wrong secret verifies nothing")
            }
        }
    }

    @Test func failedPostsAreRetriedAndDuplicatesAppearWhenAsked() async throws {
        let receiver = WebhookReceiver(failFirst: 2)
        try await receiver.run { url in
            try await withConfiguredEndpoint({ configuration in
                var webhook = WebhookConfiguration(url: url, appSecret: Self.secret)
                webhook.sentDelayMilliseconds = 0
                webhook.deliveredDelayMilliseconds = 0
                webhook.readShare = 0
                webhook.duplicateShare = 1
                configuration.webhook = webhook
            }) { endpoint, running, directory in
                let body = #"{"messaging_product":"whatsapp","to":"15550000001","type":"text","text":{"body":"hi"},"biz_opaque_callback_data":"42"}"#
                let r = try await Curl.run(Curl.sendArguments(url: running.baseURL + "/v21.0/106540352242922/messages", body: body), in: directory)
                #expect(r.status == 200)
                try await waitFor { (endpoint.stats().webhooks?.statuses ?? 0) >= 3 }
                let w = try #require(endpoint.stats().webhooks)
                #expect(w.failures >= 1, "the first posts were refused and retried")
                #expect(w.statuses == 3)
                let accepted = receiver.statuses(secret: Self.secret).verified.filter { $0.0 == "42" }.map(\.1)
                #expect(accepted.filter { $0 == "delivered" }.count >= 2, "delivered is duplicated: \(accepted)")
                #expect(accepted.contains("sent"))
            }
        }
    }

    @Test func acknowledgedDeliveriesArePagedWithTheTimeOfThe2xx() async throws {
        // The first two posts are refused: a delivered status counts only once a post carrying it got a 2xx.
        let receiver = WebhookReceiver(failFirst: 2)
        try await receiver.run { url in
            try await withConfiguredEndpoint({ configuration in
                var webhook = WebhookConfiguration(url: url, appSecret: Self.secret)
                webhook.sentDelayMilliseconds = 0
                webhook.deliveredDelayMilliseconds = 40
                webhook.readShare = 0
                configuration.webhook = webhook
            }) { endpoint, running, directory in
                var sentAt: [Int64] = []
                for i in 1...3 {
                    sentAt.append(WallClock.nowNanoseconds())
                    let body = #"{"messaging_product":"whatsapp","to":"1555000000\#(i)","type":"text","text":{"body":"hi"},"biz_opaque_callback_data":"m\#(i)"}"#
                    let r = try await Curl.run(Curl.sendArguments(url: running.baseURL + "/v21.0/106540352242922/messages", body: body), in: directory)
                    #expect(r.status == 200)
                }
                try await waitFor { (endpoint.stats().webhooks?.delivered ?? 0) >= 3 }
                let all = try await Curl.run([running.baseURL + "/__mock/webhooks/delivered"], in: directory)
                #expect(all.status == 200)
                let records = try JSONDecoder().decode([Arrival].self, from: Data(all.body.utf8))
                #expect(records.compactMap(\.callbackData).sorted() == ["m1", "m2", "m3"], "each delivered once: \(records)")
                #expect(records.allSatisfy { $0.phoneNumberID == "106540352242922" })
                #expect(records.map(\.to).sorted() == ["15550000001", "15550000002", "15550000003"])
                let acknowledged = receiver.statuses(secret: Self.secret).verified.filter { $0.1 == "delivered" }.map(\.0).sorted()
                #expect(acknowledged == ["m1", "m2", "m3"], "the receiver acknowledged exactly these")
                for record in records {
                    let i = Int(record.callbackData?.dropFirst() ?? "") ?? 0
                    // Scheduled 40 ms after acceptance, stamped when the 2xx came back.
                    #expect(record.timeNanoseconds >= sentAt[i - 1] + 40_000_000, "\(record)")
                    #expect(record.timeNanoseconds <= WallClock.nowNanoseconds())
                }
                #expect(endpoint.stats().webhooks?.failures ?? 0 >= 1)

                let page = try await Curl.run([running.baseURL + "/__mock/webhooks/delivered?offset=1&limit=1"], in: directory)
                #expect(try JSONDecoder().decode([Arrival].self, from: Data(page.body.utf8)) == [records[1]])
                let past = try await Curl.run([running.baseURL + "/__mock/webhooks/delivered?offset=3"], in: directory)
                #expect(past.body == "[]")
                let bad = try await Curl.run([running.baseURL + "/__mock/webhooks/delivered?limit=100001"], in: directory)
                #expect(bad.status == 400 && bad.errorMessage.contains("limit"))
            }
        }
    }

    @Test func deliveredRecordIs404WithoutWebhooks() async throws {
        try await withConfiguredEndpoint({ _ in }) { _, running, directory in
            let r = try await Curl.run([running.baseURL + "/__mock/webhooks/delivered"], in: directory)
            #expect(r.status == 404)
            #expect(r.errorMessage.contains("webhooks are off"), "\(r.body)")
        }
    }

    // MARK: One status per POST, side by side

    static let phones = ["106540352242922", "106540352242923"]

    /// Schedules `count` accepted messages straight on the endpoint's sender, alternating
    /// over `phones`: much faster than sending each, so that many come due in one tick.
    /// A message's callback data names its number: `PHONE/i`.
    func accept(_ count: Int, on endpoint: MockEndpoint, phones: [String] = Self.phones) throws {
        let webhooks = try #require(endpoint.webhooks)
        for i in 0..<count {
            let phone = phones[i % phones.count]
            webhooks.accepted(phoneNumberID: phone, to: "1555\(String(format: "%07d", i))", callbackData: "\(phone)/\(i)", wamid: "wamid.TEST.\(i)")
        }
    }

    /// Each message's statuses in the order the receiver got them, with duplicates of one
    /// status next to each other folded.
    func orderByMessage(_ posts: [(post: Int, statuses: [WebhookReceiver.Seen])]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (_, statuses) in posts {
            for s in statuses where out[s.wamid]?.last != s.status { out[s.wamid, default: []].append(s.status) }
        }
        return out
    }

    /// For each message, every POST carrying it arrived after the answer to the one before:
    /// never two on the wire at once. The messages that broke this, if any.
    func overlapping(_ receiver: WebhookReceiver) -> [String] {
        let deliveries = receiver.deliveries.withLock { $0 }
        var last: [String: Int] = [:]
        var bad: Set<String> = []
        for (n, statuses) in receiver.posts(secret: Self.secret) {
            for wamid in Set(statuses.map(\.wamid)) {
                if let before = last[wamid], let answered = deliveries[before].answered, deliveries[n].arrived < answered { bad.insert(wamid) }
                last[wamid] = n
            }
        }
        return bad.sorted()
    }

    @Test func oneStatusPerPostByDefault() async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await withConfiguredEndpoint({ configuration in
                var webhook = WebhookConfiguration(url: url, appSecret: Self.secret)
                #expect(webhook.statusesPerPost == 1)
                // All due at once: grouped, they would share bodies.
                (webhook.sentDelayMilliseconds, webhook.deliveredDelayMilliseconds, webhook.readDelayMilliseconds) = (0, 0, 0)
                configuration.webhook = webhook
            }) { endpoint, _, _ in
                try accept(20, on: endpoint)
                try await waitFor { (endpoint.stats().webhooks?.statuses ?? 0) >= 60 }
                let posts = receiver.posts(secret: Self.secret)
                #expect(receiver.statuses(secret: Self.secret).badSignatures == 0)
                #expect(posts.count == 60)
                #expect(posts.allSatisfy { $0.statuses.count == 1 }, "sizes: \(posts.map(\.statuses.count))")
                #expect(posts.allSatisfy { $0.statuses[0].callback.hasPrefix($0.statuses[0].phoneNumberID + "/") })
                let w = try #require(endpoint.stats().webhooks)
                #expect(w.posts == 60 && w.statuses == 60 && w.failures == 0 && w.dropped == 0)
                for (wamid, order) in orderByMessage(posts) { #expect(order == ["sent", "delivered", "read"], "\(wamid): \(order)") }
            }
        }
    }

    @Test func statusesPerPostGroupsEachNumbersStatuses() async throws {
        var invalid = WebhookConfiguration(url: "http://127.0.0.1:1/hook", appSecret: Self.secret)
        for n in [0, WebhookConfiguration.statusesPerPostMax + 1] {
            invalid.statusesPerPost = n
            #expect(throws: MockError.self, "\(n) statuses per post") { try invalid.validate() }
        }
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await withConfiguredEndpoint({ configuration in
                var webhook = WebhookConfiguration(url: url, appSecret: Self.secret)
                webhook.statusesPerPost = 10
                (webhook.sentDelayMilliseconds, webhook.deliveredDelayMilliseconds, webhook.readDelayMilliseconds) = (0, 0, 0)
                configuration.webhook = webhook
            }) { endpoint, _, _ in
                try accept(40, on: endpoint)
                try await waitFor { (endpoint.stats().webhooks?.statuses ?? 0) >= 120 }
                let posts = receiver.posts(secret: Self.secret)
                let sizes = posts.map(\.statuses.count)
                #expect(sizes.reduce(0, +) == 120)
                #expect(sizes.allSatisfy { $0 <= 10 } && sizes.contains { $0 > 1 }, "sizes: \(sizes)")
                // One number's statuses per body, under its own metadata.
                #expect(posts.allSatisfy { post in post.statuses.allSatisfy { $0.callback.hasPrefix(post.statuses[0].phoneNumberID + "/") } })
                #expect(Set(posts.map { $0.statuses[0].phoneNumberID }) == Set(Self.phones))
                let w = try #require(endpoint.stats().webhooks)
                #expect(w.posts == posts.count && w.posts < 120 && w.failures == 0)
                for (wamid, order) in orderByMessage(posts) { #expect(order == ["sent", "delivered", "read"], "\(wamid): \(order)") }
                #expect(overlapping(receiver).isEmpty)
            }
        }
    }

    /// A receiver that takes 200 ms per POST: one after another, 300 statuses would take a
    /// minute; side by side they take about a second.
    @Test func postsGoOutSideBySide() async throws {
        let receiver = WebhookReceiver(answerAfter: { _ in 200 })
        try await receiver.run { url in
            try await withConfiguredEndpoint({ configuration in
                var webhook = WebhookConfiguration(url: url, appSecret: Self.secret)
                (webhook.sentDelayMilliseconds, webhook.deliveredDelayMilliseconds, webhook.readDelayMilliseconds) = (0, 10, 20)
                configuration.webhook = webhook
            }) { endpoint, _, _ in
                let start = ContinuousClock.now
                try accept(100, on: endpoint)
                try await eventually("300 statuses acknowledged", within: 15) { (endpoint.stats().webhooks?.statuses ?? 0) >= 300 }
                let elapsed = ContinuousClock.now - start
                #expect(elapsed < .seconds(15), "300 statuses in \(elapsed)")
                let most = receiver.open.withLock { $0.max }
                // More than the client's default pool of 8 connections a host, at most the bound.
                #expect(most > 8 && most <= StatusWebhookSender.postsInFlightMax, "\(most) posts open at once")
                let posts = receiver.posts(secret: Self.secret)
                #expect(posts.count == 300 && posts.allSatisfy { $0.statuses.count == 1 })
                for (wamid, order) in orderByMessage(posts) { #expect(order == ["sent", "delivered", "read"], "\(wamid): \(order)") }
                #expect(overlapping(receiver).isEmpty)
                let w = try #require(endpoint.stats().webhooks)
                #expect(w.failures == 0 && w.dropped == 0)
            }
        }
    }

    /// All of a message's statuses due at once, answers slow and fast in turn, duplicates:
    /// each message still has one post on the wire at a time, and its statuses arrive in
    /// their scheduled order. Waiting for its message is not a failure.
    @Test func aMessagesStatusesKeepTheirOrder() async throws {
        let receiver = WebhookReceiver(answerAfter: { $0 % 2 == 0 ? 60 : 5 })
        try await receiver.run { url in
            try await withConfiguredEndpoint({ configuration in
                var webhook = WebhookConfiguration(url: url, appSecret: Self.secret)
                // sent and delivered at once, the duplicate 50 ms later, read after it.
                (webhook.sentDelayMilliseconds, webhook.deliveredDelayMilliseconds, webhook.readDelayMilliseconds) = (0, 0, 100)
                webhook.duplicateShare = 0.5
                webhook.reorderShare = 0
                configuration.webhook = webhook
            }) { endpoint, _, _ in
                try accept(80, on: endpoint)
                // 80 × 3 plus the duplicates (about half of 80), all counted by the mock.
                try await waitFor {
                    let posts = receiver.posts(secret: Self.secret)
                    return posts.count >= 240 && endpoint.stats().webhooks?.statuses == posts.count
                        && Set(posts.flatMap { $0.statuses.filter { $0.status == "read" }.map(\.wamid) }).count == 80
                }
                let posts = receiver.posts(secret: Self.secret)
                let duplicated = posts.count - 240
                #expect(duplicated > 10 && duplicated < 70, "\(duplicated) duplicates")
                for (wamid, order) in orderByMessage(posts) { #expect(order == ["sent", "delivered", "read"], "\(wamid): \(order)") }
                #expect(overlapping(receiver).isEmpty, "messages with two posts on the wire at once")
                let w = try #require(endpoint.stats().webhooks)
                #expect(w.failures == 0 && w.dropped == 0 && w.posts == posts.count)
            }
        }
    }
}
