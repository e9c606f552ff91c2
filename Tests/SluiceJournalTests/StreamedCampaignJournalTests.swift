import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

@Suite("streamed campaigns and idempotency answers in the journal")
struct StreamedCampaignJournalTests {
    func sender(_ journal: Journal) async throws -> SenderID {
        let receipt = try await journal.apply([
            .putSender(SenderRecord(id: SenderID(0), phoneNumberID: "1001", tierMessagesPerSecond: 80, accessToken: "t")),
        ])
        guard case .sender(let id) = receipt.results[0] else { throw JournalError.unknownSender(SenderID(0)) }
        return id
    }

    func begin(_ journal: Journal, _ sender: SenderID) async throws -> CampaignID {
        let receipt = try await journal.apply([.beginCampaign(sender: sender, message: Array(#"{"type":"text"}"#.utf8), createdMilliseconds: now)])
        guard case let .campaign(id, _, count) = receipt.results[0], count == 0 else { throw JournalError.unknownCampaign(CampaignID(0)) }
        return id
    }

    func answer(_ key: String, created: Int64 = now, digest: UInt8 = 1) -> IdempotencyRecord {
        IdempotencyRecord(scope: "key_a", key: key, createdMilliseconds: created, requestDigest: Array(repeating: digest, count: 32), status: 202, body: Array(#"{"id":"1"}"#.utf8))
    }

    @Test("a campaign begins receiving, takes chunks, completes once; a cancel deletes its messages and keeps ids unique across a reopen")
    func receivingCompleteCancel() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var lastID: UInt64 = 0
        do {
            let journal = try Journal(directory: dir.path, configuration: configuration())
            defer { journal.close() }
            let s = try await sender(journal)
            let kept = try await begin(journal, s)
            #expect(try journal.campaign(kept)?.state == .receiving)
            #expect(try journal.campaignIDs(state: .receiving) == [kept])
            _ = try await journal.apply([.appendMessages(campaign: kept, createdMilliseconds: now, recipients: recipients(3))])
            _ = try await journal.apply([.completeCampaign(kept)])
            #expect(try journal.campaign(kept)?.state == .active)
            await #expect(throws: JournalError.campaignState(kept, state: .active, expected: "receiving")) {
                try await journal.apply([.completeCampaign(kept)])
            }
            await #expect(throws: JournalError.self, "an accepted campaign cannot be cancelled") {
                try await journal.apply([.cancelCampaign(kept, discardMax: 10)])
            }

            let dropped = try await begin(journal, s)
            let appended = try await journal.apply([.appendMessages(campaign: dropped, createdMilliseconds: now, recipients: recipients(25, from: 100))])
            guard case let .messages(first, 25) = appended.results[0] else { Issue.record("\(appended)"); return }
            lastID = first.rawValue + 24
            #expect(try journal.unfinishedUploads() == [dropped])
            var discarded: [Int] = []
            while true {
                let r = try await journal.apply([.cancelCampaign(dropped, discardMax: 10)])
                guard case .discarded(let n) = r.results[0] else { Issue.record("\(r)"); return }
                discarded.append(n)
                if n < 10 { break }
                #expect(try journal.unfinishedUploads() == [dropped], "interrupted here, the next start finishes the discard")
            }
            #expect(try journal.unfinishedUploads().isEmpty)
            #expect(discarded == [10, 10, 5, 0] || discarded == [10, 10, 5])
            let record = try #require(try journal.campaign(dropped))
            #expect(record.state == .cancelled && record.counts.total == 0)
            #expect(try journal.message(first) == nil)
            #expect(try journal.queuedMessages(sender: s, campaign: dropped, after: nil, limit: 100).isEmpty)
            #expect(try journal.queuedMessages(sender: s, campaign: kept, after: nil, limit: 100).count == 3, "the other campaign is untouched")
            await #expect(throws: JournalError.self, "a cancelled campaign takes no more messages") {
                try await journal.apply([.appendMessages(campaign: dropped, createdMilliseconds: now, recipients: recipients(1))])
            }
        }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let report = try journal.recover(nowMilliseconds: now, inDoubtSettleMilliseconds: 1_000)
        #expect(report.queued == 3)
        let created = try await journal.apply([.createCampaign(sender: SenderID(1), message: [], createdMilliseconds: now, recipients: recipients(1))])
        guard case let .campaign(_, first, _) = created.results[0] else { Issue.record("\(created)"); return }
        #expect(first.rawValue == lastID + 1, "ids of discarded messages are not given out again")
    }

    @Test("an idempotency answer is stored once per scope and key, replaced only when expired, and purged")
    func idempotencyAnswers() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let journal = try Journal(directory: dir.path, configuration: configuration())
            defer { journal.close() }
            _ = try await journal.apply([.putIdempotency(answer("k1"), replacingCreatedBefore: now - 1)])
            await #expect(throws: JournalError.idempotencyKeyExists(scope: "key_a", key: "k1")) {
                try await journal.apply([.putIdempotency(answer("k1", digest: 2), replacingCreatedBefore: now - 1)])
            }
            var other = answer("k1", digest: 3)
            other.scope = "key_b"
            _ = try await journal.apply([.putIdempotency(other, replacingCreatedBefore: now - 1)])
            #expect(try journal.idempotency(scope: "key_a", key: "k1") == answer("k1"))
            #expect(try journal.idempotency(scope: "key_b", key: "k1")?.requestDigest.first == 3)
            #expect(try journal.idempotency(scope: "key_a", key: "k2") == nil)
            // Expired (created before the bound): replaced.
            _ = try await journal.apply([.putIdempotency(answer("k1", created: now + 10, digest: 4), replacingCreatedBefore: now + 1)])
            #expect(try journal.idempotency(scope: "key_a", key: "k1")?.requestDigest.first == 4)
            await #expect(throws: JournalError.self, "a key longer than 255 bytes is refused") {
                try await journal.apply([.putIdempotency(answer(String(repeating: "k", count: 256)), replacingCreatedBefore: 0)])
            }
        }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        #expect(try journal.idempotency(scope: "key_a", key: "k1")?.requestDigest.first == 4, "answers survive a reopen")
        let purged = try await journal.apply([.purgeIdempotency(createdBefore: now + 5, max: 100)])
        #expect(purged.results == [.purged(1)], "only key_b's answer (created at now) is older than the bound")
        #expect(try journal.idempotency(scope: "key_b", key: "k1") == nil)
        #expect(try journal.idempotency(scope: "key_a", key: "k1") != nil)
    }

    @Test("a node's handover answers (scope node:…) outlive a client's 24 h: a batch sent again days later is still answered once")
    func handoverAnswersAreKeptLonger() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        var handover = answer("handover/7/1-1000/1000")
        handover.scope = IdempotencyRecord.nodeScopePrefix + "a"
        _ = try await journal.apply([.putIdempotency(handover, replacingCreatedBefore: now - 1), .putIdempotency(answer("k1"), replacingCreatedBefore: now - 1)])
        let day = IdempotencyRecord.lifetimeMilliseconds
        #expect(handover.isLive(nowMilliseconds: now + 3 * day) && !answer("k1").isLive(nowMilliseconds: now + day))
        // Three days on: the client's answer is purged, the node's stays.
        let purged = try await journal.apply([.purgeIdempotency(createdBefore: now + 3 * day - day, max: 100)])
        #expect(purged.results == [.purged(1)])
        #expect(try journal.idempotency(scope: "key_a", key: "k1") == nil)
        #expect(try journal.idempotency(scope: handover.scope, key: handover.key) != nil)
        // Past 30 days it goes too.
        let later = try await journal.apply([.purgeIdempotency(createdBefore: now + IdempotencyRecord.handoverLifetimeMilliseconds - day + 1, max: 100)])
        #expect(later.results == [.purged(1)])
        #expect(!handover.isLive(nowMilliseconds: now + IdempotencyRecord.handoverLifetimeMilliseconds))
    }

    @Test("a journal written before the idempotency table opens and gains it, empty")
    func olderJournalGainsIdempotencyTable() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        do {
            // What the build with API keys wrote: eight tables and the meta entries.
            let env = try Environment(directory: dir.path, mapSizeBytes: 1 << 20, noSync: false)
            let txn = try env.beginWrite()
            for name in ["meta", "messages", "pending", "due", "inflight", "campaigns", "senders", "keys"] { _ = try txn.openDatabase(name, create: true) }
            let meta = try #require(try txn.openDatabase(Schema.meta, create: false))
            try Array(Schema.metaMagicKey.utf8).withUnsafeBytes { k in try Array(Schema.magic.utf8).withUnsafeBytes { try txn.put(meta, k, $0) } }
            let version = withUnsafeBytes(of: Schema.version.bigEndian) { Array($0) }
            try Array(Schema.metaVersionKey.utf8).withUnsafeBytes { k in try version.withUnsafeBytes { try txn.put(meta, k, $0) } }
            #expect(try txn.openDatabase(Schema.idempotency, create: false) == nil)
            try txn.commit()
        }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        #expect(try journal.idempotency(scope: "key_a", key: "k1") == nil)
        _ = try await journal.apply([.putIdempotency(answer("k1"), replacingCreatedBefore: 0)])
        #expect(try journal.idempotency(scope: "key_a", key: "k1") == answer("k1"))
    }
}
