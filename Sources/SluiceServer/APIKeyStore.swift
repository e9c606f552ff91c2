import Foundation
import SluiceCore
import SluiceCrypto

/// Who may call the API: the bootstrap admin key (every scope) and the journaled API
/// keys, cached here by id so that checking a request costs one dictionary lookup and one
/// SHA-256, with no journal read. The routes that create and revoke keys journal the
/// change first, then update this cache.
///
/// A key's bearer token embeds its public id: `sk_<id>_<secret>`, e.g.
/// `sk_key_3f9a0c1b7d2e4a65_9c…` (64 hex digits of secret). The id finds the entry; the
/// SHA-256 of the secret is compared with the stored one in constant time.
final class APIKeyStore: Sendable {
    static let tokenPrefix = "sk_"
    static let idPrefix = "key_"
    static let idRandomBytes = 8
    static let secretRandomBytes = 32
    /// Keys stored, revoked ones included.
    static let keysMax = 1_000

    /// What a request proved it holds.
    struct Caller: Sendable {
        /// The key id, or "the admin key" for the bootstrap key.
        var name: String
        var scopes: Set<APIKeyScope>
        /// The key id, or `admin` for the bootstrap key (key ids start with `key_`):
        /// idempotency keys are scoped by it.
        var id: String
    }

    private struct Entry: Sendable {
        var secretDigest: [UInt8]
        var scopes: Set<APIKeyScope>
        var revoked: Bool

        init(_ record: APIKeyRecord) {
            secretDigest = record.secretDigest
            scopes = record.scopes
            revoked = record.revokedMilliseconds != nil
        }
    }

    private let bootstrap: AdminCredential
    private let entries: Locked<[String: Entry]>

    init(bootstrap: AdminCredential, records: [APIKeyRecord]) {
        self.bootstrap = bootstrap
        var entries: [String: Entry] = [:]
        for record in records { entries[record.id] = Entry(record) }
        self.entries = Locked(entries)
    }

    /// Keys stored, revoked ones included.
    var count: Int { entries.withLock { $0.count } }

    func contains(id: String) -> Bool { entries.withLock { $0[id] != nil } }

    /// Adds or replaces the cached entry from what the journal committed.
    func update(_ record: APIKeyRecord) {
        let entry = Entry(record)
        entries.withLock { $0[record.id] = entry }
    }

    /// The caller that the `Authorization: Bearer …` header proves, or the 401 to answer.
    func authenticate(authorizationHeader: String?) throws(APIError) -> Caller {
        guard let token = Self.bearerToken(authorizationHeader) else {
            throw APIError(.unauthorized, code: .unauthorized, message: "an API key is required: Authorization: Bearer <key>")
        }
        if bootstrap.accepts(token: token) { return Caller(name: "the admin key", scopes: Set(APIKeyScope.allCases), id: "admin") }
        let invalid = APIError(.unauthorized, code: .unauthorized, message: "the API key is not valid")
        guard let (id, secret) = Self.parse(token: token), let entry = entries.withLock({ $0[id] }) else { throw invalid }
        guard Digest.constantTimeEqual(Digest.sha256(Array(secret.utf8)), entry.secretDigest) else { throw invalid }
        guard !entry.revoked else {
            throw APIError(.unauthorized, code: .unauthorized, message: "the API key \(id) was revoked")
        }
        return Caller(name: id, scopes: entry.scopes, id: id)
    }

    /// A fresh id, secret and the token that carries both.
    static func newKey() -> (id: String, secret: String, token: String) {
        let id = idPrefix + Hex.encode(SecureRandom.bytes(idRandomBytes))
        let secret = SecureRandom.hexToken(byteCount: secretRandomBytes)
        return (id, secret, tokenPrefix + id + "_" + secret)
    }

    /// `sk_<id>_<secret>` split at its last `_` (the secret is hex); nil for anything else.
    static func parse(token: Substring) -> (id: String, secret: Substring)? {
        guard token.hasPrefix(tokenPrefix) else { return nil }
        let rest = token.dropFirst(tokenPrefix.count)
        guard let separator = rest.lastIndex(of: "_") else { return nil }
        let id = rest[..<separator]
        let secret = rest[rest.index(after: separator)...]
        guard id.hasPrefix(idPrefix), id.count > idPrefix.count, !secret.isEmpty else { return nil }
        return (String(id), secret)
    }

    /// The token of `Authorization: Bearer <token>`, trimmed; nil when absent or empty.
    static func bearerToken(_ header: String?) -> Substring? {
        guard let header, header.hasPrefix("Bearer ") else { return nil }
        let token = header.dropFirst("Bearer ".count).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : Substring(token)
    }
}
