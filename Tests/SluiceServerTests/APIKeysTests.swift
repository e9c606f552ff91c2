import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceServer
import Testing

/// API keys and scopes through the router, over a real dispatcher and LMDB journal in a
/// temporary directory (reopened to show that keys survive a restart).
@Suite struct APIKeysTests {
    static let adminKey = "test-admin-key-0123456789"

    struct Answer {
        var status: Int
        var body: [String: Any]
        var text: String
        var headers: HTTPFields

        var errorCode: String? { (body["error"] as? [String: Any])?["code"] as? String }
        var errorField: String? { (body["error"] as? [String: Any])?["field"] as? String }
        var errorMessage: String { (body["error"] as? [String: Any])?["message"] as? String ?? "" }
    }

    /// Runs `body` against a server over the journal in `directory` (a fresh one, removed
    /// afterwards, when nil).
    func withAPI(directory: String? = nil, _ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void) async throws {
        let dir = directory ?? NSTemporaryDirectory() + "sluice-keys-\(UUID().uuidString.prefix(8))"
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: dir) } }
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

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, key: String? = APIKeysTests.adminKey) async throws -> Answer {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            let data = Data(buffer: response.body)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return Answer(status: Int(response.status.code), body: object, text: String(decoding: data, as: UTF8.self), headers: response.headers)
        }
    }

    /// Creates a key with the admin key; returns its id and token.
    func createKey(_ client: any TestClientProtocol, name: String = "service", scopes: [String]) async throws -> (id: String, token: String) {
        let list = scopes.map { "\"\($0)\"" }.joined(separator: ",")
        let answer = try await call(client, .post, "/v1/keys", json: #"{"name":"\#(name)","scopes":[\#(list)]}"#)
        try #require(answer.status == 201, "\(answer.text)")
        return (try #require(answer.body["id"] as? String), try #require(answer.body["key"] as? String))
    }

    func listedKeys(_ client: any TestClientProtocol) async throws -> [[String: Any]] {
        let answer = try await call(client, .get, "/v1/keys")
        try #require(answer.status == 200, "\(answer.text)")
        return try #require(answer.body["keys"] as? [[String: Any]])
    }

    @Test func aCreatedKeyIsUsableWithinItsScopes() async throws {
        try await withAPI { client, dispatcher in
            let created = try await call(client, .post, "/v1/keys", json: #"{"name":"billing-service","scopes":["read","submit","read"]}"#)
            #expect(created.status == 201, "\(created.text)")
            let id = try #require(created.body["id"] as? String)
            let token = try #require(created.body["key"] as? String)
            #expect(id.hasPrefix("key_") && id.count > 4)
            #expect(token.hasPrefix("sk_\(id)_"), "the token embeds the public id: \(token)")
            #expect(token.count >= "sk_\(id)_".count + 64, "a secret of 32 random bytes, hex")
            #expect(created.body["name"] as? String == "billing-service")
            #expect(created.body["scopes"] as? [String] == ["submit", "read"], "duplicates merged, canonical order")
            let createdAt = try #require(created.body["created_at"] as? String)
            #expect(createdAt.hasSuffix("Z") && createdAt.contains("T"), "ISO 8601 UTC: \(createdAt)")
            #expect(created.headers[.cacheControl] == "no-store")

            // The journal holds a digest, not the secret.
            let stored = try #require(try dispatcher.apiKeys().first)
            #expect(stored.id == id && stored.scopes == [.submit, .read] && stored.revokedMilliseconds == nil)
            let secret = token.dropFirst("sk_\(id)_".count)
            #expect(stored.secretDigest == Digest.sha256(Array(secret.utf8)))

            // The key is accepted where its scopes allow: the answers are the routes' own.
            #expect(try await call(client, .get, "/v1/campaigns/1", key: token).status == 404)
            #expect(try await call(client, .get, "/v1/senders/555", key: token).status == 404)
            let campaign = try await call(client, .post, "/v1/campaigns", json: #"{"sender":"555"}"#, key: token)
            #expect(campaign.status == 400 && campaign.errorField == "message")
            // And refused where they do not.
            let sender = try await call(client, .put, "/v1/senders/555", json: #"{"tier_mps":80,"access_token":"t"}"#, key: token)
            #expect(sender.status == 403)
            #expect(sender.errorCode == "insufficient_scope")
            #expect(sender.errorMessage.contains("'admin'"), "\(sender.errorMessage)")
            #expect(try dispatcher.senders().isEmpty)
        }
    }

    @Test func theSecretIsShownOnlyAtCreation() async throws {
        try await withAPI { client, _ in
            let (id, token) = try await createKey(client, name: "reporting", scopes: ["read"])
            let secret = String(token.split(separator: "_").last!)
            let listed = try await call(client, .get, "/v1/keys")
            #expect(listed.status == 200)
            #expect(!listed.text.contains(secret), "the listing never shows the secret")
            #expect(!listed.text.contains("sk_"), "nor any token")
            let keys = try #require(listed.body["keys"] as? [[String: Any]])
            #expect(keys.count == 1)
            let entry = try #require(keys.first)
            #expect(Set(entry.keys) == ["id", "name", "scopes", "created_at", "revoked_at"], "\(entry.keys)")
            #expect(entry["id"] as? String == id)
            #expect(entry["name"] as? String == "reporting")
            #expect(entry["scopes"] as? [String] == ["read"])
            #expect(entry["revoked_at"] is NSNull)
        }
    }

    @Test func missingBadOrRevokedKeysAre401() async throws {
        try await withAPI { client, dispatcher in
            let (id, token) = try await createKey(client, scopes: ["read"])
            let (otherID, _) = try await createKey(client, scopes: ["read"])
            var flipped = Array(token)
            flipped[flipped.count - 1] = flipped.last == "0" ? "1" : "0"
            let bad: [String?] = [
                nil, "", "not-a-key", "sk_", "sk_\(id)_", "sk_\(id)", String(flipped),
                "sk_\(otherID)_" + token.split(separator: "_").last!, "sk_key_0000000000000000_" + token.split(separator: "_").last!,
                Self.adminKey + "x",
            ]
            for key in bad {
                let answer = try await call(client, .get, "/v1/campaigns/1", key: key)
                #expect(answer.status == 401, "\(key ?? "no header") → \(answer.text)")
                #expect(answer.errorCode == "unauthorized")
            }
            #expect(try await call(client, .get, "/v1/campaigns/1", key: token).status == 404, "the key itself works")

            #expect(try await call(client, .delete, "/v1/keys/\(id)").status == 204)
            let revoked = try await call(client, .get, "/v1/campaigns/1", key: token)
            #expect(revoked.status == 401)
            #expect(revoked.errorMessage.contains("revoked"), "\(revoked.errorMessage)")
            #expect(try await call(client, .delete, "/v1/keys/\(id)").status == 204, "revoking again is harmless")
            let unknown = try await call(client, .delete, "/v1/keys/key_ffffffffffffffff")
            #expect(unknown.status == 404 && unknown.errorField == "id")

            let listed = try await listedKeys(client)
            let entry = try #require(listed.first { $0["id"] as? String == id })
            #expect(entry["revoked_at"] is String, "\(entry)")
            #expect(listed.first { $0["id"] as? String == otherID }?["revoked_at"] is NSNull)
            #expect(try dispatcher.apiKeys().filter { $0.revokedMilliseconds != nil }.map(\.id) == [id])
        }
    }

    @Test func eachRouteFamilyNeedsItsScope() async throws {
        try await withAPI { client, _ in
            _ = try await call(client, .put, "/v1/senders/555", json: #"{"tier_mps":80,"access_token":"tok"}"#)
            let routes: [(HTTPRequest.Method, String, String?, APIKeyScope)] = [
                (.post, "/v1/keys", #"{"name":"n","scopes":["read"]}"#, .admin),
                (.get, "/v1/keys", nil, .admin),
                (.delete, "/v1/keys/key_ffffffffffffffff", nil, .admin),
                (.put, "/v1/senders/555", #"{"tier_mps":80,"access_token":"tok"}"#, .admin),
                (.get, "/v1/senders/555", nil, .read),
                (.post, "/v1/campaigns", #"{"sender":"555"}"#, .submit),
                (.get, "/v1/campaigns/1", nil, .read),
            ]
            for scope in APIKeyScope.allCases {
                let (_, token) = try await createKey(client, name: "only-\(scope.rawValue)", scopes: [scope.rawValue])
                for (method, uri, json, needed) in routes {
                    let answer = try await call(client, method, uri, json: json, key: token)
                    if scope == needed {
                        #expect(![401, 403].contains(answer.status), "\(scope) key, \(method) \(uri) → \(answer.text)")
                    } else {
                        #expect(answer.status == 403, "\(scope) key, \(method) \(uri) → \(answer.text)")
                        #expect(answer.errorCode == "insufficient_scope")
                        #expect(answer.errorMessage.contains("'\(needed.rawValue)'"), "\(answer.errorMessage)")
                    }
                }
            }
            // The bootstrap admin key holds every scope.
            for (method, uri, json, _) in routes {
                let answer = try await call(client, method, uri, json: json)
                #expect(![401, 403].contains(answer.status), "admin key, \(method) \(uri) → \(answer.text)")
            }
            // Health and the webhook path need no key.
            #expect(try await call(client, .get, "/healthz", key: nil).status == 200)
            let webhook = try await call(client, .get, "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1", key: nil)
            #expect(webhook.status != 401, "\(webhook.text)")
        }
    }

    @Test func keysSurviveARestart() async throws {
        let dir = NSTemporaryDirectory() + "sluice-keys-restart-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tokens = Tokens()
        try await withAPI(directory: dir) { client, _ in
            let kept = try await createKey(client, name: "kept", scopes: ["submit"])
            let gone = try await createKey(client, name: "gone", scopes: ["read"])
            #expect(try await call(client, .delete, "/v1/keys/\(gone.id)").status == 204)
            tokens.set(kept: kept.token, gone: gone.token)
        }
        let (kept, gone) = tokens.get()
        try await withAPI(directory: dir) { client, dispatcher in
            #expect(try dispatcher.apiKeys().count == 2)
            let used = try await call(client, .post, "/v1/campaigns", json: #"{"sender":"555"}"#, key: kept)
            #expect(used.status == 400, "the kept key still authenticates: \(used.text)")
            #expect(try await call(client, .get, "/v1/campaigns/1", key: kept).status == 403, "with the same scopes")
            #expect(try await call(client, .get, "/v1/campaigns/1", key: gone).status == 401, "a revoked key stays revoked")
            let listed = try await listedKeys(client)
            #expect(Set(listed.compactMap { $0["name"] as? String }) == ["kept", "gone"])
        }
    }

    @Test func badCreationBodiesAre400AndStoreNothing() async throws {
        try await withAPI { client, dispatcher in
            let long = String(repeating: "n", count: 129)
            let cases: [(String, String)] = [
                (#"{"scopes":["read"]}"#, "name"),
                (#"{"name":7,"scopes":["read"]}"#, "name"),
                (#"{"name":"   ","scopes":["read"]}"#, "name"),
                (#"{"name":"\#(long)","scopes":["read"]}"#, "name"),
                (#"{"name":"a\u0007b","scopes":["read"]}"#, "name"),
                (#"{"name":"n"}"#, "scopes"),
                (#"{"name":"n","scopes":[]}"#, "scopes"),
                (#"{"name":"n","scopes":"read"}"#, "scopes"),
                (#"{"name":"n","scopes":["read","write"]}"#, "scopes[1]"),
                (#"{"name":"n","scopes":["ADMIN"]}"#, "scopes[0]"),
                (#"{"name":"n","scopes":[1]}"#, "scopes[0]"),
            ]
            for (json, field) in cases {
                let answer = try await call(client, .post, "/v1/keys", json: json)
                #expect(answer.status == 400, "\(json) → \(answer.text)")
                #expect(answer.errorField == field, "\(json) → \(answer.text)")
                #expect(!answer.errorMessage.isEmpty)
                #expect(answer.body["key"] == nil)
            }
            let malformed = try await call(client, .post, "/v1/keys", json: #"{"name":"n","scopes":["read"]"#)
            #expect(malformed.status == 400 && malformed.errorCode == "malformed_json")
            let padding = String(repeating: "x", count: 8 * 1024)
            let oversized = try await call(client, .post, "/v1/keys", json: #"{"name":"n","scopes":["read"],"pad":"\#(padding)"}"#)
            #expect(oversized.status == 413 && oversized.errorCode == "body_too_large", "\(oversized.text)")
            #expect(try dispatcher.apiKeys().isEmpty, "nothing was journaled")
            #expect(try await listedKeys(client).isEmpty)
        }
    }
}

/// Tokens carried from one server run to the next.
private final class Tokens: @unchecked Sendable {
    private let lock = NSLock()
    private var kept = ""
    private var gone = ""
    func set(kept: String, gone: String) { lock.withLock { (self.kept, self.gone) = (kept, gone) } }
    func get() -> (kept: String, gone: String) { lock.withLock { (kept, gone) } }
}
