import Foundation
import Hummingbird
import Logging
import SluiceCrypto
import Synchronization
import SluiceTestSupport
import Testing
import SluiceCore

/// Subscriber delivery through the real binary: statuses come from `sluice mock`'s
/// webhooks, the subscriber is a server in this process on 127.0.0.1.
@Suite(.serialized) struct SubscriptionEndToEndTests {
    static let adminKey = "e2e-admin-key-0123456789"
    static let appSecret = "app-secret-e2e"
    static let hookSecret = "hook-secret-e2e-0123456789"

    /// Answers 503 until `up`, then 204; keeps what it acknowledged.
    final class Subscriber: Sendable {
        struct Event: Sendable {
            var message: String
            var status: String
            var eventID: String
        }
        let up = Atomic<Bool>(false)
        let acknowledged = Locked<[Event]>([])
        let refused = Atomic<Int>(0)
        let badSignatures = Atomic<Int>(0)
    }

    func withSubscriber(_ subscriber: Subscriber, _ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("/events") { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 16)
            let bytes = Array(buffer.readableBytesView)
            let signature = request.headers[.init("X-Sluice-Signature-256")!] ?? ""
            if !WebhookSignature.isValid(header: signature, secret: Array(Self.hookSecret.utf8), body: bytes) {
                subscriber.badSignatures.add(1, ordering: .relaxed)
                return Response(status: .unauthorized)
            }
            guard subscriber.up.load(ordering: .relaxed) else {
                subscriber.refused.add(1, ordering: .relaxed)
                return Response(status: .serviceUnavailable)
            }
            let o = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
            let event = Subscriber.Event(message: o["message_id"] as? String ?? "?", status: o["status"] as? String ?? "?", eventID: o["event_id"] as? String ?? "?")
            subscriber.acknowledged.withLock { $0.append(event) }
            return Response(status: .noContent)
        }
        try await withLoopbackServer(router, label: "subscriber", body)
    }

    func serve(root: String, mockURL: String, port: Int, extra: [String] = []) async throws -> (ChildProcess, String) {
        let serve = try ChildProcess(
            arguments: [
                "serve", "--data-dir", root + "/data", "--listen", "127.0.0.1:\(port)", "--graph-url", mockURL,
                "--ca-file", root + "/mock/mock-cert.pem",
            ] + extra,
            environment: ["SLUICE_ADMIN_KEY": Self.adminKey],
            logPath: root + "/serve-\(UUID().uuidString.prefix(4)).log")
        return (serve, try await serve.waitForLine(prefix: "sluice listening on "))
    }

    func counters(_ api: String) async throws -> [String: Int] {
        let r = try await http("GET", "\(api)/v1/subscriptions/sub_1", key: Self.adminKey)
        let deliveries = try jsonObject(r.body)["deliveries"] as? [String: Any] ?? [:]
        return deliveries.compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    @Test func eventsWaitInTheJournalThroughAKillAndArriveInOrderPerMessage() async throws {
        let subscriber = Subscriber()
        try await withSubscriber(subscriber) { hookPort in
            let port = try freeLoopbackPort()
            let root = try temporaryDirectory("subscriptions")
            let mock = try ChildProcess(
                arguments: [
                    "mock", "--listen", "127.0.0.1:0", "--cert-dir", root + "/mock",
                    "--webhook-url", "http://127.0.0.1:\(port)/webhooks/whatsapp", "--app-secret", Self.appSecret,
                    "--webhook-delays-ms", "10,50,100",
                ],
                logPath: root + "/mock.log")
            let mockURL = String(try await mock.waitForLine(prefix: "mock listening on ").split(separator: " ").first ?? "")
            var (serve, api) = try await serve(root: root, mockURL: mockURL, port: port)

            let sub = try await http("POST", "\(api)/v1/subscriptions", key: Self.adminKey,
                               json: #"{"url":"http://127.0.0.1:\#(hookPort)/events","secret":"\#(Self.hookSecret)"}"#)
            try #require(sub.status == 201, "\(sub.body)")
            let sender = "1065000020"
            let put = try await http("PUT", "\(api)/v1/senders/\(sender)", key: Self.adminKey,
                               json: #"{"tier_mps": 250, "access_token": "token-e2e", "app_secret": "\#(Self.appSecret)"}"#)
            try #require(put.status == 200, "\(put.body)")
            let total = 40
            let recipients = (0..<total).map { #"{"to":"\#(966_530_000_000 + $0)"}"# }.joined(separator: ",")
            let campaign = try await http("POST", "\(api)/v1/campaigns", key: Self.adminKey,
                                    json: #"{"sender":"\#(sender)","message":{"type":"text","text":{"body":"hi"}},"recipients":[\#(recipients)]}"#)
            try #require(campaign.status == 202, "\(campaign.body)")

            // sent (from the send's answer), delivered and read (webhooks) per message;
            // the subscriber refuses them all for now.
            let expected = 3 * total
            var deadline = Date().addingTimeInterval(60)
            while Date() < deadline, await (try counters(api)["pending"] ?? 0) < expected { try await Task.sleep(for: .milliseconds(100)) }
            await #expect(try counters(api)["pending"] == expected)
            // Killed once refusals are journaled: the worker then holds the subscriber
            // before its next page, so no POST is on its way. (Killed mid-page, a POST the
            // subscriber answers after it came up would be delivered again: at least once.)
            while Date() < deadline, await (try counters(api)["failed_attempts"] ?? 0) == 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(subscriber.refused.load(ordering: .relaxed) > 0)
            await #expect((try counters(api)["failed_attempts"] ?? 0) > 0)

            await serve.stop(signal: SIGKILL)
            subscriber.up.store(true, ordering: .relaxed)
            (serve, api) = try await self.serve(root: root, mockURL: mockURL, port: port)
            deadline = Date().addingTimeInterval(60)
            while Date() < deadline, subscriber.acknowledged.withLock({ $0.count }) < expected { try await Task.sleep(for: .milliseconds(100)) }

            let events = subscriber.acknowledged.withLock { $0 }
            #expect(events.count == expected, "acknowledged \(events.count) of \(expected)")
            #expect(Set(events.map(\.eventID)).count == events.count, "no event twice")
            #expect(subscriber.badSignatures.load(ordering: .relaxed) == 0)
            let perMessage = Dictionary(grouping: events, by: \.message).mapValues { $0.map(\.status) }
            #expect(perMessage.count == total)
            for (message, statuses) in perMessage {
                #expect(statuses == ["sent", "delivered", "read"], "message \(message): \(statuses)")
            }
            var final: [String: Int] = [:]
            deadline = Date().addingTimeInterval(10)
            repeat {
                final = try await counters(api)
                if final["pending"] == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            } while Date() < deadline
            #expect(final["pending"] == 0 && final["delivered"] == expected && final["dead"] == 0, "\(final)")
            #expect((final["failed_attempts"] ?? 0) > 0)
            #expect(await serve.stop() == 0, "serve did not exit cleanly: \(serve.stderrTail())")
            await mock.stop()
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    /// Without status webhooks, sent messages end `unknown` at `--status-deadline-hours`
    /// (here 0.0005 h = 1.8 s), counted in the campaign and reported to a subscriber.
    @Test func sentMessagesWithoutStatusesEndUnknownAtTheDeadline() async throws {
        let subscriber = Subscriber()
        subscriber.up.store(true, ordering: .relaxed)
        try await withSubscriber(subscriber) { hookPort in
            let root = try temporaryDirectory("unknown")
            let mock = try ChildProcess(arguments: ["mock", "--listen", "127.0.0.1:0", "--cert-dir", root + "/mock"], logPath: root + "/mock.log")
            let mockURL = String(try await mock.waitForLine(prefix: "mock listening on ").split(separator: " ").first ?? "")
            let (serve, api) = try await serve(root: root, mockURL: mockURL, port: 0, extra: ["--status-deadline-hours", "0.0005"])
            let sub = try await http("POST", "\(api)/v1/subscriptions", key: Self.adminKey,
                               json: #"{"url":"http://127.0.0.1:\#(hookPort)/events","secret":"\#(Self.hookSecret)","states":["unknown"]}"#)
            try #require(sub.status == 201, "\(sub.body)")
            let put = try await http("PUT", "\(api)/v1/senders/1065000030", key: Self.adminKey, json: #"{"tier_mps": 250, "access_token": "token-e2e"}"#)
            try #require(put.status == 200, "\(put.body)")
            let total = 10
            let recipients = (0..<total).map { #"{"to":"\#(966_540_000_000 + $0)"}"# }.joined(separator: ",")
            let campaign = try await http("POST", "\(api)/v1/campaigns", key: Self.adminKey,
                                    json: #"{"sender":"1065000030","message":{"type":"text","text":{"body":"hi"}},"recipients":[\#(recipients)]}"#)
            try #require(campaign.status == 202, "\(campaign.body)")
            let id = try #require(try jsonObject(campaign.body)["id"] as? String)

            var counts: [String: Any] = [:]
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                counts = try jsonObject(try await http("GET", "\(api)/v1/campaigns/\(id)", key: Self.adminKey).body)["counts"] as? [String: Any] ?? [:]
                if (counts["unknown"] as? NSNumber)?.intValue == total { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect((counts["unknown"] as? NSNumber)?.intValue == total, "\(counts)")
            #expect((counts["sent"] as? NSNumber)?.intValue == 0)
            while Date() < deadline, subscriber.acknowledged.withLock({ $0.count }) < total { try await Task.sleep(for: .milliseconds(100)) }
            let events = subscriber.acknowledged.withLock { $0 }
            #expect(events.count == total && events.allSatisfy { $0.status == "unknown" }, "\(events.map(\.status))")
            #expect(await serve.stop() == 0, "serve did not exit cleanly: \(serve.stderrTail())")
            await mock.stop()
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}
