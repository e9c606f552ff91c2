import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceEngine
import SluiceServer
import Testing
import Yams

/// `OpenAPIDocument` against the server: the routes the router holds, the scope each one
/// demands, and the document as `GET /openapi.yaml` serves it. What the answers look like
/// is schemathesis's part (`scripts/openapi-check`, run by the end-to-end tests).
@Suite struct OpenAPIDocumentTests {
    static let key = "openapi-admin-key-0123456789"
    static let httpMethods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

    struct Operation: Hashable, Comparable, CustomStringConvertible {
        var method: String
        var path: String
        var description: String { "\(method) \(path)" }
        static func < (a: Self, b: Self) -> Bool { (a.path, a.method) < (b.path, b.method) }
    }

    static func document() throws -> [String: Any] {
        try #require(try Yams.load(yaml: OpenAPIDocument.yaml) as? [String: Any])
    }

    /// Every operation of the document with its object.
    static func operations(_ document: [String: Any]) throws -> [Operation: [String: Any]] {
        let paths = try #require(document["paths"] as? [String: Any])
        var out: [Operation: [String: Any]] = [:]
        for (path, item) in paths {
            let item = try #require(item as? [String: Any], "\(path)")
            for method in httpMethods {
                guard let operation = item[method] else { continue }
                out[Operation(method: method.uppercased(), path: path)] = try #require(operation as? [String: Any])
            }
        }
        return out
    }

    /// Runs `body` with the router's routes and a client of it.
    func withRouter(_ body: @Sendable ([Operation], any TestClientProtocol) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "sluice-openapi-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"
        configuration.journal.durable = false
        let dispatcher = try Dispatcher(configuration: configuration)
        let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: Self.key, source: "test"))
        let routed = router.routes.map { Operation(method: $0.method.rawValue, path: $0.path.description) }
        do {
            try await Application(router: router).test(.router) { client in try await body(routed, client) }
        } catch {
            await dispatcher.shutdown()
            throw error
        }
        await dispatcher.shutdown()
    }

    func call(_ client: any TestClientProtocol, _ operation: Operation, key: String?, json: String? = nil) async throws -> (status: Int, code: String?, body: String) {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil { headers[.contentType] = "application/json" }
        // Path parameters get values of the right shape that name nothing stored.
        let uri = operation.path.replacingOccurrences(of: "{phone_number_id}", with: "1065000001").replacingOccurrences(of: "{id}", with: "1")
        return try await client.execute(uri: uri, method: HTTPRequest.Method(operation.method)!, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            let text = String(buffer: response.body)
            let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
            return (Int(response.status.code), (object?["error"] as? [String: Any])?["code"] as? String, text)
        }
    }

    @Test func theDocumentIsOpenAPI31AndEveryReferenceResolves() throws {
        let document = try Self.document()
        #expect(document["openapi"] as? String == "3.1.0")
        var references: [String] = []
        var pending: [Any] = [document]
        while let node = pending.popLast() {
            if let map = node as? [String: Any] {
                if let ref = map["$ref"] as? String { references.append(ref) }
                pending.append(contentsOf: map.values)
            } else if let list = node as? [Any] {
                pending.append(contentsOf: list)
            }
        }
        #expect(references.count > 20)
        for ref in references {
            var node: Any? = document
            #expect(ref.hasPrefix("#/"), "\(ref) is not local")
            for part in ref.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] }
            #expect(node != nil, "\(ref) does not resolve")
        }
    }

    /// The value at `path` (object keys) in the document.
    static func node(_ document: [String: Any], _ path: [String]) throws -> Any {
        var here: Any = document
        for key in path {
            let object = try #require(here as? [String: Any], "\(path): no object at \(key)")
            here = try #require(object[key], "\(path): no \(key)")
        }
        return here
    }

    @Test func theDocumentedErrorCodesAreExactlyTheOnesTheServerSends() throws {
        let path = ["components", "schemas", "Error", "properties", "error", "properties", "code", "enum"]
        let documented = try #require(try Self.node(Self.document(), path) as? [String])
        #expect(Set(documented) == Set(APIError.Code.allCases.map(\.rawValue)))
        #expect(documented.count == Set(documented).count, "no code listed twice")
    }

    @Test func theDocumentedMessageCountsAreTheJournalsStates() throws {
        let schemas = try #require(try Self.node(Self.document(), ["components", "schemas"]) as? [String: Any])
        let withCounts = schemas.values.compactMap { schema -> [String]? in
            guard let counts = ((schema as? [String: Any])?["properties"] as? [String: Any])?["counts"] as? [String: Any] else { return nil }
            return counts["required"] as? [String]
        }
        #expect(!withCounts.isEmpty)
        // `retry_at` is counted in `queued`.
        let states = Set(MessageState.allCases.filter { $0 != .retryAt }.map(\.description))
        for required in withCounts { #expect(Set(required) == states) }
    }

    @Test func theDocumentedEventKindsAndReportedStatesAreTheCodes() throws {
        let document = try Self.document()
        let kinds = try #require(try Self.node(document, ["components", "schemas", "EventKind", "enum"]) as? [String])
        #expect(kinds == SubscriberEventKind.allCases.map(\.rawValue))
        let reported = try #require(try Self.node(document, ["components", "schemas", "ReportedState", "enum"]) as? [String])
        #expect(Set(reported) == Set(MessageState.allCases.filter(\.isReported).map(\.description)))
    }

    @Test func theDocumentedCampaignStatesAndHoldsAreTheCodes() throws {
        let document = try Self.document()
        let states = try #require(try Self.node(document, ["components", "schemas", "CampaignState", "enum"]) as? [String])
        #expect(Set(states) == Set(CampaignProgress.State.allCases.map(\.rawValue)))
        let schemas = try #require(try Self.node(document, ["components", "schemas"]) as? [String: Any])
        var holds: [[String]] = []
        for schema in schemas.values {
            guard let properties = (schema as? [String: Any])?["properties"] as? [String: Any],
                let options = (properties["waiting_for"] as? [String: Any])?["oneOf"] as? [[String: Any]]
            else { continue }
            holds += options.compactMap { $0["enum"] as? [String] }
        }
        #expect(!holds.isEmpty)
        for list in holds { #expect(Set(list) == Set(CampaignProgress.Hold.allCases.map(\.rawValue))) }
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsRouted() async throws {
        let documented = Set(try Self.operations(try Self.document()).keys)
        try await withRouter { routes, _ in
            let routed = Set(routes)
            #expect(!routed.isEmpty)
            #expect(routed.subtracting(documented).sorted() == [], "routed but not in the document")
            #expect(documented.subtracting(routed).sorted() == [], "in the document but not routed")
        }
    }

    @Test func theDocumentIsServedWithoutAKey() async throws {
        try await withRouter { _, client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/yaml")
                #expect(String(buffer: response.body) == OpenAPIDocument.yaml)
            }
        }
    }

    /// Per operation: each documented scope admits a key that holds only it, and a key
    /// with every other scope gets 403; `apiKey: []` admits any valid key (each one-scope
    /// key) and refuses none; an operation without security needs no key.
    @Test func eachOperationDemandsTheScopeItDocuments() async throws {
        let document = try Self.document()
        // Per operation, the scopes that admit it (alternatives), or [] for `security: []`;
        // `anyKey` for a requirement that names no scope.
        // `streams`: its answer is server-sent events that do not end, which the router's
        // test client would wait for forever; only its refusals are called here
        // (`DashboardStreamTests` reads an admitted stream over a socket).
        var demands: [(operation: Operation, scopes: [String], anyKey: Bool, streams: Bool)] = []
        for (operation, object) in try Self.operations(document).sorted(by: { $0.key < $1.key }) {
            let security = try #require((object["security"] ?? document["security"]) as? [Any], "\(operation)")
            var admitting: [String] = []
            var anyKey = false
            for requirement in security {
                let named = try #require((requirement as? [String: Any])?["apiKey"] as? [String], "\(operation) names the apiKey scheme")
                #expect(named.count <= 1, "\(operation): each requirement names one scope, or none for any key")
                if named.isEmpty { anyKey = true }
                admitting += named
            }
            #expect(!(anyKey && !admitting.isEmpty), "\(operation): any key, or named scopes, not both")
            if !admitting.isEmpty || anyKey {
                let responses = try #require(object["responses"] as? [String: Any])
                #expect(responses["401"] != nil, "\(operation) documents 401")
                #expect(anyKey || responses["403"] != nil, "\(operation) documents 403")
            }
            let ok = ((object["responses"] as? [String: Any])?["200"] as? [String: Any])?["content"] as? [String: Any]
            demands.append((operation, admitting, anyKey, ok?["text/event-stream"] != nil))
        }
        let scopes = APIKeyScope.allCases.map(\.rawValue)
        let checks = demands
        try await withRouter { _, client in
            func key(_ name: String, _ list: [String]) async throws -> String {
                let created = try await call(client, Operation(method: "POST", path: "/v1/keys"), key: Self.key,
                                             json: #"{"name": "\#(name)", "scopes": [\#(list.map { "\"\($0)\"" }.joined(separator: ","))]}"#)
                return try #require((try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["key"] as? String, "\(created)")
            }
            var only: [String: String] = [:]
            for scope in scopes { only[scope] = try await key("only-\(scope)", [scope]) }
            for (operation, admitting, anyKey, streams) in checks {
                if anyKey {
                    let none = try await call(client, operation, key: nil)
                    #expect(none.status == 401 && none.code == "unauthorized", "\(operation) without a key: \(none)")
                    for scope in scopes where !streams {
                        let admitted = try await call(client, operation, key: only[scope] ?? "")
                        #expect(admitted.status != 401 && admitted.status != 403, "\(operation) with only '\(scope)': \(admitted)")
                    }
                    continue
                }
                guard !admitting.isEmpty else {
                    let open = try await call(client, operation, key: nil)
                    #expect(open.status != 401 && open.status != 403, "\(operation) without a key: \(open)")
                    continue
                }
                let none = try await call(client, operation, key: nil)
                #expect(none.status == 401 && none.code == "unauthorized", "\(operation) without a key: \(none)")
                let rest = scopes.filter { !admitting.contains($0) }
                let others = try await call(client, operation, key: try await key("without-\(admitting.joined(separator: "-"))", rest))
                #expect(others.status == 403 && others.code == "insufficient_scope", "\(operation) without \(admitting): \(others)")
                for scope in admitting where !streams {
                    let admitted = try await call(client, operation, key: only[scope] ?? "")
                    #expect(admitted.status != 401 && admitted.status != 403, "\(operation) with only '\(scope)': \(admitted)")
                }
            }
        }
    }
}
