import Foundation
import Hummingbird
import SluiceCore
import SluiceCrypto
import SluiceEngine

/// `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{id}`: API keys, under the `admin`
/// scope. The secret is in the creation answer only; the journal keeps its SHA-256.
enum APIKeyRoutes {
    static let bodyBytesMax = 4 * 1024
    static let nameBytesMax = 128

    static func add(to group: RouterGroup<BasicRequestContext>, keys: APIKeyStore, dispatcher: Dispatcher) {
        group.post("keys") { request, _ in
            try await create(request, keys: keys, dispatcher: dispatcher)
        }
        group.get("keys") { _, _ in
            let records = try await journaled { try dispatcher.apiKeys() }
            let sorted = records.sorted { ($0.createdMilliseconds, $0.id) < ($1.createdMilliseconds, $1.id) }
            return JSONBody.response(.ok, ["keys": sorted.map(json)])
        }
        group.delete("keys/:id") { _, context in
            let id = try context.parameters.require("id")
            guard keys.contains(id: id) else {
                throw APIError(.notFound, code: .notFound, field: "id", message: "API key '\(id)' does not exist")
            }
            guard let record = try await journaled({ try await dispatcher.revokeAPIKey(id: id) }) else {
                throw APIError(.notFound, code: .notFound, field: "id", message: "API key '\(id)' does not exist")
            }
            keys.update(record)
            return Response(status: .noContent)
        }
    }

    /// `GET /v1/keys/current` (any valid key): the caller's id and scopes, so that a client
    /// such as the dashboard shows only what the key may do. The admin key answers `admin`
    /// and every scope.
    static func addCurrent(to group: RouterGroup<BasicRequestContext>, keys: APIKeyStore) {
        group.get("keys/current") { request, _ in
            let caller = try keys.authenticate(authorizationHeader: request.headers[.authorization])
            var response = JSONBody.response(.ok, ["id": caller.id, "scopes": caller.scopes.sorted().map(\.rawValue)])
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    static func create(_ request: Request, keys: APIKeyStore, dispatcher: Dispatcher) async throws -> Response {
        let body = try await JSONBody.object(request, limitBytes: bodyBytesMax)
        try KnownFields.check(body, ["name", "scopes"])
        let (name, scopes) = try validate(body)
        guard keys.count < APIKeyStore.keysMax else {
            throw APIError(.conflict, code: .tooManyKeys, message: "\(APIKeyStore.keysMax) API keys are stored (revoked ones count); no more can be created")
        }
        let (id, secret, token) = APIKeyStore.newKey()
        let record = try await journaled {
            try await dispatcher.createAPIKey(id: id, name: name, scopes: scopes, secretDigest: Digest.sha256(Array(secret.utf8)))
        }
        keys.update(record)
        var answer = json(record)
        answer["key"] = token
        var response = JSONBody.response(.created, answer)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The name and scopes of a creation body; a 400 naming the field otherwise.
    static func validate(_ body: [String: Any]) throws(APIError) -> (name: String, scopes: Set<APIKeyScope>) {
        guard let nameValue = body["name"] else { throw APIError.invalid("name", "name is required (a label such as \"billing-service\")") }
        guard let raw = nameValue as? String else { throw APIError.invalid("name", "name must be a string") }
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw APIError.invalid("name", "name must not be empty") }
        guard name.utf8.count <= nameBytesMax else {
            throw APIError.invalid("name", "name is \(name.utf8.count) bytes, more than \(nameBytesMax)")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw APIError.invalid("name", "name must not contain control characters")
        }
        let known = APIKeyScope.allCases.map(\.rawValue).joined(separator: ", ")
        guard let scopesValue = body["scopes"] else { throw APIError.invalid("scopes", "scopes is required (one or more of \(known))") }
        guard let list = scopesValue as? [Any] else { throw APIError.invalid("scopes", "scopes must be an array of strings (\(known))") }
        guard !list.isEmpty else { throw APIError.invalid("scopes", "scopes must name at least one of \(known)") }
        var scopes = Set<APIKeyScope>()
        for (i, item) in list.enumerated() {
            guard let text = item as? String, let scope = APIKeyScope(rawValue: text) else {
                throw APIError.invalid("scopes[\(i)]", "scopes[\(i)] must be one of \(known)")
            }
            scopes.insert(scope)
        }
        return (name, scopes)
    }

    static func json(_ record: APIKeyRecord) -> [String: Any] {
        var json: [String: Any] = [
            "id": record.id,
            "name": record.name,
            "scopes": record.scopes.sorted().map(\.rawValue),
            "created_at": timestamp(record.createdMilliseconds),
            "revoked_at": NSNull(),
        ]
        if let revoked = record.revokedMilliseconds { json["revoked_at"] = timestamp(revoked) }
        return json
    }

    /// ISO 8601 in UTC with milliseconds, e.g. `2025-06-15T09:30:00.125Z`.
    static func timestamp(_ milliseconds: Int64) -> String {
        RFC3339.text(milliseconds: milliseconds)
    }

    /// Runs a journal call; its failure is a 503 that says why.
    static func journaled<T>(_ body: () async throws -> T) async throws(APIError) -> T {
        do { return try await body() } catch {
            throw APIError(.serviceUnavailable, code: .journalUnavailable, message: "the key store could not be read or written: \(error)")
        }
    }
}
