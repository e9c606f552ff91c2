import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceServer
import Testing

/// Hostile input through the router over a real dispatcher and journal: each gets a clear
/// 4xx naming what was wrong, and nothing is journaled.
@Suite struct APIAbuseTests {
    let api = APIRoutesTests()
    static let sender = "1065000801"

    func send(_ client: any TestClientProtocol, _ uri: String, type: String, _ body: [UInt8], key: String? = APIRoutesTests.key) async throws -> (status: Int, body: [String: Any]) {
        var headers: HTTPFields = [.contentType: type]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: body)) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    func code(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["code"] as? String }

    func campaignCount(_ dispatcher: Dispatcher) throws -> Int { try dispatcher.campaignPage(after: nil, limit: 500, state: nil).campaigns.count }

    func withSender(_ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void) async throws {
        try await api.withAPI { client, dispatcher in
            #expect(try await api.call(client, .put, "/v1/senders/\(Self.sender)", json: #"{"tier_mps":80,"access_token":"t"}"#).status == 200)
            try await body(client, dispatcher)
        }
    }

    @Test("deeply nested JSON is a 400, not a crash")
    func deepJSON() async throws {
        try await withSender { client, dispatcher in
            for depth in [600, 100_000] {
                let body = Array(String(repeating: "[", count: depth).utf8) + Array(String(repeating: "]", count: depth).utf8)
                let answer = try await send(client, "/v1/campaigns", type: "application/json", body)
                #expect(answer.status == 400, "depth \(depth)")
                #expect(code(answer.body) == "malformed_json")
                let header = Array(#"{"sender":"\#(Self.sender)","message":"#.utf8) + body + Array("}\n".utf8)
                let ndjson = try await send(client, "/v1/campaigns", type: "application/x-ndjson", header)
                #expect(ndjson.status == 400, "NDJSON header depth \(depth)")
            }
            #expect(try campaignCount(dispatcher) == 0)
        }
    }

    @Test("invalid UTF-8: a JSON body is a 400; an NDJSON or CSV row is rejected by line, the rest accepted")
    func invalidUTF8() async throws {
        try await withSender { client, dispatcher in
            let bad: [UInt8] = [0xC3, 0x28, 0xFF]
            let json = Array(#"{"sender":"\#(Self.sender)","message":{"type":"text","text":{"body":"hi "#.utf8) + bad + Array(#""}},"recipients":[{"to":"966500000001"}]}"#.utf8)
            let answer = try await send(client, "/v1/campaigns", type: "application/json", json)
            #expect(answer.status == 400)
            #expect(code(answer.body) == "malformed_json")
            #expect(try campaignCount(dispatcher) == 0)

            let ndjson = Array(#"{"sender":"\#(Self.sender)","message":{"type":"text","text":{"body":"{{1}}"}}}"#.utf8) + [0x0A]
                + Array(#"{"to":"966500000001","params":[""#.utf8) + bad + Array(#""]}"#.utf8) + [0x0A]
                + Array(#"{"to":"966500000002","params":["ok"]}"#.utf8) + [0x0A]
            let rows = try await send(client, "/v1/campaigns", type: "application/x-ndjson", ndjson)
            #expect(rows.status == 202)
            #expect(rows.body["accepted"] as? Int == 1 && rows.body["rejected_count"] as? Int == 1)
            #expect((rows.body["rejected"] as? [[String: Any]])?.first?["line"] as? Int == 2)

            let csv = Array("to,name\n966500000003,".utf8) + bad + Array("\n966500000004,Amal\n".utf8)
            let table = try await send(client, "/v1/campaigns?sender=\(Self.sender)&template=t&language=en", type: "text/csv", csv)
            #expect(table.status == 202)
            #expect(table.body["accepted"] as? Int == 1 && table.body["rejected_count"] as? Int == 1, "\(table.body)")
        }
    }

    @Test("many tiny bad rows: counted, the list capped, the answer small")
    func manyTinyRows() async throws {
        try await withSender { client, dispatcher in
            var body = Array(#"{"sender":"\#(Self.sender)","message":{"type":"text","text":{"body":"hi"}}}"#.utf8) + [0x0A]
            body.reserveCapacity(body.count + 400_000)
            for _ in 0..<200_000 { body += [UInt8(ascii: "x"), 0x0A] }
            let answer = try await send(client, "/v1/campaigns", type: "application/x-ndjson", body)
            #expect(answer.status == 422, "no valid row")
            #expect(code(answer.body) == "no_valid_recipients")
            #expect(api.errorMessage(answer.body).contains("200000 rejected"), "\(api.errorMessage(answer.body))")
            // Nothing of it is sent: the campaign was cancelled and its rows discarded.
            let page = try dispatcher.campaignPage(after: nil, limit: 10, state: nil).campaigns
            #expect(page.allSatisfy { $0.state == "cancelled" && $0.total == 0 })
        }
    }

    @Test("path tricks in ids are 404 (or 400) naming the id, never another record")
    func pathTricks() async throws {
        try await withSender { client, _ in
            let posted = try await api.call(client, .post, "/v1/campaigns", json: #"{"sender":"\#(Self.sender)","message":{"type":"text","text":{"body":"hi"}},"recipients":[{"to":"966500000001"}]}"#)
            let id = try #require(posted.body["id"] as? String)
            for path in ["/v1/campaigns/\(id)%2F..", "/v1/campaigns/..%2F\(id)", "/v1/campaigns/+\(id)", "/v1/campaigns/0\(id)x", "/v1/campaigns/-1",
                         "/v1/campaigns/18446744073709551616", "/v1/campaigns/\(String(repeating: "9", count: 4096))"] {
                let answer = try await api.call(client, .get, path)
                #expect(answer.status == 404, "\(path): \(answer.status)")
                #expect(code(answer.body) == "not_found" || answer.body.isEmpty, "\(path)")
            }
            for path in ["/v1/senders/\(Self.sender)%2F..", "/v1/senders/%00", "/v1/senders/\(String(repeating: "1", count: 600))"] {
                let answer = try await api.call(client, .get, path)
                #expect((400...404).contains(answer.status), "\(path): \(answer.status)")
            }
        }
    }

    @Test("a replayed, correctly signed webhook changes nothing more; a forged one is 401")
    func replayedWebhook() async throws {
        try await api.withAPI { client, dispatcher in
            #expect(try await api.call(client, .put, "/v1/senders/\(Self.sender)", json: #"{"tier_mps":80,"access_token":"t","app_secret":"s3cret"}"#).status == 200)
            let posted = try await api.call(client, .post, "/v1/campaigns", json: #"{"sender":"\#(Self.sender)","message":{"type":"text","text":{"body":"hi"}},"recipients":[{"to":"966500000001"}]}"#)
            let campaign = try #require(posted.body["id"] as? String)
            // The message id is the campaign's first; find it through the dispatcher.
            let messageID = try #require(try dispatcher.message(MessageID(1))).id
            let body = Array(#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"\#(Self.sender)"},"statuses":[{"id":"wamid.X","status":"delivered","biz_opaque_callback_data":"\#(messageID)","timestamp":"1"}]}}]}]}"#.utf8)
            let signature = WebhookSignature.header(secret: Array("s3cret".utf8), body: body)
            func post(_ signature: String) async throws -> Int {
                let headers: HTTPFields = [.contentType: "application/json", HTTPFields.Element.Name("X-Hub-Signature-256")!: signature]
                return try await client.execute(uri: "/webhooks/whatsapp", method: .post, headers: headers, body: ByteBuffer(bytes: body)) { Int($0.status.code) }
            }
            // Once staged (in_flight): a status for a message still queued is not applied.
            for _ in 0..<100 where try dispatcher.campaignProgress(CampaignID(UInt64(campaign)!))?.inFlight != 1 {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await post(signature) == 200)
            let first = try #require(try dispatcher.campaignProgress(CampaignID(UInt64(campaign)!)))
            #expect(first.delivered == 1)
            // Meta retries deliveries, so a replay is answered 200 (a 4xx would make it retry
            // forever) and changes nothing: statuses only move forward.
            for _ in 0..<3 { #expect(try await post(signature) == 200) }
            let after = try #require(try dispatcher.campaignProgress(CampaignID(UInt64(campaign)!)))
            #expect(after == first)
            #expect(after.delivered == 1)
            var forged = signature
            forged.removeLast()
            forged += forged.hasSuffix("0") ? "1" : "0"
            #expect(try await post(forged) == 401)
        }
    }
}
