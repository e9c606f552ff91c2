import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

@Suite("Journal")
struct JournalTests {
    @Test("a campaign of 10 000 gets contiguous ids, all queued, and pages exactly once")
    func createCampaign() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }

        let (sender, campaign, first) = try await seed(journal, count: 10_000)
        let second = try await journal.apply([.appendMessages(campaign: campaign, createdMilliseconds: now, recipients: recipients(5, from: 10_000))])
        #expect(second.results == [.messages(firstMessage: MessageID(first.rawValue + 10_000), count: 5)])

        let record = try #require(try journal.campaign(campaign))
        #expect(record.counts[.queued] == 10_005)
        #expect(record.counts.total == 10_005)
        #expect(record.sender == sender)

        var seen: [MessageID] = []
        var after: MessageID? = nil
        while true {
            let page = try journal.queuedMessages(sender: sender, campaign: campaign, after: after, limit: 777)
            if page.isEmpty { break }
            #expect(page.allSatisfy { $0.state == .queued && $0.campaign == campaign && $0.sender == sender })
            seen += page.map(\.id)
            after = page.last!.id
        }
        #expect(seen == (0..<10_005).map { MessageID(first.rawValue + UInt64($0)) })

        let m = try #require(try journal.message(MessageID(first.rawValue + 42)))
        #expect(m.to == "491700000042" && m.params == ["name42", "code42"] && m.updatedMilliseconds == now)

        // A second campaign of the same sender, and one of another sender.
        let (other, otherCampaign, _) = try await seed(journal, phone: "2002", count: 3)
        let again = try await journal.apply([.createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: recipients(2))])
        guard case .campaign(let third, _, 2) = again.results[0] else { Issue.record("\(again)"); return }
        #expect(try journal.campaignsWithQueuedMessages(sender: sender) == [campaign, third])
        #expect(try journal.campaignsWithQueuedMessages(sender: other) == [otherCampaign])
        #expect(try journal.campaignsWithQueuedMessages(sender: SenderID(99)) == [])

        // Newest first, as the dashboard lists them; in id order, as GET /v1/campaigns pages.
        #expect(try journal.newestCampaigns(limit: 2).map(\.id) == [third, otherCampaign])
        #expect(try journal.newestCampaigns(limit: 50).map(\.id) == [third, otherCampaign, campaign])
        #expect(try journal.newestCampaigns(limit: 0).isEmpty)
        #expect(try journal.campaigns(after: campaign, limit: 50).map(\.id) == [otherCampaign, third])

        let stats = try journal.statistics()
        #expect(stats.messages == 10_010 && stats.pending == 10_010 && stats.campaigns == 3 && stats.senders == 2)
        #expect(stats.lastMessageID == MessageID(first.rawValue + 10_009))
    }

    @Test("transitions keep indexes and counts; forbidden ones are rejected and change nothing")
    func transitions() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, campaign, first) = try await seed(journal, count: 10)
        let ids = (0..<10).map { MessageID(first.rawValue + UInt64($0)) }

        var r = try await journal.apply([.transition(ids[0..<6].map { transition($0, .inFlight) })])
        #expect(r.results == [.transitions(applied: 6, rejected: [])])
        #expect(try journal.statistics().inFlight == 6)
        #expect(try journal.queuedMessages(sender: sender, campaign: campaign, after: nil, limit: 100).map(\.id) == Array(ids[6...]))

        r = try await journal.apply([.transition([
            MessageTransition(id: ids[0], to: .sent, attempts: 1, updatedMilliseconds: now + 2, wamid: "wamid.A"),
            transition(ids[1], .retryAt, notBefore: now + 5_000),
            transition(ids[2], .retryAt, notBefore: now + 1_000),
            transition(ids[3], .inDoubt, notBefore: now + 3_000),
            MessageTransition(id: ids[4], to: .failed, updatedMilliseconds: now + 2, errorCode: 131026, errorMessage: "undeliverable"),
            transition(ids[5], .queued),
        ])])
        #expect(r.results == [.transitions(applied: 6, rejected: [])])

        let sent = try #require(try journal.message(ids[0]))
        #expect(sent.state == .sent && sent.wamid == "wamid.A" && sent.attempts == 1 && sent.to == "491700000000" && sent.params == ["name0", "code0"])
        let failed = try #require(try journal.message(ids[4]))
        #expect(failed.state == .failed && failed.errorCode == 131026 && failed.errorMessage == "undeliverable")

        // Due only once due, ordered by time then id.
        #expect(try journal.dueMessages(sender: sender, notAfterMilliseconds: now, limit: 10).isEmpty)
        #expect(try journal.dueMessages(sender: sender, notAfterMilliseconds: now + 3_000, limit: 10).map(\.id) == [ids[2], ids[3]])
        #expect(try journal.dueMessages(sender: sender, notAfterMilliseconds: now + 9_000, limit: 10).map(\.id) == [ids[2], ids[3], ids[1]])
        #expect(try journal.dueMessages(sender: sender, notAfterMilliseconds: now + 9_000, limit: 1).map(\.id) == [ids[2]])
        #expect(try journal.earliestDueMilliseconds(sender: sender) == now + 1_000)
        #expect(try journal.earliestDueMilliseconds(sender: SenderID(77)) == nil)
        #expect(try journal.message(ids[1])?.notBeforeMilliseconds == now + 5_000)
        #expect(try journal.queuedMessages(sender: sender, campaign: campaign, after: nil, limit: 100).map(\.id) == [ids[5]] + ids[6...])

        // Forbidden (queued → sent, sent → in_flight, failed → delivered), unknown id, and a
        // late webhook (read, then delivered).
        r = try await journal.apply([.transition([
            transition(ids[6], .sent),
            transition(ids[0], .inFlight),
            transition(ids[4], .delivered),
            transition(MessageID(999_999), .inFlight),
            transition(ids[0], .read),
            transition(ids[0], .delivered),
            transition(ids[2], .inFlight),
        ])])
        #expect(r.results == [.transitions(applied: 2, rejected: [ids[6], ids[0], ids[4], MessageID(999_999), ids[0]])])
        #expect(try journal.message(ids[6])?.state == .queued)
        #expect(try journal.message(ids[0])?.state == .read)
        #expect(try journal.message(ids[0])?.wamid == "wamid.A")
        #expect(try journal.message(ids[4])?.state == .failed)

        let counts = try #require(try journal.campaign(campaign)).counts
        #expect(counts[.queued] == 5 && counts[.read] == 1 && counts[.retryAt] == 1 && counts[.inDoubt] == 1)
        #expect(counts[.failed] == 1 && counts[.inFlight] == 1 && counts.total == 10)
        let stats = try journal.statistics()
        #expect(stats.pending == 5 && stats.due == 2 && stats.inFlight == 1)
    }

    @Test("senders: ids assigned once, replaced by phone number id, conflicts refused")
    func senders() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let a = SenderRecord(id: SenderID(0), phoneNumberID: "111", tierMessagesPerSecond: 80, accessToken: "t1")
        let b = SenderRecord(id: SenderID(0), phoneNumberID: "222", tierMessagesPerSecond: 1000, burst: 3, accessToken: "t2")
        let r = try await journal.apply([.putSender(a), .putSender(b)])
        #expect(r.results == [.sender(SenderID(1)), .sender(SenderID(2))])
        var paused = a
        paused.paused = true
        paused.pauseReason = "131048 spam"
        #expect(try await journal.apply([.putSender(paused)]).results == [.sender(SenderID(1))])
        paused.id = SenderID(1)
        #expect(try journal.sender(phoneNumberID: "111") == paused)
        #expect(try journal.senders().map(\.phoneNumberID) == ["111", "222"])
        #expect(try journal.sender(phoneNumberID: "333") == nil)

        var conflict = b
        conflict.id = SenderID(1)
        await #expect(throws: JournalError.senderIDConflict(SenderID(1), phoneNumberID: "222")) {
            try await journal.apply([.putSender(conflict)])
        }
        await #expect(throws: JournalError.unknownSender(SenderID(9))) {
            try await journal.apply([.createCampaign(sender: SenderID(9), message: [], createdMilliseconds: now, recipients: recipients(1))])
        }
    }

    @Test("a number's ownership is journaled with it, kept when the rest of the sender is written, and refused for an unknown number")
    func senderFencing() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let a = SenderRecord(id: SenderID(0), phoneNumberID: "111", tierMessagesPerSecond: 80, accessToken: "t1")
        _ = try await journal.apply([.putSender(a)])
        let owned = SenderFencing(token: 4_711, sinceMilliseconds: now)
        #expect(try await journal.apply([.setSenderFencing(phoneNumberID: "111", owned)]).results == [.done])
        #expect(try journal.sender(phoneNumberID: "111")?.fencing == owned)
        // An operator's PUT (a record without it) changes the tier, not the ownership.
        var faster = a
        faster.tierMessagesPerSecond = 250
        _ = try await journal.apply([.putSender(faster)])
        let stored = try #require(try journal.sender(phoneNumberID: "111"))
        #expect(stored.tierMessagesPerSecond == 250 && stored.fencing == owned)
        // A later ownership replaces it.
        let later = SenderFencing(token: 5_000, sinceMilliseconds: now + 1)
        _ = try await journal.apply([.setSenderFencing(phoneNumberID: "111", later)])
        #expect(try journal.sender(phoneNumberID: "111")?.fencing == later)
        await #expect(throws: JournalError.self) { try await journal.apply([.setSenderFencing(phoneNumberID: "999", later)]) }
    }

    @Test("apply, close, reopen: everything is there; in_flight becomes in_doubt once")
    func durabilityAndRecovery() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var sender = SenderID(0), campaign = CampaignID(0), first = MessageID(0)
        do {
            let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
            (sender, campaign, first) = try await seed(journal, count: 100)
            let ids = (0..<5).map { MessageID(first.rawValue + UInt64($0)) }
            _ = try await journal.apply([.transition(ids.map { transition($0, .inFlight) })])
            _ = try await journal.apply([.transition([transition(ids[0], .sent, wamid: "w0"), transition(ids[1], .retryAt, notBefore: now + 10)])])
            journal.close()
            journal.close()  // idempotent
            await #expect(throws: JournalError.closed(path: dir.path)) { try await journal.apply([]) }
            #expect(throws: JournalError.closed(path: dir.path)) { try journal.message(first) }
        }
        let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
        defer { journal.close() }
        #expect(try journal.message(first)?.wamid == "w0")
        #expect(try journal.statistics().inFlight == 3)

        let report = try journal.recover(nowMilliseconds: now + 100, inDoubtSettleMilliseconds: 60_000)
        #expect(report.inFlightToInDoubt == 3)
        #expect(report.queued == 95 && report.due == 4)
        #expect(report.counts[.queued] == 95 && report.counts[.inDoubt] == 3 && report.counts[.retryAt] == 1 && report.counts[.sent] == 1)
        #expect(report.senders[sender] == RecoveryReport.SenderBacklog(queued: 95, due: 4, earliestDueMilliseconds: now + 10))
        for i in 2..<5 {
            let m = try #require(try journal.message(MessageID(first.rawValue + UInt64(i))))
            #expect(m.state == .inDoubt && m.notBeforeMilliseconds == now + 100 + 60_000)
        }
        let again = try journal.recover(nowMilliseconds: now + 200, inDoubtSettleMilliseconds: 60_000)
        #expect(again.inFlightToInDoubt == 0 && again.due == 4 && again.queued == 95)
        #expect(try journal.message(MessageID(first.rawValue + 2))?.notBeforeMilliseconds == now + 100 + 60_000)

        // New ids continue after the reopened journal's last one.
        let more = try await journal.apply([.appendMessages(campaign: campaign, createdMilliseconds: now, recipients: recipients(1))])
        #expect(more.results == [.messages(firstMessage: MessageID(first.rawValue + 100), count: 1)])
    }

    @Test("with the departure record, only in_flight messages that had begun to leave become in_doubt")
    func recoveryWithDepartures() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
        defer { journal.close() }
        let (_, _, first) = try await seed(journal, count: 10)
        let ids = (0..<6).map { MessageID(first.rawValue + UInt64($0)) }
        _ = try await journal.apply([.transition(ids.map { transition($0, .inFlight) })])
        // 0 and 1 left; 2–5 were staged and never written to the wire.
        let evidence = DepartureEvidence(departed: [ids[0].rawValue, ids[1].rawValue])
        let report = try journal.recover(nowMilliseconds: now + 100, inDoubtSettleMilliseconds: 60_000, departures: evidence)
        #expect(report.inFlightToInDoubt == 2 && report.inFlightToQueued == 4)
        #expect(report.queued == 8 && report.due == 2)
        #expect(report.counts[.queued] == 8 && report.counts[.inDoubt] == 2 && report.counts[.inFlight] == 0)
        for (i, id) in ids.enumerated() {
            let m = try #require(try journal.message(id))
            #expect(m.state == (i < 2 ? .inDoubt : .queued))
            #expect(m.attempts == 0)
        }
    }

    @Test("a wrapped departure record clears only messages staged inside the span it covers")
    func recoveryWithWrappedDepartures() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
        defer { journal.close() }
        let (_, _, first) = try await seed(journal, count: 4)
        let ids = (0..<4).map { MessageID(first.rawValue + UInt64($0)) }
        let stagedEarly = now + 1, stagedLate = now + 120_000
        _ = try await journal.apply([.transition([
            MessageTransition(id: ids[0], to: .inFlight, updatedMilliseconds: stagedEarly),
            MessageTransition(id: ids[1], to: .inFlight, updatedMilliseconds: stagedLate),
            MessageTransition(id: ids[2], to: .inFlight, updatedMilliseconds: stagedLate),
        ])])
        // The record kept departures from now + 30 s on: ids[0] may have left before that.
        let evidence = DepartureEvidence(departed: [ids[2].rawValue], coveredFromMilliseconds: now + 30_000)
        let report = try journal.recover(nowMilliseconds: now + 200_000, inDoubtSettleMilliseconds: 1_000, departures: evidence)
        #expect(report.inFlightToInDoubt == 2 && report.inFlightToQueued == 1)
        #expect(try journal.message(ids[0])?.state == .inDoubt)
        #expect(try journal.message(ids[1])?.state == .queued)
        #expect(try journal.message(ids[2])?.state == .inDoubt)
        #expect(try journal.message(ids[3])?.state == .queued)
    }

    @Test("a committed apply is visible to a second environment opened on the same path")
    func committedDataSurvivesReopenOfRawEnvironment() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
        let (_, _, first) = try await seed(journal, count: 1_000)
        journal.close()
        // A bare LMDB environment, as another process would open it after a crash.
        let env = try Environment(directory: dir.path, mapSizeBytes: 1 << 20, noSync: false)
        let txn = try env.beginRead()
        let messages = try #require(try txn.openDatabase(Schema.messages, create: false))
        #expect(try txn.entries(messages) == 1_000)
        let last = try Key(id: first.rawValue + 999).withBytes { try txn.get(messages, $0) }
        #expect(try MessageCodec.read(id: MessageID(first.rawValue + 999), #require(last), RecordCipher(key: nil)).to == "491700000999")
        txn.abort()
    }

    @Test("a tiny map grows while readers read; 100 000 messages, nothing lost")
    func mapGrowth() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration(mapSizeBytes: 1 << 20))
        defer { journal.close() }
        let (sender, campaign, first) = try await seed(journal, count: 1)

        let stop = ManagedAtomicFlag()
        let reader = Task.detached {
            var reads = 0
            while !stop.isSet {
                let page = try journal.queuedMessages(sender: sender, campaign: campaign, after: nil, limit: 50)
                #expect(page.first?.id == first)
                _ = try journal.statistics()
                reads += 1
            }
            return reads
        }
        for chunk in 0..<20 {
            let r = try await journal.apply([.appendMessages(campaign: campaign, createdMilliseconds: now, recipients: recipients(5_000, from: 1 + chunk * 5_000))])
            #expect(r.results == [.messages(firstMessage: MessageID(first.rawValue + 1 + UInt64(chunk * 5_000)), count: 5_000)])
        }
        stop.set()
        #expect(try await reader.value > 0)

        let stats = try journal.statistics()
        #expect(stats.mapGrowths > 0 && stats.mapSizeBytes > 1 << 20)
        #expect(stats.messages == 100_001 && stats.pending == 100_001)
        #expect(try journal.message(MessageID(first.rawValue + 100_000))?.to == String(491_700_000_000 + 100_000))
        #expect(try journal.campaign(campaign)?.counts[.queued] == 100_001)
        journal.close()

        // Reopened with the small configured size, the grown map is kept.
        let reopened = try Journal(directory: dir.path, configuration: configuration(mapSizeBytes: 1 << 20))
        defer { reopened.close() }
        #expect(try reopened.statistics().mapSizeBytes == stats.mapSizeBytes)
        #expect(try reopened.statistics().messages == 100_001)
    }

    @Test("64 concurrent callers: all succeed, grouped into fewer commits, all data present")
    func groupCommit() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
        defer { journal.close() }
        let (sender, campaign, _) = try await seed(journal, count: 0)
        let before = try journal.statistics()

        let firsts = try await withThrowingTaskGroup(of: MessageID.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let r = try await journal.apply([.appendMessages(campaign: campaign, createdMilliseconds: now, recipients: recipients(10, from: i * 10))])
                    guard case .messages(let first, 10) = r.results[0] else { throw JournalError.unknownCampaign(campaign) }
                    return first
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let after = try journal.statistics()
        #expect(Set(firsts).count == 64)
        #expect(after.applies - before.applies == 64)
        #expect(after.commits - before.commits < 64)
        #expect(after.messages == 640)
        #expect(try journal.queuedMessages(sender: sender, campaign: campaign, after: nil, limit: 1_000).count == 640)
    }

    @Test("a bad mutation fails its own caller only, in the same transaction as good ones")
    func badMutationFailsOnlyItsCaller() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (_, campaign, first) = try await seed(journal, count: 3)

        // The first completion holds the writer thread so that the next three calls queue
        // up and share one transaction.
        let hold = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        let results = ResultBox()
        done.enter()
        journal.apply([.transition([transition(first, .inFlight)])]) { _ in entered.signal(); hold.wait(); done.leave() }
        // Only once the writer sits in that completion are the next calls queued behind it.
        entered.wait()
        let calls: [[JournalMutation]] = [
            [.appendMessages(campaign: campaign, createdMilliseconds: now, recipients: recipients(2))],
            [.transition([transition(MessageID(first.rawValue + 1), .inFlight)]),
             .appendMessages(campaign: CampaignID(404), createdMilliseconds: now, recipients: recipients(2))],
            [.transition([transition(MessageID(first.rawValue + 2), .inFlight)])],
        ]
        for (i, call) in calls.enumerated() {
            done.enter()
            journal.apply(call) { results.set(i, $0); done.leave() }
        }
        let commitsBefore = try journal.statistics().commits
        hold.signal()
        done.wait()

        #expect(try journal.statistics().commits == commitsBefore + 1)
        #expect(try results.get(0).get().results == [.messages(firstMessage: MessageID(first.rawValue + 3), count: 2)])
        #expect(throws: JournalError.unknownCampaign(CampaignID(404))) { try results.get(1).get() }
        #expect(try results.get(2).get().results == [.transitions(applied: 1, rejected: [])])
        // The failed caller's transition was rolled back with it.
        #expect(try journal.message(MessageID(first.rawValue + 1))?.state == .queued)
        #expect(try journal.message(MessageID(first.rawValue + 2))?.state == .inFlight)
        let counts = try #require(try journal.campaign(campaign)).counts
        #expect(counts[.queued] == 3 && counts[.inFlight] == 2)

        // A single failing caller (top-level transaction path) fails alone too.
        await #expect(throws: JournalError.unknownCampaign(CampaignID(405))) {
            try await journal.apply([.appendMessages(campaign: CampaignID(405), createdMilliseconds: now, recipients: recipients(1))])
        }
        #expect(try journal.statistics().messages == 5)
    }

    @Test("close from inside a completion (the writer thread) neither deadlocks nor loses queued work")
    func closeFromCompletion() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        let (_, campaign, _) = try await seed(journal, count: 1)
        let done = DispatchGroup()
        let results = ResultBox()
        done.enter()
        done.enter()
        journal.apply([]) { _ in
            journal.close()
            done.leave()
        }
        journal.apply([.appendMessages(campaign: campaign, createdMilliseconds: now, recipients: recipients(1))]) { results.set(0, $0); done.leave() }
        done.wait()
        await #expect(throws: JournalError.closed(path: dir.path)) { try await journal.apply([]) }
        let reopened = try Journal(directory: dir.path, configuration: configuration())
        defer { reopened.close() }
        // The call queued before close either committed or was refused as closed: never lost silently.
        switch results.get(0) {
        case .success: #expect(try reopened.statistics().messages == 2)
        case .failure(let error): #expect(error == .closed(path: dir.path)); #expect(try reopened.statistics().messages == 1)
        }
    }

    @Test("a directory holding a foreign data.mdb is refused and left untouched")
    func foreignDirectoryRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let garbage = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let file = dir.path + "/data.mdb"
        try garbage.write(to: URL(fileURLWithPath: file))
        #expect {
            try Journal(directory: dir.path, configuration: configuration())
        } throws: { error in
            guard case .notAJournal(let path, _) = error as? JournalError else { return false }
            return path == dir.path && "\(error)".contains("not a Sluice journal")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == garbage)
    }

    @Test("a valid LMDB environment that is not a Sluice journal is refused")
    func foreignLMDBRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        do {
            let env = try Environment(directory: dir.path, mapSizeBytes: 1 << 20, noSync: false)
            let txn = try env.beginWrite()
            let main = try txn.mainDatabase()
            try Array("hello".utf8).withUnsafeBytes { k in try Array("world".utf8).withUnsafeBytes { try txn.put(main, k, $0) } }
            try txn.commit()
        }
        #expect {
            try Journal(directory: dir.path, configuration: configuration())
        } throws: { error in
            guard case .notAJournal = error as? JournalError else { return false }
            return true
        }
        #expect(throws: JournalError.directory(path: dir.path + "/data.mdb", reason: "a file, not a directory, is at this path")) {
            try Journal(directory: dir.path + "/data.mdb")
        }
    }

    @Test("oversized fields and applies fail clearly")
    func limits() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = configuration()
        c.applyRecordsMax = 100
        let journal = try Journal(directory: dir.path, configuration: c)
        defer { journal.close() }
        let (sender, _, _) = try await seed(journal, count: 1)
        await #expect(throws: JournalError.tooManyRecords(count: 102, applyRecordsMax: 100)) {
            try await journal.apply([.createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: recipients(101))])
        }
        let long = NewMessage(to: String(repeating: "9", count: 70_000), params: [])
        await #expect(throws: JournalError.invalidField(field: "recipients[0].to", reason: "70000 bytes, more than 65535")) {
            try await journal.apply([.createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: [long])])
        }
        #expect(try journal.statistics().campaigns == 1)
    }
}

/// A flag for stopping a background reader.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// Results of completion-handler calls, by index.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Result<JournalReceipt, JournalError>] = [:]
    func set(_ i: Int, _ r: Result<JournalReceipt, JournalError>) { lock.withLock { results[i] = r } }
    func get(_ i: Int) -> Result<JournalReceipt, JournalError> { lock.withLock { results[i]! } }
}
