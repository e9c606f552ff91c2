import SluiceCore
import SluiceJournal

/// API keys, journaled like everything else: the HTTP server keeps its own cache of them
/// for the per-request check and writes through these.
extension Dispatcher {
    /// Every API key, revoked ones too, ordered by id.
    public func apiKeys() throws -> [APIKeyRecord] { try journal.apiKeys() }

    /// Durably stores a new key created now; returns after the commit. Fails with
    /// `JournalError.apiKeyExists` when the id is taken.
    public func createAPIKey(id: String, name: String, scopes: Set<APIKeyScope>, secretDigest: [UInt8]) async throws -> APIKeyRecord {
        let record = APIKeyRecord(id: id, name: name, scopes: scopes, secretDigest: secretDigest, createdMilliseconds: clock.wallMilliseconds())
        let receipt = try await journal.apply([.createAPIKey(record)])
        guard case .apiKey(let stored?)? = receipt.results.first else {
            preconditionFailure("journal answered createAPIKey with \(receipt.results)")
        }
        return stored
    }

    /// Durably revokes a key now (a revoked key keeps its first revocation time); nil when
    /// no key has this id.
    public func revokeAPIKey(id: String) async throws -> APIKeyRecord? {
        let receipt = try await journal.apply([.revokeAPIKey(id: id, revokedMilliseconds: clock.wallMilliseconds())])
        guard case .apiKey(let stored)? = receipt.results.first else {
            preconditionFailure("journal answered revokeAPIKey with \(receipt.results)")
        }
        return stored
    }
}
