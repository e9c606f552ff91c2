import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

/// Runs `body` in a write transaction of its own, beside the writer: how the tests below
/// break the journal's invariants on purpose.
private func corrupt(_ journal: Journal, _ body: (borrowing Transaction, Tables) throws -> Void) throws {
    let txn = try journal.environment.beginWrite()
    try body(txn, journal.tables)
    try txn.commit()
}

/// A journal holding a message in each waiting state and some sent ones.
private func mixedJournal(_ dir: TemporaryDirectory) async throws -> (Journal, SenderID, CampaignID, MessageID) {
    let journal = try Journal(directory: dir.path, configuration: configuration())
    let (sender, campaign, first) = try await seed(journal, count: 10)
    let id = { (i: UInt64) in MessageID(first.rawValue + i) }
    _ = try await journal.apply([.transition([
        transition(id(0), .inFlight), transition(id(1), .inFlight), transition(id(2), .inFlight), transition(id(3), .inFlight),
    ])])
    _ = try await journal.apply([.transition([
        transition(id(1), .retryAt, notBefore: now + 5_000), transition(id(2), .inDoubt, notBefore: now + 9_000),
        transition(id(3), .sent, wamid: "wamid.3"),
    ])])
    return (journal, sender, campaign, first)
}

@Suite struct JournalCheckTests {
    @Test func aCleanJournalPasses() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (journal, _, _, _) = try await mixedJournal(dir)
        defer { journal.close() }
        let report = try journal.check()
        #expect(report.isClean, "\(report.violations)")
        #expect(report.messages == 10 && report.campaigns == 1 && report.pending == 6 && report.due == 2 && report.inFlight == 1)
    }

    @Test func aMissingIndexEntryIsReported() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (journal, sender, campaign, first) = try await mixedJournal(dir)
        defer { journal.close() }
        let queued = MessageID(first.rawValue + 5)
        try corrupt(journal) { txn, tables in
            try Key.pending(sender, campaign, queued).withBytes { _ = try txn.delete(tables.pending, $0) }
            try Key.due(sender, notBefore: now + 5_000, MessageID(first.rawValue + 1)).withBytes { _ = try txn.delete(tables.due, $0) }
        }
        let report = try journal.check()
        #expect(report.violationCount == 2)
        #expect(report.violations.contains(JournalViolation(table: "messages", key: "\(queued)", problem: "queued but no 'pending' entry")))
        #expect(report.violations.contains(JournalViolation(table: "messages", key: "\(first.rawValue + 1)", problem: "retry_at but no 'due' entry")))
    }

    @Test func bogusIndexEntriesAreReported() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (journal, sender, campaign, first) = try await mixedJournal(dir)
        defer { journal.close() }
        let sent = MessageID(first.rawValue + 3)
        try corrupt(journal) { txn, tables in
            // A pending entry for a message that does not exist, one for a sent message,
            // an inflight entry for a queued one and a due entry with the wrong time.
            try Key.pending(sender, campaign, MessageID(9_999)).withBytes { try txn.put(tables.pending, $0, emptyValue) }
            try Key.pending(sender, campaign, sent).withBytes { try txn.put(tables.pending, $0, emptyValue) }
            try Key(id: first.rawValue + 6).withBytes { try txn.put(tables.inflight, $0, emptyValue) }
            try Key.due(sender, notBefore: now, MessageID(first.rawValue + 2)).withBytes { try txn.put(tables.due, $0, emptyValue) }
        }
        let report = try journal.check()
        let problems = report.violations.map(\.description)
        #expect(problems.contains("pending \(sender)/\(campaign)/9999: message 9999 does not exist or does not decode"))
        #expect(problems.contains("pending \(sender)/\(campaign)/\(sent): message \(sent) is sent, not queued"))
        #expect(problems.contains("inflight \(first.rawValue + 6): message \(first.rawValue + 6) is queued, not in_flight"))
        #expect(problems.contains("due \(sender)/\(now)/\(first.rawValue + 2): message \(first.rawValue + 2) has not-before \(now + 9_000)"))
        #expect(report.violationCount == 4, "\(problems)")
    }

    @Test func countsThatDisagreeAndMissingCampaignsAreReported() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (journal, _, campaign, _) = try await mixedJournal(dir)
        defer { journal.close() }
        try corrupt(journal) { txn, tables in
            let key = Key(id: campaign.rawValue)
            var record = try key.withBytes { try CampaignCodec.readStored(id: campaign, #require(try txn.get(tables.campaigns, $0)), RecordCipher(key: nil)) }
            record.counts[.queued] = 7
            record.counts[.sent] = 0
            let final = record
            try key.withBytes { try txn.putReserving(tables.campaigns, $0, count: CampaignCodec.storedSize(final), append: false) { CampaignCodec.writeStored(final, to: $0) } }
        }
        var report = try journal.check()
        #expect(report.violations == [JournalViolation(
            table: "campaigns", key: "\(campaign)", problem: "counts disagree with its messages: queued 7 stored, 6 found, sent 0 stored, 1 found")])
        try corrupt(journal) { txn, tables in try Key(id: campaign.rawValue).withBytes { _ = try txn.delete(tables.campaigns, $0) } }
        report = try journal.check()
        #expect(report.violationCount == 10)
        #expect(report.violations.allSatisfy { $0.problem == "its campaign \(campaign) does not exist" })
    }
}

@Suite struct JournalLockTests {
    @Test func aSecondWriterIsRefusedAndReadersAreNot() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        _ = try await seed(journal, count: 3)
        #expect(throws: JournalError.locked(path: dir.path)) { try Journal(directory: dir.path, configuration: configuration()) }
        #expect("\(JournalError.locked(path: dir.path))".contains("\(dir.path)/sluice.lock"))
        #expect(throws: JournalError.locked(path: dir.path)) { try Journal.compact(directory: dir.path, configuration: configuration()) }
        var inspect = configuration()
        inspect.writerLock = false
        let reader = try Journal(directory: dir.path, configuration: inspect)
        #expect(try reader.statistics().messages == 3)
        reader.close()
        journal.close()
        // Closed: the lock is free again.
        let reopened = try Journal(directory: dir.path, configuration: configuration())
        reopened.close()
    }
}

@Suite struct JournalCompactionTests {
    @Test func aJournalWithManyDeletedRecordsShrinksAndKeepsItsMessages() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        let (sender, kept, first) = try await seed(journal, count: 2_000)
        var removed: [CampaignID] = []
        for _ in 0..<10 {
            let r = try await journal.apply([.createCampaign(sender: sender, message: Array("{}".utf8), createdMilliseconds: now, recipients: recipients(5_000))])
            guard case let .campaign(id, from, n) = r.results[0] else { Issue.record("\(r)"); return }
            removed.append(id)
            let ids = (0..<UInt64(n)).map { MessageID(from.rawValue + $0) }
            _ = try await journal.apply([.transition(ids.map { transition($0, .inFlight) })])
            _ = try await journal.apply([.transition(ids.map { transition($0, .sent) })])
        }
        for id in removed {
            var from = MessageID(0)
            while true {
                let r = try await journal.apply([.removeCampaign(id, messagesFrom: from, max: 20_000)])
                guard case let .removed(_, resume) = r.results[0] else { Issue.record("\(r)"); return }
                guard let resume else { break }
                from = resume
            }
        }
        let before = try journal.statistics()
        journal.close()
        #expect(before.messages == 2_000 && before.campaigns == 1)

        let report = try Journal.compact(directory: dir.path, configuration: configuration())
        #expect(report.bytesBefore == before.fileBytes)
        #expect(report.bytesAfter * 4 < report.bytesBefore, "\(report)")
        #expect(report.messages == 2_000)
        #expect(!FileManager.default.fileExists(atPath: dir.path + ".compacting"))

        let compacted = try Journal(directory: dir.path, configuration: configuration())
        defer { compacted.close() }
        #expect(try compacted.check().isClean)
        #expect(try compacted.campaign(kept)?.counts[.queued] == 2_000)
        #expect(try compacted.message(first)?.to == recipients(1)[0].to)
        #expect(try compacted.queuedMessages(sender: sender, campaign: kept, after: nil, limit: 5_000).count == 2_000)
        // Ids of removed campaigns and messages are not given out again.
        let next = try await compacted.apply([.createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: recipients(1))])
        guard case let .campaign(id, message, _) = next.results[0] else { Issue.record("\(next)"); return }
        #expect(id.rawValue == removed.last!.rawValue + 1)
        #expect(message.rawValue == first.rawValue + 2_000 + 50_000)
    }
}

@Suite struct RetentionJournalTests {
    @Test func finishedOldCampaignsAreCandidatesAndAreRemovedInSteps() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, unfinished, _) = try await seed(journal, count: 5)
        let r = try await journal.apply([.createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: recipients(23))])
        guard case let .campaign(finished, from, _) = r.results[0] else { Issue.record("\(r)"); return }
        // Interleaved with the finished campaign's ids: another campaign's messages.
        _ = try await journal.apply([.createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: recipients(4))])
        let ids = (0..<UInt64(23)).map { MessageID(from.rawValue + $0) }
        _ = try await journal.apply([.transition(ids.map { transition($0, .inFlight) })])
        _ = try await journal.apply([.transition(ids.map { transition($0, .failed) })])

        // The last change was at now + 1: not older than a cutoff at now + 1.
        #expect(try journal.retentionCandidates(cutoffMilliseconds: now + 1).isEmpty)
        let candidates = try journal.retentionCandidates(cutoffMilliseconds: now + 2)
        #expect(candidates == [RetentionCandidate(campaign: finished, messages: 23, firstMessage: from, lastChangeMilliseconds: now + 1)])

        var resume: MessageID? = from
        var steps = 0
        while let position = resume {
            let step = try await journal.apply([.removeCampaign(finished, messagesFrom: position, max: 5)])
            guard case let .removed(_, next) = step.results[0] else { Issue.record("\(step)"); return }
            resume = next
            steps += 1
            #expect(try journal.check().isClean)
        }
        #expect(steps == 5)
        #expect(try journal.campaign(finished) == nil)
        #expect(try journal.message(ids[0]) == nil && journal.message(ids[22]) == nil)
        #expect(try journal.retentionTotals() == RetentionTotals(campaigns: 1, messages: 23))
        #expect(try journal.statistics().messages == 9)
        // An unfinished campaign is refused, an unknown one changes nothing.
        await #expect(throws: JournalError.campaignState(unfinished, state: .active, expected: "finished (no unsent message)")) {
            try await journal.apply([.removeCampaign(unfinished, messagesFrom: MessageID(0), max: 10)])
        }
        let again = try await journal.apply([.removeCampaign(finished, messagesFrom: MessageID(0), max: 10)])
        #expect(again.results == [.removed(messages: 0, resume: nil)])
        #expect(try journal.check().isClean)
    }

    @Test func aCampaignWithStatusEventsWaitingIsKept() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (_, campaign, first) = try await seed(journal, count: 2)
        _ = try await journal.apply([.createSubscription(SubscriptionRecord(
            url: "http://127.0.0.1:9/x", secret: "secret-secret-secret", states: [.sent], createdMilliseconds: now))])
        _ = try await journal.apply([.transition([transition(first, .inFlight), transition(MessageID(first.rawValue + 1), .inFlight)])])
        _ = try await journal.apply([.transition([transition(first, .sent), transition(MessageID(first.rawValue + 1), .sent)])])
        #expect(try journal.retentionCandidates(cutoffMilliseconds: now + 10).isEmpty)
        await #expect(throws: JournalError.self) {
            try await journal.apply([.removeCampaign(campaign, messagesFrom: first, max: 10)])
        }
        #expect(try journal.statistics().messages == 2)
    }
}

@Suite struct ForeignDirectoryTests {
    /// Every file in `dir` with its bytes; LMDB's `lock.mdb` (reader slots, no data: LMDB
    /// resets it whenever the first process opens the environment) by name only.
    private func snapshot(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            out[name] = name == "lock.mdb" ? Data() : try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
        }
        return out
    }

    private func expectRefused(_ dir: String, reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try snapshot(dir)
        #expect(sourceLocation: sourceLocation) {
            try Journal(directory: dir, configuration: configuration())
        } throws: { error in
            guard case .notAJournal(let path, let why) = error as? JournalError else { return false }
            let text = "\(error)"
            return path == dir && why.contains(reason) && text.contains(dir) && text.contains("nothing was changed")
        }
        #expect(try snapshot(dir) == before, "the directory changed", sourceLocation: sourceLocation)
    }

    @Test func randomBytesAreRefusedUntouched() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        var rng = SystemRandomNumberGenerator()
        try Data((0..<100_000).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(to: URL(fileURLWithPath: dir.path + "/data.mdb"))
        try expectRefused(dir.path, reason: "not an LMDB file")
    }

    @Test func anotherProgramsLMDBIsRefusedUntouched() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        do {
            let env = try Environment(directory: dir.path, mapSizeBytes: 1 << 20, noSync: false)
            let txn = try env.beginWrite()
            let table = try #require(try txn.openDatabase("settings", create: true))
            try Array("hello".utf8).withUnsafeBytes { k in try Array("world".utf8).withUnsafeBytes { try txn.put(table, k, $0) } }
            try txn.commit()
        }
        try expectRefused(dir.path, reason: "no 'meta' table")
    }

    @Test func aTruncatedJournalIsRefusedUntouched() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        _ = try await seed(journal, count: 20_000)
        journal.close()
        let file = dir.path + "/data.mdb"
        let whole = try Data(contentsOf: URL(fileURLWithPath: file))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: file))
        try expectRefused(dir.path, reason: "data.mdb is truncated")
        try Data().write(to: URL(fileURLWithPath: file))
        try expectRefused(dir.path, reason: "data.mdb is empty")
        try whole.prefix(100).write(to: URL(fileURLWithPath: file))
        try expectRefused(dir.path, reason: "not an LMDB file")
    }
}

/// Timings for tuning/RELIABILITY.md ("Storage"), not a pass/fail test: run with
/// `SLUICE_STORAGE_BENCH_MESSAGES=1000000 swift test --filter StorageFigures`.
@Suite struct StorageFigures {
    static let messages = Int(ProcessInfo.processInfo.environment["SLUICE_STORAGE_BENCH_MESSAGES"] ?? "") ?? 0

    @Test(.enabled(if: messages > 0)) func checkRetentionAndCompactionAtScale() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = configuration(mapSizeBytes: 1 << 30)
        c.durable = true
        let journal = try Journal(directory: dir.path, configuration: c)
        let (sender, _, _) = try await seed(journal, count: 1)
        let half = Self.messages / 2
        var finished: [CampaignID] = []
        var clock = ContinuousClock.now
        for part in 0..<2 {
            let r = try await journal.apply([.beginCampaign(sender: sender, message: Array("{}".utf8), createdMilliseconds: now)])
            guard case let .campaign(id, _, _) = r.results[0] else { return }
            var from: MessageID?
            for chunk in stride(from: 0, to: half, by: 50_000) {
                let a = try await journal.apply([.appendMessages(campaign: id, createdMilliseconds: now, recipients: recipients(min(50_000, half - chunk), from: chunk))])
                if case let .messages(first, _) = a.results[0], from == nil { from = first }
            }
            _ = try await journal.apply([.completeCampaign(id)])
            if part == 0 {
                finished.append(id)
                var next = from!.rawValue
                while next < from!.rawValue + UInt64(half) {
                    let ids = (next..<min(next + 50_000, from!.rawValue + UInt64(half))).map { MessageID($0) }
                    _ = try await journal.apply([.transition(ids.map { transition($0, .inFlight) })])
                    _ = try await journal.apply([.transition(ids.map { transition($0, .delivered) })])
                    next += 50_000
                }
            }
        }
        print("storage figures: built \(Self.messages) messages in \(ContinuousClock.now - clock)")
        clock = .now
        let report = try journal.check()
        print("storage figures: check of \(report.messages) messages, clean \(report.isClean), in \(ContinuousClock.now - clock)")
        clock = .now
        let candidates = try journal.retentionCandidates(cutoffMilliseconds: now + 10)
        print("storage figures: retention scan found \(candidates.count) campaign(s), \(candidates.reduce(0) { $0 + $1.messages }) message(s) in \(ContinuousClock.now - clock)")
        clock = .now
        for candidate in candidates {
            var from = candidate.firstMessage ?? MessageID(0)
            while true {
                let r = try await journal.apply([.removeCampaign(candidate.campaign, messagesFrom: from, max: 5_000)])
                guard case let .removed(_, resume) = r.results[0], let resume else { break }
                from = resume
            }
        }
        print("storage figures: retention removed \(half) messages (5 000 per commit) in \(ContinuousClock.now - clock)")
        let afterRemoval = try journal.statistics()
        journal.close()
        clock = .now
        let compacted = try Journal.compact(directory: dir.path, configuration: c)
        print("storage figures: compact \(compacted.bytesBefore) → \(compacted.bytesAfter) bytes (\(compacted.messages) messages) in \(ContinuousClock.now - clock); used before \(afterRemoval.usedBytes)")
        let reopened = try Journal(directory: dir.path, configuration: c)
        defer { reopened.close() }
        clock = .now
        let after = try reopened.check()
        print("storage figures: check after compaction of \(after.messages) messages, clean \(after.isClean), in \(ContinuousClock.now - clock)")
        #expect(report.isClean && after.isClean && after.messages == Self.messages - half + 1)
    }
}
