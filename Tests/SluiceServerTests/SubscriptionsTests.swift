import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceServer
import Testing
import SluiceTestSupport

/// Subscriptions through the router, and the outbox delivered to a real receiver on
/// 127.0.0.1, over a real dispatcher and journal. The Cloud API endpoint is a closed
/// port: the statuses come in as webhooks, the way the dispatcher learns them.
@Suite struct SubscriptionsTests {
    static let adminKey = "test-admin-key-0123456789"
    static let appSecret = "app-secret-for-tests"

    func withAPI(_ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "sluice-subs-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"
        configuration.journal.durable = false
        let dispatcher = try Dispatcher(configuration: configuration)
        do {
            let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: Self.adminKey, source: "test"))
            try await Application(router: router).test(.router) { client in try await body(client, dispatcher) }
        } catch {
            await dispatcher.shutdown()
            throw error
        }
        await dispatcher.shutdown()
    }

    struct Answer {
        var status: Int
        var body: [String: Any]
        var text: String
        var errorCode: String? { (body["error"] as? [String: Any])?["code"] as? String }
        var errorField: String? { (body["error"] as? [String: Any])?["field"] as? String }
    }

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, key: String? = SubscriptionsTests.adminKey) async throws -> Answer {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            let data = Data(buffer: response.body)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return Answer(status: Int(response.status.code), body: object, text: String(decoding: data, as: UTF8.self))
        }
    }

    @Test func createListGetDeleteUnderTheirScopes() async throws {
        try await withAPI { client, _ in
            let created = try await call(client, .post, "/v1/subscriptions", json: #"{"url":"https://hooks.example.com/sluice","secret":"0123456789abcdef-secret","states":["read","delivered"]}"#)
            #expect(created.status == 201, "\(created.text)")
            #expect(created.body["id"] as? String == "sub_1")
            #expect(created.body["secret"] as? String == "0123456789abcdef-secret")
            let filter = try #require(created.body["filter"] as? [String: Any])
            #expect(filter["states"] as? [String] == ["delivered", "read"] && filter["campaign"] is NSNull)

            let generated = try await call(client, .post, "/v1/subscriptions", json: #"{"url":"http://127.0.0.1:7000/events"}"#)
            #expect(generated.status == 201, "\(generated.text)")
            let secret = try #require(generated.body["secret"] as? String)
            #expect(secret.hasPrefix("whsec_") && secret.count == 6 + 64)

            let list = try await call(client, .get, "/v1/subscriptions")
            let items = try #require(list.body["subscriptions"] as? [[String: Any]])
            #expect(items.map { $0["id"] as? String } == ["sub_1", "sub_2"])
            #expect(items.allSatisfy { $0["secret"] == nil }, "secrets are shown once, at creation")
            #expect(!list.text.contains("0123456789abcdef-secret") && !list.text.contains(secret))

            let one = try await call(client, .get, "/v1/subscriptions/sub_2")
            #expect(one.status == 200 && one.body["url"] as? String == "http://127.0.0.1:7000/events" && one.body["secret"] == nil)
            let deliveries = try #require(one.body["deliveries"] as? [String: Any])
            #expect(deliveries.keys.sorted() == ["dead", "delivered", "failed_attempts", "pending"])

            // A read-only key lists and reads, but neither creates nor deletes.
            let key = try await call(client, .post, "/v1/keys", json: #"{"name":"reader","scopes":["read"]}"#)
            let reader = try #require(key.body["key"] as? String)
            #expect(try await call(client, .get, "/v1/subscriptions", key: reader).status == 200)
            #expect(try await call(client, .get, "/v1/subscriptions/sub_1", key: reader).status == 200)
            let refused = try await call(client, .post, "/v1/subscriptions", json: #"{"url":"https://x.example"}"#, key: reader)
            #expect(refused.status == 403 && refused.errorCode == "insufficient_scope")
            #expect(try await call(client, .delete, "/v1/subscriptions/sub_1", key: reader).status == 403)
            #expect(try await call(client, .get, "/v1/subscriptions", key: nil).status == 401)

            #expect(try await call(client, .delete, "/v1/subscriptions/sub_1").status == 204)
            #expect(try await call(client, .get, "/v1/subscriptions/sub_1").status == 404)
            #expect(try await call(client, .delete, "/v1/subscriptions/sub_1").status == 404)
            #expect(try await call(client, .get, "/v1/subscriptions/1").status == 404)
            let after = try await call(client, .get, "/v1/subscriptions")
            #expect((after.body["subscriptions"] as? [[String: Any]])?.count == 1)
        }
    }

    @Test func badInputIsRefusedNamingTheFieldAndJournalsNothing() async throws {
        try await withAPI { client, _ in
            let cases: [(String, Int, String?, String)] = [
                (#"{}"#, 400, "url", "invalid_field"),
                (#"{"url": 5}"#, 400, "url", "invalid_field"),
                (#"{"url":"ftp://files.example.com/x"}"#, 400, "url", "invalid_field"),
                (#"{"url":"not a url"}"#, 400, "url", "invalid_field"),
                (#"{"url":"https://"}"#, 400, "url", "invalid_field"),
                (#"{"url":"https://user:pw@hooks.example.com/"}"#, 400, "url", "invalid_field"),
                (#"{"url":"https://hooks.example.com/","secret":"short"}"#, 400, "secret", "invalid_field"),
                (#"{"url":"https://hooks.example.com/","secret":"has spaces in it, sixteen+"}"#, 400, "secret", "invalid_field"),
                (#"{"url":"https://hooks.example.com/","states":[]}"#, 400, "states", "invalid_field"),
                (#"{"url":"https://hooks.example.com/","states":["in_flight"]}"#, 400, "states[0]", "invalid_field"),
                (#"{"url":"https://hooks.example.com/","campaign":"abc"}"#, 400, "campaign", "invalid_field"),
                (#"{"url":"https://hooks.example.com/","campaign":"999"}"#, 422, "campaign", "unknown_campaign"),
                (#"{"url": "https://hooks.example.com/""#, 400, nil, "malformed_json"),
            ]
            for (body, status, field, code) in cases {
                let answer = try await call(client, .post, "/v1/subscriptions", json: body)
                #expect(answer.status == status, "\(body) → \(answer.text)")
                #expect(answer.errorField == field && answer.errorCode == code, "\(body) → \(answer.text)")
            }
            let list = try await call(client, .get, "/v1/subscriptions")
            #expect((list.body["subscriptions"] as? [[String: Any]])?.isEmpty == true)
        }
    }

    @Test func theHundredAndFirstSubscriptionIsAConflict() async throws {
        try await withAPI { client, dispatcher in
            for i in 0..<Dispatcher.subscriptionsMax {
                _ = try await dispatcher.createSubscription(url: "https://hooks.example.com/\(i)", secret: "secret-secret-secret", campaign: nil, states: nil)
            }
            let answer = try await call(client, .post, "/v1/subscriptions", json: #"{"url":"https://hooks.example.com/one-more"}"#)
            #expect(answer.status == 409 && answer.errorCode == "too_many_subscriptions", "\(answer.text)")
            await #expect(throws: SubscriptionLimitError(subscriptionsMax: Dispatcher.subscriptionsMax)) {
                try await dispatcher.createSubscription(url: "https://hooks.example.com/x", secret: "secret-secret-secret", campaign: nil, states: nil)
            }
            #expect(try await call(client, .delete, "/v1/subscriptions/sub_7").status == 204)
            #expect(try await call(client, .post, "/v1/subscriptions", json: #"{"url":"https://hooks.example.com/one-more"}"#).status == 201)
        }
    }

    // MARK: Delivery

    /// What the receiver saw: every request, in arrival order.
    final class Received: Sendable {
        struct Request: Sendable {
            var path: String
            var body: [UInt8]
            var signature: String?
            var attempt: String?
            var answered: Int
        }
        let requests = Locked<[Request]>([])
        /// Answers 500 to the first `failFirst` requests on /hook.
        let failFirst: Int
        /// Time each answer takes (a slow subscriber).
        let answerMilliseconds: Int
        init(failFirst: Int, answerMilliseconds: Int = 0) {
            self.failFirst = failFirst
            self.answerMilliseconds = answerMilliseconds
        }

        /// (campaign id, status) of each event received on `path`, in arrival order.
        func events(path: String = "/hook") -> [(campaign: String, status: String)] {
            requests.withLock { $0 }.filter { $0.path == path }.map {
                let object = ((try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any]) ?? [:]
                return (object["campaign_id"] as? String ?? "?", object["status"] as? String ?? "?")
            }
        }

        func statuses(path: String, answered: Int? = nil) -> [String] {
            requests.withLock { $0 }.filter { $0.path == path && (answered == nil || $0.answered == answered) }.map {
                ((try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any])?["status"] as? String ?? "?"
            }
        }
    }

    /// A subscriber on 127.0.0.1: `/hook` fails its first requests then answers 204;
    /// `/dead` always answers 503.
    func withReceiver(_ received: Received, _ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        @Sendable func record(_ request: Request, _ path: String, _ answer: (Int) -> Int) async throws -> Response {
            let buffer = try await request.body.collect(upTo: 1 << 16)
            let signature = request.headers[.init("X-Sluice-Signature-256")!]
            let attempt = request.headers[.init("X-Sluice-Delivery-Attempt")!]
            let status = received.requests.withLock { list in
                let n = list.filter { $0.path == path }.count
                let status = answer(n)
                list.append(.init(path: path, body: Array(buffer.readableBytesView), signature: signature, attempt: attempt, answered: status))
                return status
            }
            if received.answerMilliseconds > 0 { try await Task.sleep(for: .milliseconds(received.answerMilliseconds)) }
            return Response(status: .init(code: status))
        }
        router.post("/hook") { request, _ in try await record(request, "/hook") { $0 < received.failFirst ? 500 : 204 } }
        router.post("/dead") { request, _ in try await record(request, "/dead") { _ in 503 } }
        try await withLoopbackServer(router, label: "receiver", body)
    }

    /// One message past `queued` (the endpoint is closed, so it is in flight or waiting to retry).
    func message(_ dispatcher: Dispatcher) async throws -> MessageID {
        try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: Self.appSecret)
        _ = try await dispatcher.submitCampaign(
            senderPhoneNumberID: "555", messageObject: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8),
            recipients: [RecipientInput(to: "966500000001")])
        let id = MessageID(1)
        try await eventually("message 1 leaves the queue", within: 20) { try dispatcher.message(id)?.state != .queued }
        return id
    }

    func waitUntil(seconds: Double = 15, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool) async throws {
        try await eventually(within: seconds, sourceLocation: sourceLocation) { try condition() }
    }

    @Test func aFailingReceiverGetsEveryEventInOrderOnceItAnswers() async throws {
        let received = Received(failFirst: 2)
        try await withReceiver(received) { port in
            try await withAPI { _, dispatcher in
                let hook = try await dispatcher.createSubscription(url: "http://127.0.0.1:\(port)/hook", secret: "hook-secret-0123456789", campaign: nil, states: nil)
                let dead = try await dispatcher.createSubscription(url: "http://127.0.0.1:\(port)/dead", secret: "dead-secret-0123456789", campaign: nil, states: [.sent])
                let id = try await message(dispatcher)
                for status in [StatusUpdate.Status.sent, .delivered, .read] {
                    _ = try await dispatcher.applyStatuses([StatusUpdate(message: id, status: status, wamid: "wamid.T1")])
                }

                var configuration = SubscriberDeliveryConfiguration()
                configuration.policy = DeliveryPolicy(delayMillisecondsBase: 20, delayMillisecondsMax: 80, attemptsMax: 3)
                configuration.pollIntervalMilliseconds = 20
                configuration.holdMillisecondsMax = 40
                configuration.requestTimeoutMilliseconds = 2_000
                let delivery = SubscriberDelivery(dispatcher: dispatcher, configuration: configuration)
                let running = Task { try await delivery.run() }
                try await waitUntil {
                    let h = try dispatcher.subscription(id: hook.id)?.counters
                    let d = try dispatcher.subscription(id: dead.id)?.counters
                    return h?.pending == 0 && d?.pending == 0
                }
                running.cancel()
                try await running.value

                // Never the next event of a message before the previous one got its 2xx.
                #expect(received.statuses(path: "/hook") == ["sent", "sent", "sent", "delivered", "read"])
                #expect(received.statuses(path: "/hook", answered: 204) == ["sent", "delivered", "read"])
                let requests = received.requests.withLock { $0 }
                #expect(requests.filter { $0.path == "/hook" }.map(\.attempt) == ["1", "2", "3", "1", "1"])
                for r in requests {
                    let secret = r.path == "/hook" ? "hook-secret-0123456789" : "dead-secret-0123456789"
                    #expect(WebhookSignature.isValid(header: r.signature ?? "", secret: Array(secret.utf8), body: r.body), "\(r.path) signature")
                }
                let firstRequest = try #require(requests.first, "the receiver got no request")
                let first = try #require((try JSONSerialization.jsonObject(with: Data(firstRequest.body))) as? [String: Any])
                #expect(first["message_id"] as? String == "1" && first["campaign_id"] as? String == "1" && first["sender"] as? String == "555")
                #expect(first["recipient"] as? String == "966500000001" && first["wamid"] as? String == "wamid.T1" && first["type"] as? String == "message.status")
                #expect(first["event_id"] is String && first["timestamp"] is String && first["error"] is NSNull)

                #expect(try dispatcher.subscription(id: hook.id)?.counters == DeliveryCounters(pending: 0, delivered: 3, failedAttempts: 2, dead: 0))
                // The filtered subscriber got only `sent`, failed it three times: dead.
                #expect(received.statuses(path: "/dead") == ["sent", "sent", "sent"])
                #expect(try dispatcher.subscription(id: dead.id)?.counters == DeliveryCounters(pending: 0, delivered: 0, failedAttempts: 3, dead: 1))
                #expect(try dispatcher.journalStatistics().outbox == 0)
            }
        }
    }

    /// An idle worker reads its outbox again as soon as an event is journaled, not at its
    /// next poll: with a poll interval of 10 s, each status reaches the subscriber in well
    /// under a second.
    @Test func anIdleWorkerDeliversANewEventAtOnceNotAtItsNextPoll() async throws {
        let received = Received(failFirst: 0)
        try await withReceiver(received) { port in
            try await withAPI { _, dispatcher in
                _ = try await dispatcher.createSubscription(url: "http://127.0.0.1:\(port)/hook", secret: "hook-secret-0123456789", campaign: nil, states: nil)
                let id = try await message(dispatcher)
                var configuration = SubscriberDeliveryConfiguration()
                configuration.pollIntervalMilliseconds = 10_000
                let delivery = SubscriberDelivery(dispatcher: dispatcher, configuration: configuration)
                let running = Task { try await delivery.run() }
                // The worker starts with an empty outbox and goes idle.
                try await Task.sleep(for: .milliseconds(300))
                for (n, status) in [StatusUpdate.Status.sent, .delivered].enumerated() {
                    let journaled = ContinuousClock.now
                    _ = try await dispatcher.applyStatuses([StatusUpdate(message: id, status: status, wamid: "wamid.T2")])
                    try await waitUntil(seconds: 5) { received.requests.withLock { $0.count } == n + 1 }
                    #expect(ContinuousClock.now - journaled < .seconds(2), "\(status) reached the subscriber \(ContinuousClock.now - journaled) after it was journaled")
                }
                running.cancel()
                try await running.value
                #expect(received.statuses(path: "/hook") == ["sent", "delivered"])
            }
        }
    }

    /// `"batch": 10`: up to ten events per POST as `{"events": […]}`, signed as a whole; a
    /// message's statuses still come in order, each in a later POST than the one before.
    @Test func aBatchingSubscriberGetsTenEventsPerPostInOrderPerMessage() async throws {
        let received = Received(failFirst: 0)
        try await withReceiver(received) { port in
            try await withAPI { client, dispatcher in
                let created = try await call(
                    client, .post, "/v1/subscriptions", json: #"{"url":"http://127.0.0.1:\#(port)/hook","secret":"hook-secret-0123456789","batch":10}"#)
                #expect(created.status == 201 && created.body["batch"] as? Int == 10, "\(created.text)")
                let refused = try await call(client, .post, "/v1/subscriptions", json: #"{"url":"http://127.0.0.1:\#(port)/hook","batch":101}"#)
                #expect(refused.status == 400 && (refused.body["error"] as? [String: Any])?["field"] as? String == "batch")
                try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: Self.appSecret)
                _ = try await dispatcher.submitCampaign(
                    senderPhoneNumberID: "555", messageObject: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8),
                    recipients: (0..<30).map { RecipientInput(to: String(966_500_000_100 + $0)) })
                let ids = (1...30).map { MessageID(UInt64($0)) }
                try await eventually("30 messages leave the queue", within: 20) { try ids.allSatisfy { try dispatcher.message($0)?.state != .queued } }
                for status in [StatusUpdate.Status.sent, .delivered, .read] {
                    _ = try await dispatcher.applyStatuses(ids.map { StatusUpdate(message: $0, status: status, wamid: "wamid.B\($0)") })
                }
                var configuration = SubscriberDeliveryConfiguration()
                configuration.pollIntervalMilliseconds = 20
                let delivery = SubscriberDelivery(dispatcher: dispatcher, configuration: configuration)
                let running = Task { try await delivery.run() }
                try await waitUntil { try dispatcher.subscription(id: 1)?.counters.delivered == 90 }
                running.cancel()
                try await running.value

                let requests = received.requests.withLock { $0 }
                #expect(requests.count >= 9 && requests.count <= 30, "\(requests.count) POSTs for 90 events")
                var seen: [String: [String]] = [:]
                for (n, r) in requests.enumerated() {
                    #expect(WebhookSignature.isValid(header: r.signature ?? "", secret: Array("hook-secret-0123456789".utf8), body: r.body))
                    let events = try #require(((try JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any])?["events"] as? [[String: Any]])
                    #expect((1...10).contains(events.count))
                    let messages = events.compactMap { $0["message_id"] as? String }
                    #expect(Set(messages).count == messages.count, "POST \(n) holds two events of one message")
                    for e in events { seen[e["message_id"] as? String ?? "?", default: []].append(e["status"] as? String ?? "?") }
                }
                #expect(seen.count == 30 && seen.values.allSatisfy { $0 == ["sent", "delivered", "read"] }, "\(seen)")
            }
        }
    }

    @Test func deletingASubscriptionDropsItsWaitingEvents() async throws {
        try await withAPI { client, dispatcher in
            let created = try await call(client, .post, "/v1/subscriptions", json: #"{"url":"http://127.0.0.1:9/never"}"#)
            #expect(created.status == 201)
            let id = try await message(dispatcher)
            _ = try await dispatcher.applyStatuses([StatusUpdate(message: id, status: .sent), StatusUpdate(message: id, status: .delivered)])
            let before = try await call(client, .get, "/v1/subscriptions/sub_1")
            #expect((before.body["deliveries"] as? [String: Any])?["pending"] as? Int == 2, "\(before.text)")
            #expect(try dispatcher.journalStatistics().outbox == 2)
            let metrics = try await call(client, .get, "/metrics")
            #expect(metrics.text.contains("\nsluice_outbox_pending 2.0\n"), "\(metrics.text)")
            #expect(metrics.text.contains(#"sluice_subscription_pending{subscription="sub_1"} 2.0"#))
            #expect(try await call(client, .delete, "/v1/subscriptions/sub_1").status == 204)
            #expect(try dispatcher.journalStatistics().outbox == 0)
        }
    }
}
