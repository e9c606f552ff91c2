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
    }

    let deliveries = Locked<[Delivery]>([])
    let handshakes = Locked(0)
    /// Answer 503 to the first `failFirst` posts, to exercise the mock's retries.
    let failFirst: Int

    init(failFirst: Int = 0) { self.failFirst = failFirst }

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
            let n = deliveries.withLock { list in
                list.append(Delivery(signature: signature, body: Array(buffer.readableBytesView)))
                return list.count
            }
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
}
