import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceEngine
import SluiceServer
import Testing

/// The HTTP API through Hummingbird's router, over a real dispatcher and a real LMDB
/// journal in a temporary directory. The endpoint is a closed loopback port: these tests
/// are about intake, not sending.
@Suite struct APIRoutesTests {
    static let key = "test-admin-key-0123456789"

    func withAPI(_ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "sluice-api-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"
        configuration.journal.durable = false
        let dispatcher = try Dispatcher(configuration: configuration)
        let credential = AdminCredential(key: Self.key, source: "test")
        let app = Application(router: try APIRoutes.router(dispatcher: dispatcher, credential: credential))
        do {
            try await app.test(.router) { client in try await body(client, dispatcher) }
        } catch {
            await dispatcher.shutdown()
            throw error
        }
        await dispatcher.shutdown()
    }

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, key: String? = APIRoutesTests.key) async throws -> (status: Int, body: [String: Any]) {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        headers[.contentType] = "application/json"
        return try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            let data = Data(buffer: response.body)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return (Int(response.status.code), object)
        }
    }

    func errorField(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["field"] as? String }
    func errorMessage(_ body: [String: Any]) -> String { (body["error"] as? [String: Any])?["message"] as? String ?? "" }

    @Test func everyV1RouteNeedsTheAdminKey() async throws {
        try await withAPI { client, _ in
            let none = try await call(client, .get, "/v1/campaigns/1", key: nil)
            #expect(none.status == 401)
            let wrong = try await call(client, .put, "/v1/senders/123", json: #"{"tier_mps":80,"access_token":"t"}"#, key: "not-the-key-000000000")
            #expect(wrong.status == 401)
            #expect((wrong.body["error"] as? [String: Any])?["code"] as? String == "unauthorized")
            let health = try await call(client, .get, "/healthz", key: nil)
            #expect(health.status == 200)
        }
    }

    @Test func campaignsArePagedInIdOrderAndFilteredByState() async throws {
        try await withAPI { client, _ in
            #expect(try await call(client, .put, "/v1/senders/1065000901", json: #"{"tier_mps":80,"access_token":"t"}"#).status == 200)
            var ids: [String] = []
            for n in 0..<5 {
                let posted = try await call(client, .post, "/v1/campaigns",
                    json: #"{"sender":"1065000901","message":{"type":"text","text":{"body":"hi"}},"recipients":[{"to":"96650000090\#(n)"}]}"#)
                #expect(posted.status == 202)
                ids.append(try #require(posted.body["id"] as? String))
            }
            var seen: [String] = []
            var after: String?
            var pages = 0
            repeat {
                let page = try await call(client, .get, "/v1/campaigns?limit=2" + (after.map { "&after=\($0)" } ?? ""))
                #expect(page.status == 200)
                let list = try #require(page.body["campaigns"] as? [[String: Any]])
                #expect(list.count <= 2)
                seen += list.compactMap { $0["id"] as? String }
                after = page.body["next"] as? String
                pages += 1
            } while after != nil && pages < 10
            #expect(seen == ids, "every campaign once, in id order")
            #expect(pages == 3)

            let active = try await call(client, .get, "/v1/campaigns?state=active")
            #expect((active.body["campaigns"] as? [[String: Any]])?.count == 5)
            let done = try await call(client, .get, "/v1/campaigns?state=done")
            #expect((done.body["campaigns"] as? [[String: Any]])?.isEmpty == true)
            #expect(done.body["next"] is NSNull)

            for (query, field) in [("limit=0", "limit"), ("limit=501", "limit"), ("after=x", "after"), ("state=stopped", "state")] {
                let bad = try await call(client, .get, "/v1/campaigns?" + query)
                #expect(bad.status == 400, "\(query)")
                #expect(errorField(bad.body) == field, "\(query)")
            }
        }
    }

    @Test func senderRegistrationValidatesEachField() async throws {
        try await withAPI { client, dispatcher in
            let cases: [(String, String, String)] = [
                ("/v1/senders/123", #"{"access_token":"t"}"#, "tier_mps"),
                ("/v1/senders/123", #"{"tier_mps":"fast","access_token":"t"}"#, "tier_mps"),
                ("/v1/senders/123", #"{"tier_mps":true,"access_token":"t"}"#, "tier_mps"),
                ("/v1/senders/123", #"{"tier_mps":0,"access_token":"t"}"#, "tier_mps"),
                ("/v1/senders/123", #"{"tier_mps":1001,"access_token":"t"}"#, "tier_mps"),
                ("/v1/senders/123", #"{"tier_mps":80}"#, "access_token"),
                ("/v1/senders/123", #"{"tier_mps":80,"access_token":""}"#, "access_token"),
                ("/v1/senders/12a", #"{"tier_mps":80,"access_token":"t"}"#, "phone_number_id"),
            ]
            for (uri, json, field) in cases {
                let r = try await call(client, .put, uri, json: json)
                #expect(r.status == 400, "\(json)")
                #expect(errorField(r.body) == field, "\(json) → \(r.body)")
            }
            let malformed = try await call(client, .put, "/v1/senders/123", json: "{tier_mps: 80")
            #expect(malformed.status == 400)
            #expect((malformed.body["error"] as? [String: Any])?["code"] as? String == "malformed_json")
            #expect(try dispatcher.senders().isEmpty, "a rejected registration journals nothing")

            let ok = try await call(client, .put, "/v1/senders/123", json: #"{"tier_mps":1,"access_token":"tok"}"#)
            #expect(ok.status == 200)
            #expect((ok.body["tier_mps"] as? NSNumber)?.doubleValue == 1)
            let changed = try await call(client, .put, "/v1/senders/123", json: #"{"tier_mps":250,"access_token":"tok2"}"#)
            #expect(changed.status == 200)
            let stored = try #require(try dispatcher.sender(phoneNumberID: "123"))
            #expect(stored.tierMessagesPerSecond == 250)
            #expect(stored.accessToken == "tok2")
            #expect(try dispatcher.senders().count == 1)
            let fetched = try await call(client, .get, "/v1/senders/123")
            #expect(fetched.status == 200 && (fetched.body["tier_mps"] as? NSNumber)?.doubleValue == 250)
            #expect(fetched.body["access_token"] == nil, "the token is never echoed")
            #expect(try await call(client, .get, "/v1/senders/999").status == 404)
        }
    }

    @Test func campaignIntakeRejectsBadInputAndJournalsNothing() async throws {
        try await withAPI { client, dispatcher in
            _ = try await call(client, .put, "/v1/senders/555", json: #"{"tier_mps":80,"access_token":"tok"}"#)
            let message = #"{"type":"text","text":{"body":"Hi {{1}}"}}"#
            let cases: [(String, Int, String)] = [
                (#"{"message":\#(message),"recipients":[{"to":"966500000001","params":["a"]}]}"#, 400, "sender"),
                (#"{"sender":"555","recipients":[{"to":"966500000001","params":["a"]}]}"#, 400, "message"),
                (#"{"sender":"555","message":\#(message)}"#, 400, "recipients"),
                (#"{"sender":"555","message":\#(message),"recipients":[]}"#, 400, "recipients"),
                (#"{"sender":"555","message":\#(message),"recipients":[{"params":["a"]}]}"#, 400, "recipients[0].to"),
                (#"{"sender":"555","message":\#(message),"recipients":[{"to":"966500000001","params":[1]}]}"#, 400, "recipients[0].params[0]"),
                (#"{"sender":"555","message":{"text":{"body":"x"}},"recipients":[{"to":"966500000001"}]}"#, 400, "message"),
                (#"{"sender":"777","message":\#(message),"recipients":[{"to":"966500000001","params":["a"]}]}"#, 422, "sender"),
                (#"{"sender":"555","message":\#(message),"recipients":[{"to":"12","params":["a"]}]}"#, 422, "recipients"),
            ]
            for (json, status, field) in cases {
                let r = try await call(client, .post, "/v1/campaigns", json: json)
                #expect(r.status == status, "\(json) → \(r.body)")
                #expect(errorField(r.body) == field, "\(json) → \(r.body)")
                #expect(!errorMessage(r.body).isEmpty)
            }
            #expect(try dispatcher.campaignProgress(CampaignID(1)) == nil, "nothing was journaled")
            #expect(try await call(client, .get, "/v1/campaigns/1").status == 404)
            #expect(try await call(client, .get, "/v1/campaigns/abc").status == 404)
        }
    }

    @Test func oversizedCampaignBodyIsRefused() async throws {
        try await withAPI { client, _ in
            let padding = String(repeating: "x", count: APIRoutes.campaignBodyBytesMax + 1)
            let r = try await call(client, .post, "/v1/campaigns", json: #"{"sender":"555","pad":"\#(padding)"}"#)
            #expect(r.status == 413)
        }
    }

    @Test func acceptedCampaignReportsRejectionsAndProgress() async throws {
        try await withAPI { client, _ in
            _ = try await call(client, .put, "/v1/senders/555", json: #"{"tier_mps":80,"access_token":"tok"}"#)
            let json = #"""
            {"sender":"555","message":{"type":"template","template":{"name":"t","language":{"code":"en"},
             "components":[{"type":"body","parameters":[{"type":"text","text":"{{1}}"},{"type":"text","text":"{{2}}"}]}]}},
             "recipients":[{"to":"966500000001","params":["a","b"]},{"to":"966500000002","params":["a"]},
                           {"to":"+96650000000","params":["a","b"]},{"to":"966500000003","params":["c","d"]}]}
            """#
            let r = try await call(client, .post, "/v1/campaigns", json: json)
            #expect(r.status == 202)
            #expect((r.body["accepted"] as? NSNumber)?.intValue == 2)
            let rejected = try #require(r.body["rejected"] as? [[String: Any]])
            #expect(rejected.compactMap { ($0["index"] as? NSNumber)?.intValue } == [1, 2])
            let id = try #require(r.body["id"] as? String)
            let progress = try await call(client, .get, "/v1/campaigns/\(id)")
            #expect(progress.status == 200)
            #expect((progress.body["total"] as? NSNumber)?.intValue == 2)
            let counts = try #require(progress.body["counts"] as? [String: Any])
            for key in ["queued", "in_flight", "sent", "failed", "in_doubt"] { #expect(counts[key] != nil, "counts.\(key)") }
        }
    }
}
