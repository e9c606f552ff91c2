import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

@Suite("API keys in the journal")
struct APIKeyJournalTests {
    func key(_ id: String, scopes: Set<APIKeyScope> = [.submit, .read], created: Int64 = now) -> APIKeyRecord {
        APIKeyRecord(id: id, name: "name of \(id)", scopes: scopes, secretDigest: Array(repeating: 0xab, count: 32), createdMilliseconds: created)
    }

    @Test("the key codec round-trips every field and refuses truncated or unknown bits")
    func codecRoundTrips() throws {
        func roundTrip(_ k: APIKeyRecord) throws -> APIKeyRecord {
            var bytes = [UInt8](repeating: 0, count: APIKeyCodec.size(k))
            bytes.withUnsafeMutableBytes { APIKeyCodec.write(k, to: $0.baseAddress!) }
            return try bytes.withUnsafeBytes { try APIKeyCodec.read(id: k.id, $0) }
        }
        let active = key("key_01", scopes: [.admin])
        #expect(try roundTrip(active) == active)
        var revoked = APIKeyRecord(
            id: "key_02", name: "ü✓ billing", scopes: Set(APIKeyScope.allCases), secretDigest: Array(0..<32),
            createdMilliseconds: -1, revokedMilliseconds: 0)
        #expect(try roundTrip(revoked) == revoked, "a revocation at time 0 is still a revocation")
        revoked.revokedMilliseconds = Int64.max
        #expect(try roundTrip(revoked) == revoked)

        var bytes = [UInt8](repeating: 0, count: APIKeyCodec.size(active))
        bytes.withUnsafeMutableBytes { APIKeyCodec.write(active, to: $0.baseAddress!) }
        var short = bytes
        short.removeLast()
        #expect(throws: ByteReader.Short.self) { try short.withUnsafeBytes { try APIKeyCodec.read(id: active.id, $0) } }
        var unknownScope = bytes
        unknownScope[1] |= 0x80
        #expect(throws: ByteReader.Short.self) { try unknownScope.withUnsafeBytes { try APIKeyCodec.read(id: active.id, $0) } }
    }

    @Test("keys are created, revoked once, and survive a reopen")
    func createRevokeReopen() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
            defer { journal.close() }
            let receipt = try await journal.apply([.createAPIKey(key("key_b")), .createAPIKey(key("key_a", scopes: [.admin]))])
            #expect(receipt.results == [.apiKey(key("key_b")), .apiKey(key("key_a", scopes: [.admin]))])
            #expect(try journal.apiKeys().map(\.id) == ["key_a", "key_b"])

            let revoked = try await journal.apply([.revokeAPIKey(id: "key_b", revokedMilliseconds: now + 5)])
            var expected = key("key_b")
            expected.revokedMilliseconds = now + 5
            #expect(revoked.results == [.apiKey(expected)])
            let again = try await journal.apply([.revokeAPIKey(id: "key_b", revokedMilliseconds: now + 9)])
            #expect(again.results == [.apiKey(expected)], "a second revocation keeps the first time")
            let unknown = try await journal.apply([.revokeAPIKey(id: "key_zz", revokedMilliseconds: now)])
            #expect(unknown.results == [.apiKey(nil)])
        }
        let reopened = try Journal(directory: dir.path, configuration: configuration())
        defer { reopened.close() }
        let keys = try reopened.apiKeys()
        #expect(keys.count == 2)
        #expect(keys.first == key("key_a", scopes: [.admin]))
        #expect(keys.last?.revokedMilliseconds == now + 5)
    }

    @Test("a taken id or an unstorable field fails and changes nothing")
    func conflictsChangeNothing() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        _ = try await journal.apply([.createAPIKey(key("key_a"))])
        var other = key("key_a", scopes: [.admin])
        other.name = "impostor"
        await #expect(throws: JournalError.apiKeyExists(id: "key_a")) { try await journal.apply([.createAPIKey(other)]) }
        await #expect(throws: JournalError.invalidField(field: "id", reason: "0 bytes, expected 1…511")) {
            try await journal.apply([.createAPIKey(key(""))])
        }
        // The second mutation fails, so the first one of the same call is not kept either.
        await #expect(throws: JournalError.self) {
            try await journal.apply([.createAPIKey(key("key_b")), .createAPIKey(key("key_a"))])
        }
        #expect(try journal.apiKeys() == [key("key_a")])
    }

    @Test("a journal written before the keys table opens and gains it, empty")
    func olderJournalGainsKeysTable() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        do {
            // Exactly what the first schema-1 build wrote: its seven tables and the meta entries.
            let env = try Environment(directory: dir.path, mapSizeBytes: 1 << 20, noSync: false)
            let txn = try env.beginWrite()
            for name in ["meta", "messages", "pending", "due", "inflight", "campaigns", "senders"] { _ = try txn.openDatabase(name, create: true) }
            let meta = try #require(try txn.openDatabase(Schema.meta, create: false))
            try Array(Schema.metaMagicKey.utf8).withUnsafeBytes { k in try Array(Schema.magic.utf8).withUnsafeBytes { try txn.put(meta, k, $0) } }
            let version = withUnsafeBytes(of: Schema.version.bigEndian) { Array($0) }
            try Array(Schema.metaVersionKey.utf8).withUnsafeBytes { k in try version.withUnsafeBytes { try txn.put(meta, k, $0) } }
            #expect(try txn.openDatabase(Schema.keys, create: false) == nil)
            try txn.commit()
        }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        #expect(try journal.apiKeys().isEmpty)
        _ = try await journal.apply([.createAPIKey(key("key_a"))])
        #expect(try journal.apiKeys().map(\.id) == ["key_a"])
    }
}
