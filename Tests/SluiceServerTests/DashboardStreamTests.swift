import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceEngine
import SluiceMock
import SluiceServer
import SluiceTestSupport
import Testing

/// The dashboard's routes: `GET /v1/stream` over a live `serve` with the mock (events read
/// off a socket), `GET /v1/keys/current`, and the page's files through the router.
@Suite struct DashboardStreamTests {
    static let adminKey = "dashboard-admin-key-0123456789"
    static let appSecret = "dashboard-app-secret"
    static let phone = "1065000031"

    /// The `data` of each whole `state` event in raw stream text (chunked framing
    /// included: each event is one chunk, so its lines stay whole); a line cut off by the
    /// end of a read is left out.
    static func states(_ text: String) -> [[String: Any]] {
        text.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8))) as? [String: Any]
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func theStreamSendsTheCampaignsAndEachSendersHistoryEverySecond() async throws {
        try await ServeMockStack.run(prefix: "sluice-stream", appSecret: Self.appSecret, adminKey: Self.adminKey) { stack in
            try stack.mock.register(phoneNumberID: Self.phone, sender: MockSender(accessToken: "token"))
            try await stack.dispatcher.putSender(phoneNumberID: Self.phone, tierMessagesPerSecond: 50, accessToken: "token", appSecret: Self.appSecret)
            // The sampler's first reading of the sender is its baseline: sends before it
            // would be missing from the history.
            let seen = try await eventually("the sampler has seen the sender", within: 10) { stack.history.samples(Self.phone) != nil }
            try #require(seen)
            let message = Array(#"{"type":"text","text":{"body":"Hi {{1}}"}}"#.utf8)
            var ids: [String] = []
            for n in 0..<3 {
                let recipients = (0..<20).map { RecipientInput(to: "\(966_550_000_000 + n * 100 + $0)", params: ["n\($0)"]) }
                ids.append(try await stack.dispatcher.submitCampaign(senderPhoneNumberID: Self.phone, messageObject: message, recipients: recipients).id.description)
            }

            let stream = try await RawHTTPClient.openStream(port: stack.servePort, path: "/v1/stream", bearer: Self.adminKey)
            defer { stream.closeNormally() }
            let first = try await stream.readUntil("\n\n", count: 3)
            let head = first.prefix { $0 != "\r" }
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(first.prefix(300))")
            #expect(first.lowercased().contains("content-type: text/event-stream"))
            #expect(first.contains("event: state\ndata: {"))

            // Within a few seconds: every message sent, the history holding them.
            var state: [String: Any] = [:]
            let done = try await eventually("the stream shows the campaigns done and the sends in the history", within: 30) {
                guard let last = Self.states(try await stream.readUntil("\n\n", count: 1)).last else { return false }
                state = last
                let campaigns = state["campaigns"] as? [[String: Any]] ?? []
                let sender = (state["senders"] as? [[String: Any]])?.first
                let history = sender?["history"] as? [String: Any]
                let sent = (history?["sent"] as? [Int] ?? []).reduce(0, +)
                return campaigns.count == 3 && campaigns.allSatisfy { $0["state"] as? String == "done" } && sent == 60
            }
            #expect(done, "\(state)")
            let campaigns = try #require(state["campaigns"] as? [[String: Any]])
            #expect(campaigns.compactMap { $0["id"] as? String } == ids.reversed(), "newest first")
            #expect((campaigns.first?["counts"] as? [String: Any])?["queued"] as? Int == 0)
            #expect(campaigns.first?["failures"] is [Any] && campaigns.first?["eta_seconds"] != nil)
            let sender = try #require((state["senders"] as? [[String: Any]])?.first)
            #expect(sender["phone_number_id"] as? String == Self.phone && (sender["tier_mps"] as? NSNumber)?.doubleValue == 50)
            #expect(sender["effective_mps"] != nil && sender["in_flight"] != nil && sender["paused"] as? Bool == false)
            let history = try #require(sender["history"] as? [String: Any])
            #expect(history["last_second"] is Int)
            let throttled = try #require(history["throttled"] as? [Int])
            #expect(throttled.count == (history["sent"] as? [Int])?.count && throttled.allSatisfy { $0 == 0 })
            #expect(state["time"] is String)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func streamsAreBoundedAndAStreamLeftByItsClientGivesItsPlaceBack() async throws {
        try await ServeMockStack.run(prefix: "sluice-streams", appSecret: Self.appSecret, adminKey: Self.adminKey) { stack in
            var open: [RawHTTPClient] = []
            defer { for client in open { client.closeNormally() } }
            for _ in 0..<32 {
                let client = try await RawHTTPClient.openStream(port: stack.servePort, path: "/v1/stream", bearer: Self.adminKey)
                open.append(client)
                _ = try await client.readUntil("event: state", count: 1)
            }
            let refused = JSONAnswer(try await RawHTTPClient.get(port: stack.servePort, path: "/v1/stream", bearer: Self.adminKey))
            #expect(refused.status == 503 && (refused.json["error"] as? [String: Any])?["code"] as? String == "too_many_streams", "\(refused.json)")
            // One client goes away: its stream ends at its next write, and a new one fits.
            open.removeFirst().abort()
            var reopened: RawHTTPClient?
            let fits = try await eventually("a stream fits again after a client left", within: 15, every: 200) {
                let client = try await RawHTTPClient.openStream(port: stack.servePort, path: "/v1/stream", bearer: Self.adminKey)
                let text = try await client.readUntil("\r\n\r\n", count: 1)
                guard text.hasPrefix("HTTP/1.1 200") else {
                    client.closeNormally()
                    return false
                }
                reopened = client
                return true
            }
            #expect(fits)
            if let reopened { open.append(reopened) }
        }
    }

    @Test func theStreamAndTheCurrentKeyNeedAKeyAndTheStreamTheReadScope() async throws {
        try await withClosedEndpointAPI(prefix: "sluice-stream-keys", key: Self.adminKey) { client, _ in
            func call(_ method: HTTPRequest.Method, _ path: String, key: String?, json: String? = nil) async throws -> (status: HTTPResponse.Status, body: [String: Any]) {
                var headers: HTTPFields = [:]
                if let key { headers[.authorization] = "Bearer \(key)" }
                if json != nil { headers[.contentType] = "application/json" }
                let (status, body) = try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) {
                    ($0.status, $0.body)
                }
                return (status, (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:])
            }
            let created = try await call(.post, "/v1/keys", key: Self.adminKey, json: #"{"name": "submitter", "scopes": ["submit", "admin"]}"#)
            let submitter = try #require(created.body["key"] as? String)
            let submitterID = try #require(created.body["id"] as? String)

            #expect(try await call(.get, "/v1/stream", key: nil).status == .unauthorized)
            #expect(try await call(.get, "/v1/stream", key: "sk_key_0000_bad").status == .unauthorized)
            let refused = try await call(.get, "/v1/stream", key: submitter)
            #expect(refused.status == .forbidden && (refused.body["error"] as? [String: Any])?["code"] as? String == "insufficient_scope")

            let admin = try await call(.get, "/v1/keys/current", key: Self.adminKey)
            #expect(admin.status == .ok)
            #expect(admin.body["id"] as? String == "admin" && admin.body["scopes"] as? [String] == APIKeyScope.allCases.sorted().map(\.rawValue))
            let own = try await call(.get, "/v1/keys/current", key: submitter)
            #expect(own.status == .ok && own.body["id"] as? String == submitterID && own.body["scopes"] as? [String] == ["admin", "submit"], "\(own.body)")
            let wrong = try await call(.get, "/v1/keys/current", key: "not-a-key")
            #expect(wrong.status == .unauthorized && (wrong.body["error"] as? [String: Any])?["message"] as? String == "the API key is not valid")
            #expect(try await call(.get, "/v1/keys/current", key: nil).status == .unauthorized)
        }
    }

    @Test func thePageIsServedWithoutAKeyAndLoadsNothingFromElsewhere() async throws {
        try await withClosedEndpointAPI(prefix: "sluice-dashboard-page", key: Self.adminKey) { client, _ in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .found && response.headers[.location] == "/ui/")
            }
            try await client.execute(uri: "/ui", method: .get) { response in
                #expect(response.status == .found && response.headers[.location] == "/ui/")
            }
            let page = try await client.execute(uri: "/ui/", method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                return String(buffer: response.body)
            }
            #expect(page.contains(#"<script src="/ui/dashboard.js""#) && page.contains(#"href="/ui/dashboard.css""#))
            for (file, type) in [("dashboard.js", "text/javascript; charset=utf-8"), ("dashboard.css", "text/css; charset=utf-8")] {
                let text = try await client.execute(uri: "/ui/\(file)", method: .get) { response in
                    #expect(response.status == .ok && response.headers[.contentType] == type, "\(file)")
                    // The SVG namespace names, it is never fetched.
                    return String(buffer: response.body).replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
                }
                // Offline: no address of another host anywhere in the page's files.
                #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "\(file)")
            }
            #expect(!page.contains("http://") && !page.contains("https://"))
            try await client.execute(uri: "/ui/secrets.txt", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
