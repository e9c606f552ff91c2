import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

/// A data directory as the engine lays it out: `journal/` and `journal.key`.
struct EncryptedJournalDirectory {
    let root = TemporaryDirectory()
    var journal: String { root.path + "/journal" }
    var keyFile: String { root.path + "/journal.key" }

    func configuration(_ encryption: JournalEncryption? = nil) -> JournalConfiguration {
        var c = SluiceJournalTests.configuration()
        c.encryption = encryption ?? .keyFile(keyFile)
        return c
    }

    func open(_ encryption: JournalEncryption? = nil) throws -> Journal {
        try Journal(directory: journal, configuration: configuration(encryption))
    }

    func remove() { root.remove() }
}

/// Strings the tests journal and then look for in `data.mdb`.
enum Needle {
    static let token = "EAAG-token-7f3a91c2"
    static let appSecret = "appsecret-5d20e8b4"
    static let template = "template-name-9c41"
    static let param = "param-Amal-3e7d55"
    static let recipient = "966598765432"
    static let subscriptionSecret = "whsec-8a1f63d0e2"
    static let answer = "answer-body-4b9e17"
    static let all = [token, appSecret, template, param, recipient, subscriptionSecret, answer]
}

/// Journals one of everything that holds a needle; returns the sender, campaign and message.
func journalNeedles(_ journal: Journal) async throws -> (SenderID, CampaignID, MessageID) {
    let put = try await journal.apply([.putSender(SenderRecord(
        id: SenderID(0), phoneNumberID: "1065", tierMessagesPerSecond: 80, accessToken: Needle.token, appSecret: Needle.appSecret))])
    guard case .sender(let sender) = put.results[0] else { fatalError("\(put)") }
    _ = try await journal.apply([.createSubscription(SubscriptionRecord(url: "https://hooks.example/x", secret: Needle.subscriptionSecret, createdMilliseconds: now))])
    let message = Array(#"{"type":"template","template":{"name":"\#(Needle.template)","language":{"code":"en"}}}"#.utf8)
    let created = try await journal.apply([.createCampaign(
        sender: sender, message: message, createdMilliseconds: now,
        recipients: [NewMessage(to: Needle.recipient, params: [Needle.param, "x"]), NewMessage(to: "491700000001", params: ["y", "z"])])])
    guard case let .campaign(campaign, first, _) = created.results[0] else { fatalError("\(created)") }
    _ = try await journal.apply([.putIdempotency(
        IdempotencyRecord(scope: "admin", key: "k1", createdMilliseconds: now, requestDigest: Array(repeating: 7, count: 32), status: 202, body: Array(Needle.answer.utf8)),
        replacingCreatedBefore: 0)])
    // A send and its answer: the outbox gets the recipient, the record a wamid.
    _ = try await journal.apply([.transition([transition(first, .inFlight)])])
    _ = try await journal.apply([.transition([transition(first, .sent, wamid: "wamid.ABC")])])
    return (sender, campaign, first)
}

func fileContains(_ path: String, _ needle: String) throws -> Bool {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return data.range(of: Data(needle.utf8)) != nil
}

/// Replaces the value under `key` in `table` through a bare LMDB environment.
func rewriteRaw(_ directory: String, _ table: String, key: [UInt8], _ change: (inout [UInt8]) -> Void) throws {
    let env = try Environment(directory: directory, mapSizeBytes: 64 << 20, noSync: false)
    defer { env.close() }
    let txn = try env.beginWrite()
    let db = try #require(try txn.openDatabase(table, create: false))
    var value = try #require(try key.withUnsafeBytes { try txn.get(db, $0) }.map { Array($0) })
    change(&value)
    try key.withUnsafeBytes { k in try value.withUnsafeBytes { try txn.put(db, k, $0) } }
    try txn.commit()
}

func readRaw(_ directory: String, _ table: String, key: [UInt8]) throws -> [UInt8]? {
    let env = try Environment(directory: directory, mapSizeBytes: 64 << 20, noSync: false)
    defer { env.close() }
    let txn = try env.beginRead()
    let db = try #require(try txn.openDatabase(table, create: false))
    let value = try key.withUnsafeBytes { try txn.get(db, $0) }.map { Array($0) }
    txn.abort()
    return value
}

func idKey(_ id: UInt64) -> [UInt8] { Key(id: id).withBytes { Array($0) } }

@Suite("Encryption at rest")
struct EncryptionJournalTests {
    @Test("the key file is created on first start: 32 bytes, mode 0600")
    func keyFileCreated() throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        #expect(!FileManager.default.fileExists(atPath: dir.keyFile))
        try dir.open().close()
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.keyFile)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect((attributes[.size] as? NSNumber)?.intValue == 32)
        // Reopening keeps the key.
        let key = try Data(contentsOf: URL(fileURLWithPath: dir.keyFile))
        try dir.open().close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.keyFile)) == key)
    }

    @Test("no token, secret or payload is in data.mdb, yet all read back after a reopen")
    func noPlaintextInTheFile() async throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        let journal = try dir.open()
        let (_, campaign, first) = try await journalNeedles(journal)
        journal.close()
        for needle in Needle.all {
            #expect(try !fileContains(dir.journal + "/data.mdb", needle), "'\(needle)' is in data.mdb in the clear")
        }

        let reopened = try dir.open()
        defer { reopened.close() }
        let sender = try #require(try reopened.sender(phoneNumberID: "1065"))
        #expect(sender.accessToken == Needle.token && sender.appSecret == Needle.appSecret)
        #expect(try reopened.senders().map(\.accessToken) == [Needle.token])
        let c = try #require(try reopened.campaign(campaign))
        #expect(String(decoding: c.message, as: UTF8.self).contains(Needle.template))
        #expect(c.counts[.sent] == 1 && c.counts[.queued] == 1)
        let m = try #require(try reopened.message(first))
        #expect(m.to == Needle.recipient && m.params == [Needle.param, "x"] && m.state == .sent && m.wamid == "wamid.ABC")
        #expect(try reopened.subscriptions().map(\.secret) == [Needle.subscriptionSecret])
        let heads = try reopened.outboxHeads(subscription: 1, dueMilliseconds: .max, limit: 10).entries
        #expect(heads.map(\.event.status?.recipient) == [Needle.recipient])
        #expect(try reopened.idempotency(scope: "admin", key: "k1")?.body == Array(Needle.answer.utf8))
        // A failed answer with an error text after the sealed part was written.
        _ = try await reopened.apply([.transition([transition(MessageID(first.rawValue + 1), .inFlight)])])
        _ = try await reopened.apply([.transition([MessageTransition(
            id: MessageID(first.rawValue + 1), to: .failed, updatedMilliseconds: now + 2, errorCode: 131026, errorMessage: "undeliverable")])])
        let failed = try #require(try reopened.message(MessageID(first.rawValue + 1)))
        #expect(failed.to == "491700000001" && failed.params == ["y", "z"] && failed.errorMessage == "undeliverable" && failed.errorCode == 131026)
    }

    @Test("the same needles are found when the journal is not encrypted (the search works)")
    func plaintextControl() async throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        let journal = try dir.open(JournalEncryption.plaintext)
        _ = try await journalNeedles(journal)
        journal.close()
        for needle in Needle.all {
            #expect(try fileContains(dir.journal + "/data.mdb", needle), "'\(needle)' not found")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.keyFile))
    }

    @Test("another key file is refused with wrongKey")
    func wrongKey() async throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        try dir.open().close()
        try Data(repeating: 0x42, count: 32).write(to: URL(fileURLWithPath: dir.keyFile))
        #expect(throws: JournalError.wrongKey(path: dir.journal, keyFile: dir.keyFile)) { try dir.open() }
    }

    @Test("a missing key for an encrypted journal is refused, and no new key is made")
    func missingKey() async throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        try dir.open().close()
        try FileManager.default.removeItem(atPath: dir.keyFile)
        #expect(throws: JournalError.keyMissing(path: dir.journal, keyFile: dir.keyFile)) { try dir.open() }
        #expect(!FileManager.default.fileExists(atPath: dir.keyFile))
        #expect(throws: JournalError.keyRequired(path: dir.journal)) { try dir.open(JournalEncryption.plaintext) }
    }

    @Test("a key file that group or others may read, or of the wrong size, is refused")
    func unsafeKeyFile() throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.root.path, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: dir.keyFile, contents: Data(repeating: 1, count: 32), attributes: [.posixPermissions: 0o644]))
        #expect {
            try dir.open()
        } throws: { error in
            guard case .keyFile(let path, let reason) = error as? JournalError else { return false }
            return path == dir.keyFile && reason.contains("644")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir.keyFile)
        try Data(repeating: 1, count: 31).write(to: URL(fileURLWithPath: dir.keyFile))
        #expect {
            try dir.open()
        } throws: { error in
            guard case .keyFile(_, let reason) = error as? JournalError else { return false }
            return reason.contains("31 bytes")
        }
    }

    @Test("an altered byte, or a sealed part moved to another record, reads as undecryptable")
    func tampering() async throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        let journal = try dir.open()
        let (_, _, first) = try await journalNeedles(journal)
        journal.close()

        try rewriteRaw(dir.journal, Schema.senders, key: Array("1065".utf8)) { $0[$0.count - 20] ^= 0x01 }
        let second = MessageID(first.rawValue + 1)
        // Message 2's header (queued) with message 1's sealed part.
        let one = try #require(try readRaw(dir.journal, Schema.messages, key: idKey(first.rawValue)))
        try rewriteRaw(dir.journal, Schema.messages, key: idKey(second.rawValue)) { value in
            // Message 1 is `sent`: its header, its wamid, then its sealed part.
            let sealedOne = one[(MessageCodec.headerBytes + 2 + "wamid.ABC".utf8.count)...]
            value = Array(value[..<MessageCodec.headerBytes]) + sealedOne
        }

        let reopened = try dir.open()
        defer { reopened.close() }
        #expect(throws: JournalError.undecryptableRecord(path: dir.journal, table: Schema.senders, key: "1065")) {
            try reopened.sender(phoneNumberID: "1065")
        }
        #expect(throws: JournalError.undecryptableRecord(path: dir.journal, table: Schema.messages, key: second.description)) {
            try reopened.message(second)
        }
        #expect(try reopened.message(first)?.params.first == Needle.param)
    }

    @Test("without the key, metadata reads, sealed fields read <encrypted>, writes are refused")
    func inspection() async throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        let journal = try dir.open()
        let (_, campaign, first) = try await journalNeedles(journal)
        journal.close()

        let inspected = try dir.open(.inspectWithoutKey)
        defer { inspected.close() }
        let sender = try #require(try inspected.senders().first)
        #expect(sender.phoneNumberID == "1065" && sender.accessToken == "<encrypted>" && sender.appSecret == "<encrypted>")
        let m = try #require(try inspected.message(first))
        #expect(m.state == .sent && m.wamid == "wamid.ABC" && m.to == "<encrypted>" && m.params == ["<encrypted>", "<encrypted>"])
        #expect(try inspected.campaign(campaign)?.counts[.sent] == 1)
        #expect(try inspected.statistics().messages == 2)
        await #expect(throws: JournalError.readOnly(path: dir.journal)) {
            try await inspected.apply([.transition([transition(MessageID(first.rawValue + 1), .inFlight)])])
        }
    }
}
