import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

/// The outbox's lanes: one campaign's flood of events does not hold up another campaign's,
/// nor incoming messages; order per message stays; version 1 journals are migrated.
@Suite("Subscription outbox: lanes")
struct OutboxLaneJournalTests {
    static let pageMax = 64

    func subscribe(_ journal: Journal, events: Set<SubscriberEventKind> = [.status]) async throws -> SubscriptionRecord {
        let receipt = try await journal.apply([
            .createSubscription(SubscriptionRecord(url: "http://127.0.0.1:1/hook", secret: "s3cret-s3cret-s3cret", events: events, createdMilliseconds: now)),
        ])
        guard case .subscription(let record) = receipt.results[0] else { fatalError("no subscription in \(receipt)") }
        return record
    }

    /// Campaign A (`floodCount` messages, cancelled: one `cancelled` event each) created
    /// before campaign B (5 messages, `sent`): A's events are all before B's by message id.
    func flood(_ journal: Journal, floodCount: Int) async throws -> (a: CampaignID, b: CampaignID, bMessages: [MessageID]) {
        let (_, a, _) = try await seed(journal, phone: "1", count: floodCount)
        let (_, b, firstB) = try await seed(journal, phone: "2", count: 5)
        let ended = try await journal.apply([.endMessages(campaign: a, to: .cancelled, max: floodCount, updatedMilliseconds: now + 1)])
        #expect(ended.results == [.moved(floodCount)])
        let bMessages = (0..<5).map { MessageID(firstB.rawValue + UInt64($0)) }
        _ = try await journal.apply([.transition(bMessages.map { transition($0, .inFlight) })])
        _ = try await journal.apply([.transition(bMessages.map { transition($0, .sent) })])
        return (a, b, bMessages)
    }

    @Test("a campaign's 3 000 cancelled events do not hold up another campaign's: its events are in the first page")
    func floodDoesNotDelayAnotherCampaign() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let sub = try await subscribe(journal)
        let (a, b, bMessages) = try await flood(journal, floodCount: 3_000)
        #expect(try journal.statistics().outbox == 3_005)

        let page = try journal.outboxHeads(subscription: sub.id, dueMilliseconds: now + 10, limit: Self.pageMax)
        #expect(page.entries.count == Self.pageMax)
        let fromB = page.entries.compactMap(\.event.status).filter { $0.campaign == b }
        #expect(fromB.map(\.message) == bMessages, "all of B's heads in the first page")
        #expect(page.entries.compactMap(\.event.status).filter { $0.campaign == a }.count == Self.pageMax - 5)
        #expect(page.resume != nil)

        // B's next events (delivered) go out in the page after their `sent` is settled,
        // while A still has thousands waiting.
        _ = try await journal.apply([.settleOutbox(page.entries.map { .delivered($0) })])
        _ = try await journal.apply([.transition(bMessages.map { transition($0, .delivered) })])
        let next = try journal.outboxHeads(subscription: sub.id, from: try #require(page.resume), dueMilliseconds: now + 10, limit: Self.pageMax)
        let delivered = next.entries.compactMap(\.event.status).filter { $0.campaign == b }
        #expect(delivered.map(\.message) == bMessages && delivered.allSatisfy { $0.state == .delivered })
    }

    @Test("draining page by page delivers every event once, in order per message, and the pass ends")
    func drainKeepsOrderPerMessage() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let sub = try await subscribe(journal)
        let (_, _, bMessages) = try await flood(journal, floodCount: 500)
        _ = try await journal.apply([.transition(bMessages.map { transition($0, .delivered) })])
        _ = try await journal.apply([.transition(bMessages.map { transition($0, .read) })])

        var cursor = OutboxCursor()
        var seen: [MessageID: [MessageState]] = [:]
        var eventIDs: Set<UInt64> = []
        var pages = 0
        while pages < 1_000 {
            pages += 1
            let page = try journal.outboxHeads(subscription: sub.id, from: cursor, dueMilliseconds: now + 10, limit: Self.pageMax)
            #expect(Set(page.entries.map(\.event.orderKey)).count == page.entries.count, "one head per message in a page")
            for entry in page.entries {
                let e = try #require(entry.event.status)
                #expect(eventIDs.insert(e.eventID).inserted, "event \(e.eventID) offered twice")
                seen[e.message, default: []].append(e.state)
            }
            _ = try await journal.apply([.settleOutbox(page.entries.map { .delivered($0) })])
            guard let resume = page.resume else {
                if try journal.statistics().outbox == 0 { break }
                cursor = OutboxCursor()
                continue
            }
            cursor = resume
        }
        #expect(try journal.statistics().outbox == 0)
        #expect(eventIDs.count == 500 + 15)
        for m in bMessages { #expect(seen[m] == [.sent, .delivered, .read]) }
        #expect(pages < 20, "\(pages) pages for 515 events")
        #expect(try journal.subscription(sub.id)?.counters == DeliveryCounters(pending: 0, delivered: 515, failedAttempts: 0, dead: 0))
        #expect(try journal.check().isClean)
    }

    @Test("a lane whose first entries wait out their backoff does not hide its later ones, and scans stay bounded")
    func backingOffEntriesDoNotHideLaterOnes() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let sub = try await subscribe(journal)
        let (_, a, _) = try await seed(journal, phone: "1", count: 1_000)
        _ = try await journal.apply([.endMessages(campaign: a, to: .cancelled, max: 1_000, updatedMilliseconds: now + 1)])
        // The first 600 failed and are not due before now + 60 s.
        var all: [OutboxEntry] = []
        var cursor: OutboxCursor? = OutboxCursor()
        while let from = cursor {
            let page = try journal.outboxHeads(subscription: sub.id, from: from, dueMilliseconds: now, limit: 1_000)
            all += page.entries
            cursor = page.resume
        }
        #expect(all.count == 1_000)
        _ = try await journal.apply([.settleOutbox(all.prefix(600).map { .failed($0, attempts: 1, nextAttemptMilliseconds: now + 60_000) })])

        var due: [OutboxEntry] = []
        var pages = 0
        cursor = OutboxCursor()
        while let from = cursor {
            pages += 1
            let page = try journal.outboxHeads(subscription: sub.id, from: from, dueMilliseconds: now, limit: Self.pageMax, scanMax: 300)
            #expect(page.scanned <= 300 + Journal.outboxLaneHeadsMax)
            due += page.entries
            cursor = page.resume
        }
        #expect(due.map(\.event.eventID) == all.suffix(400).map(\.event.eventID))
        #expect(pages < 20)
    }

    @Test("incoming messages wait in their number's lane, not behind a campaign's flood")
    func incomingMessagesHaveTheirOwnLane() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let sub = try await subscribe(journal, events: [.status, .message])
        _ = try await flood(journal, floodCount: 2_000)
        _ = try await journal.apply([.recordInbound([
            InboundJournalTests.message("wamid.1", from: "966500000001", text: "first"),
            InboundJournalTests.message("wamid.2", from: "966500000001", text: "second"),
            InboundJournalTests.message("wamid.3", from: "966500000002"),
        ])])
        let page = try journal.outboxHeads(subscription: sub.id, dueMilliseconds: now + 10, limit: Self.pageMax)
        let incoming = page.entries.compactMap { $0.event.inbound?.message.wamid }
        #expect(Set(incoming) == ["wamid.1", "wamid.3"], "one head per contact, in the first page")
        #expect(page.entries.filter { $0.event.inbound != nil }.allSatisfy { $0.event.lane == OutboxLane.number("1065") })
        #expect(OutboxLane.campaign(of: OutboxLane.number("1065")) == nil)
    }

    @Test("the cursor keeps lanes in order, forgets ranges, and stops tracking past its bound")
    func cursorPositions() {
        var cursor = OutboxCursor()
        #expect(cursor.isPassOver)
        cursor.leave(9, after: 90)
        cursor.leave(3, after: 30)
        cursor.leave(9, after: 91)
        #expect(cursor.positions.map(\.lane) == [3, 9] && cursor.position(9) == 91 && cursor.position(4) == nil)
        cursor.forget(from: 4, below: 9)
        #expect(cursor.positions.count == 2)
        cursor.forget(from: 3, below: 9)
        #expect(cursor.positions.map(\.lane) == [9])
        cursor.forget(from: 0, below: nil)
        #expect(cursor.isPassOver)
        for lane in 0..<UInt64(OutboxCursor.positionsMax) { cursor.leave(lane, after: 0) }
        #expect(!cursor.untracked)
        cursor.leave(UInt64.max, after: 0)
        #expect(cursor.untracked && cursor.positions.count == OutboxCursor.positionsMax && !cursor.isPassOver)
    }

    // MARK: Version 1 journals

    /// Rewrites every outbox entry under its version 1 key (subscription | order | event) —
    /// the first `keep` in their lane, as a migration cut short leaves them — and marks the
    /// journal version 1, as an older build left it.
    func downgrade(_ directory: String, keep: Int = 0) throws {
        let env = try Environment(directory: directory, mapSizeBytes: 64 << 20, noSync: false)
        defer { env.close() }
        let txn = try env.beginWrite()
        let outbox = try #require(try txn.openDatabase(Schema.outbox, create: false))
        let meta = try #require(try txn.openDatabase(Schema.meta, create: false))
        let entries = try txn.withCursor(outbox) { c in
            var out: [([UInt8], [UInt8])] = []
            var entry = try c.first()
            while let (key, value) = entry {
                out.append((Array(key), Array(value)))
                entry = try c.next()
            }
            return out
        }
        for (key, value) in entries.dropFirst(keep) {
            let parts = key.withUnsafeBytes { Key.outboxEntryParts($0) }
            _ = try key.withUnsafeBytes { try txn.delete(outbox, $0) }
            try Key.outbox(parts.subscription, parts.order, parts.event).withBytes { k in try value.withUnsafeBytes { try txn.put(outbox, k, $0) } }
        }
        let version = withUnsafeBytes(of: UInt32(1).bigEndian) { Array($0) }
        try Array(Schema.metaVersionKey.utf8).withUnsafeBytes { k in try version.withUnsafeBytes { try txn.put(meta, k, $0) } }
        try txn.commit()
    }

    func storedVersion(_ directory: String) throws -> UInt32? {
        try readRaw(directory, Schema.meta, key: Array(Schema.metaVersionKey.utf8)).map { v in
            v.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }
        }
    }

    func allHeads(_ journal: Journal, _ subscription: UInt64) throws -> [OutboxEntry] {
        var out: [OutboxEntry] = []
        var cursor: OutboxCursor? = OutboxCursor()
        while let from = cursor {
            let page = try journal.outboxHeads(subscription: subscription, from: from, dueMilliseconds: .max, limit: 1_000)
            out += page.entries
            cursor = page.resume
        }
        return out.sorted { $0.event.eventID < $1.event.eventID }
    }

    @Test("a version 1 journal (encrypted, status and incoming events) is migrated on open: same heads, lanes, version 2, check clean")
    func versionOneIsMigrated() async throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        var before: [OutboxEntry] = []
        var subscription: UInt64 = 0
        do {
            let journal = try dir.open()
            subscription = try await subscribe(journal, events: [.status, .message]).id
            _ = try await flood(journal, floodCount: 30)
            _ = try await journal.apply([.recordInbound([
                InboundJournalTests.message("wamid.1", from: "966500000001", text: "first"),
                InboundJournalTests.message("wamid.2", from: "966500000001", text: "second"),
            ])])
            before = try allHeads(journal, subscription)
            journal.close()
        }
        #expect(before.count == 30 + 5 + 1)
        try downgrade(dir.journal)
        #expect(try storedVersion(dir.journal) == 1)

        // Without the writer lock (`sluice journal check` beside an older server) nothing is written.
        do {
            var c = dir.configuration()
            c.writerLock = false
            let inspected = try Journal(directory: dir.journal, configuration: c)
            let report = try inspected.check()
            #expect(report.isClean && report.outbox == 30 + 5 + 2)
            #expect(try inspected.retentionCandidates(cutoffMilliseconds: .max).isEmpty, "both campaigns have events waiting")
            inspected.close()
            #expect(try storedVersion(dir.journal) == 1)
        }

        let journal = try dir.open()
        defer { journal.close() }
        #expect(try storedVersion(dir.journal) == Schema.version)
        let after = try allHeads(journal, subscription)
        #expect(after == before, "sealed fields still open: they are bound to the entry's identity, not its lane")
        #expect(after.allSatisfy { $0.event.lane == ($0.event.status.map { OutboxLane.campaign($0.campaign) } ?? OutboxLane.number("1065")) })
        let report = try journal.check()
        #expect(report.isClean && report.outbox == 30 + 5 + 2)
        // Settling works on the migrated keys, and the contact's second message follows.
        let first = try #require(after.first { $0.event.inbound?.message.wamid == "wamid.1" })
        _ = try await journal.apply([.settleOutbox([.delivered(first)])])
        #expect(try allHeads(journal, subscription).contains { $0.event.inbound?.message.wamid == "wamid.2" })
    }

    @Test("a migration cut short (some entries in lanes, some not) finishes on the next open, in batches", .timeLimit(.minutes(1)))
    func interruptedMigrationFinishes() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var subscription: UInt64 = 0
        var before: [OutboxEntry] = []
        do {
            let journal = try Journal(directory: dir.path, configuration: configuration())
            subscription = try await subscribe(journal).id
            _ = try await flood(journal, floodCount: Journal.outboxMigrationBatchMax + 2_000)
            before = try allHeads(journal, subscription)
            journal.close()
        }
        try downgrade(dir.path, keep: 100)
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        #expect(try storedVersion(dir.path) == Schema.version)
        #expect(try allHeads(journal, subscription) == before)
        #expect(try journal.check().isClean)
    }

    @Test("the check finds an entry in the wrong lane and a pending count that disagrees")
    func checkFindsLaneAndCountViolations() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var subscription: UInt64 = 0
        do {
            let journal = try Journal(directory: dir.path, configuration: configuration())
            subscription = try await subscribe(journal).id
            _ = try await flood(journal, floodCount: 3)
            journal.close()
        }
        // Move one entry to another lane.
        let env = try Environment(directory: dir.path, mapSizeBytes: 64 << 20, noSync: false)
        do {
            let txn = try env.beginWrite()
            let outbox = try #require(try txn.openDatabase(Schema.outbox, create: false))
            let (key, value) = try #require(try txn.withCursor(outbox) { c in try c.first().map { (Array($0.key), Array($0.value)) } })
            let parts = key.withUnsafeBytes { Key.outboxEntryParts($0) }
            _ = try key.withUnsafeBytes { try txn.delete(outbox, $0) }
            try Key.outboxEntry(parts.subscription, lane: 999, parts.order, parts.event).withBytes { k in try value.withUnsafeBytes { try txn.put(outbox, k, $0) } }
            try Key.outboxEntry(parts.subscription, lane: parts.lane, 1 << 40, 1).withBytes { k in try value.withUnsafeBytes { try txn.put(outbox, k, $0) } }
            try txn.commit()
        }
        env.close()
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let report = try journal.check()
        #expect(report.violations.map(\.table) == [Schema.outbox, Schema.subscriptions])
        #expect(report.violations.first?.problem.contains("lane 999") == true)
        #expect(report.violations.last?.key == String(subscription))
    }
}
