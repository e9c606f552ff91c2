import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceServer
import Testing

/// `phone_number_quality_update` webhooks: found by the display number learnt from the
/// number's other webhooks, verified with its app secret, applied to its tier and
/// messaging limit, journaled, and forwarded as `account` events.
@Suite struct AccountWebhookTests {
    static let key = "account-admin-key-0123456789"
    static let secret = "app-secret-for-account-tests"
    static let headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(key)"]

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> (Int, [String: Any]) {
        try await client.execute(uri: uri, method: method, headers: Self.headers, body: body.map { ByteBuffer(string: $0) }) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    func webhook(_ client: any TestClientProtocol, _ body: String, secret: String = Self.secret) async throws -> (Int, [String: Any]) {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[.init("X-Hub-Signature-256")!] = WebhookSignature.header(secret: Array(secret.utf8), body: Array(body.utf8))
        return try await client.execute(uri: "/webhooks/whatsapp", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    static func quality(display: String, event: String, limits: String) -> String {
        #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1749979800,"changes":[{"field":"phone_number_quality_update","value":{"display_phone_number":"\#(display)","event":"\#(event)",\#(limits)}}]}]}"#
    }

    @Test func aThroughputUpgradeRaisesTheTierAndALimitChangeSetsTheCapBothForwarded() async throws {
        try await withClosedEndpointAPI(prefix: "sluice-account", key: Self.key) { client, dispatcher in
            let (put, _) = try await call(client, .put, "/v1/senders/555", #"{"tier_mps":80,"access_token":"tok","app_secret":"\#(Self.secret)","messaging_limit":250}"#)
            #expect(put == 200)
            let (created, subscription) = try await call(client, .post, "/v1/subscriptions", #"{"url":"http://127.0.0.1:9/acct","events":["account"]}"#)
            #expect(created == 201)
            let subscriptionID = try #require(SubscriptionRecord.id(publicID: subscription["id"] as? String ?? ""))

            // Not yet known by its display number: refused, nothing changes.
            let upgrade = Self.quality(display: "+1 555-0001", event: "THROUGHPUT_UPGRADE", limits: #""current_limit":"TIER_UNLIMITED""#)
            let (unknown, refusal) = try await webhook(client, upgrade)
            #expect(unknown == 401 && (refusal["error"] as? [String: Any])?["code"] as? String == "unknown_sender", "\(refusal)")

            // An incoming message's metadata teaches it.
            #expect(try await webhook(client, WebhookRoutesTests.incomingBody(phone: "555", wamid: "wamid.D1")).0 == 200)
            #expect(try await call(client, .get, "/v1/senders/555").1["display_phone_number"] as? String == "15550001")

            #expect(try await webhook(client, upgrade, secret: "another-apps-secret").0 == 401)
            #expect(try dispatcher.sender(phoneNumberID: "555")?.tierMessagesPerSecond == 80, "a bad signature changed nothing")
            let (applied, answer) = try await webhook(client, upgrade)
            #expect(applied == 200 && (answer["account_updates"] as? NSNumber)?.intValue == 1, "\(answer)")
            let raised = try #require(try dispatcher.sender(phoneNumberID: "555"))
            #expect(raised.tierMessagesPerSecond == 1_000 && raised.messagingLimit == 250, "the throughput level is not a messaging limit")

            let limit = Self.quality(display: "15550001", event: "UPGRADE", limits: #""old_limit":"TIER_250","max_daily_conversations_per_business":"TIER_10K""#)
            #expect(try await webhook(client, limit).0 == 200)
            let (_, stored) = try await call(client, .get, "/v1/senders/555")
            #expect(stored["messaging_limit"] as? Int == 10_000 && stored["tier_mps"] as? Double == 1_000, "\(stored)")

            // Both are in the subscriber's outbox, in order under the number's key.
            var events: [AccountEvent] = []
            for _ in 0..<2 {
                let head = try #require(try dispatcher.outboxHeads(subscription: subscriptionID, dueMilliseconds: .max, limit: 10).entries.first)
                events.append(try #require(head.event.account))
                _ = try await dispatcher.settleOutbox([.delivered(head)])
            }
            #expect(events.map(\.update.event) == ["THROUGHPUT_UPGRADE", "UPGRADE"])
            let body = try #require(try JSONSerialization.jsonObject(with: Data(SubscriberEvent.body(.account(events[1])))) as? [String: Any])
            #expect(body["type"] as? String == "account" && body["sender"] as? String == "555" && body["display_phone_number"] as? String == "15550001")
            #expect(body["limit"] as? String == "TIER_10K" && body["old_limit"] as? String == "TIER_250" && body["messaging_limit"] as? Int == 10_000)
            #expect(body["tier_mps"] as? Double == 1_000)

            // An event Sluice has no setting for is forwarded and changes nothing.
            #expect(try await webhook(client, Self.quality(display: "15550001", event: "FLAGGED", limits: #""current_limit":"TIER_NOT_SET""#)).0 == 200)
            #expect(try dispatcher.sender(phoneNumberID: "555")?.messagingLimit == 10_000)
            // A change without its event is refused as a whole.
            let (bad, malformed) = try await webhook(client, Self.quality(display: "15550001", event: "", limits: #""current_limit":"TIER_2K""#))
            #expect(bad == 400 && (malformed["error"] as? [String: Any])?["field"] as? String == "entry[0].changes[0].value.event", "\(malformed)")
        }
    }
}
