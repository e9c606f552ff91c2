import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceServer
import Testing

/// Opt-outs, the suppression list's routes and the customer window, through the router
/// over a real dispatcher and journal. The endpoint is a closed port: a message that was
/// tried ends `in_flight` or `retry_at`, never `suppressed` or `failed` with 131047.
@Suite struct ContactRoutesTests {
    static let key = "test-admin-key-0123456789"
    static let secret = "app-secret-for-tests"
    static let headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(key)"]

    func withAPI(_ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void) async throws {
        try await withClosedEndpointAPI(prefix: "sluice-contacts", key: Self.key, webhookVerifyToken: "verify-me", body)
    }

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> (Int, [String: Any]) {
        try await client.execute(uri: uri, method: method, headers: Self.headers, body: body.map { ByteBuffer(string: $0) }) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    /// A signed incoming text from `from`, sent now.
    func incoming(_ client: any TestClientProtocol, wamid: String, from: String, text: String) async throws -> Int {
        let now = Int(Date().timeIntervalSince1970)
        let body =
            #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001","phone_number_id":"555"},"contacts":[{"profile":{"name":"Amal"},"wa_id":"\#(from)"}],"messages":[{"from":"\#(from)","id":"\#(wamid)","timestamp":"\#(now)","type":"text","text":{"body":"\#(text)"}}]}}]}]}"#
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[.init("X-Hub-Signature-256")!] = WebhookSignature.header(secret: Array(Self.secret.utf8), body: Array(body.utf8))
        return try await client.execute(uri: "/webhooks/whatsapp", method: .post, headers: headers, body: ByteBuffer(string: body)) { Int($0.status.code) }
    }

    func field(_ answer: [String: Any]) -> String? { (answer["error"] as? [String: Any])?["field"] as? String }

    @Test func contactsOptOutByKeywordOrByTheAPIAndAreNeverSentToAndTheWindowIsEnforced() async throws {
        try await withAPI { client, dispatcher in
            let sender = #"{"tier_mps":80,"access_token":"tok","app_secret":"\#(Self.secret)","customer_window":"enforce","opt_out_keywords":["STOP","basta"]}"#
            let (put, stored) = try await call(client, .put, "/v1/senders/555", sender)
            #expect(put == 200 && stored["customer_window"] as? String == "enforce" && stored["opt_out_keywords"] as? [String] == ["STOP", "basta"], "\(stored)")
            for (bad, name) in [(#""customer_window":"maybe""#, "customer_window"), (#""opt_out_keywords":["START"]"#, "opt_out_keywords"), (#""opt_out_keywords":[1]"#, "opt_out_keywords")] {
                let (status, answer) = try await call(client, .put, "/v1/senders/555", #"{"tier_mps":80,"access_token":"tok",\#(bad)}"#)
                #expect(status == 400 && field(answer) == name, "\(bad): \(answer)")
            }
            let (_, unchanged) = try await call(client, .get, "/v1/senders/555")
            #expect(unchanged["customer_window"] as? String == "enforce" && unchanged["opt_out_keywords"] as? [String] == ["STOP", "basta"])

            // 09 writes a keyword of this sender's; 02 writes something else, which opens its window.
            #expect(try await incoming(client, wamid: "wamid.A", from: "966500000009", text: " BASTA ") == 200)
            #expect(try await incoming(client, wamid: "wamid.B", from: "966500000002", text: "hello") == 200)
            // 01 is put on the list by an operator.
            let (added, one) = try await call(client, .put, "/v1/senders/555/suppressions/966500000001")
            #expect(added == 201 && one["source"] as? String == "api" && one["wa_id"] as? String == "966500000001", "\(one)")
            #expect(try await call(client, .put, "/v1/senders/555/suppressions/966500000001").0 == 200, "already on the list")
            #expect(field(try await call(client, .put, "/v1/senders/555/suppressions/+966500000001").1) == "wa_id")
            #expect(try await call(client, .put, "/v1/senders/556/suppressions/966500000001").0 == 404)
            let (listed, list) = try await call(client, .get, "/v1/senders/555/suppressions?limit=1")
            let first = try #require(list["suppressions"] as? [[String: Any]])
            #expect(listed == 200 && first.count == 1 && list["next_cursor"] is String, "\(list)")
            let cursor = try #require(list["next_cursor"] as? String)
            let (_, rest) = try await call(client, .get, "/v1/senders/555/suppressions?cursor=\(cursor)")
            let second = try #require(rest["suppressions"] as? [[String: Any]])
            #expect(rest["next_cursor"] is NSNull)
            let both = first + second
            #expect(Set(both.compactMap { $0["wa_id"] as? String }) == ["966500000001", "966500000009"])
            #expect(both.first { $0["wa_id"] as? String == "966500000009" }?["source"] as? String == "keyword")
            #expect(try await call(client, .get, "/v1/senders/555/suppressions?cursor=zz").0 == 400)

            // A free-form campaign: 02 is sent, 03 never wrote, 01 and 09 opted out.
            let receipt = try await dispatcher.submitCampaign(
                senderPhoneNumberID: "555", messageObject: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8),
                recipients: ["966500000001", "966500000002", "966500000003", "966500000009"].map { RecipientInput(to: $0) })
            #expect(receipt.accepted == 4)
            let ids = (1...4).map { MessageID(UInt64($0)) }  // the first campaign of a new journal
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, try ids.contains(where: { try dispatcher.message($0)?.state == .queued }) { try await Task.sleep(for: .milliseconds(20)) }
            let states = try ids.map { try dispatcher.message($0) }
            #expect(states[0]?.state == .suppressed && states[3]?.state == .suppressed)
            #expect(states[2]?.state == .failed && states[2]?.errorCode == 131047, "\(String(describing: states[2]))")
            #expect([.inFlight, .retryAt].contains(states[1]?.state), "\(String(describing: states[1]))")
            let (_, campaign) = try await call(client, .get, "/v1/campaigns/\(receipt.id)")
            let counts = try #require(campaign["counts"] as? [String: Any])
            #expect((counts["suppressed"] as? NSNumber)?.intValue == 2 && (counts["failed"] as? NSNumber)?.intValue == 1, "\(counts)")

            // Off the list by the API and by START.
            #expect(try await call(client, .delete, "/v1/senders/555/suppressions/966500000001").0 == 204)
            #expect(try await call(client, .delete, "/v1/senders/555/suppressions/966500000001").0 == 404)
            #expect(try await incoming(client, wamid: "wamid.C", from: "966500000009", text: "start") == 200)
            let (_, empty) = try await call(client, .get, "/v1/senders/555/suppressions")
            #expect((empty["suppressions"] as? [Any])?.isEmpty == true, "\(empty)")
        }
    }
}
