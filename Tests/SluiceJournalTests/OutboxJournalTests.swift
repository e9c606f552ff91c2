import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

@Suite("Subscription outbox")
struct OutboxJournalTests {
    func subscribe(_ journal: Journal, url: String = "http://127.0.0.1:1/hook", campaign: CampaignID? = nil, states: Set<MessageState>? = nil) async throws -> SubscriptionRecord {
        let receipt = try await journal.apply([.createSubscription(SubscriptionRecord(url: url, secret: "s3cret-s3cret-s3cret", campaign: campaign, states: states, createdMilliseconds: now))])
        guard case .subscription(let record) = receipt.results[0] else { fatalError("no subscription in \(receipt)") }
        return record
    }

    func heads(_ journal: Journal, _ subscription: UInt64, due: Int64 = .max) throws -> [OutboxEntry] {
        try journal.outboxHeads(subscription: subscription, dueMilliseconds: due, limit: 1_000).entries
    }

    @Test("without subscribers a transition writes no outbox entry")
    func noSubscribersNoEntries() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (_, _, first) = try await seed(journal, count: 3)
        _ = try await journal.apply([.transition([transition(first, .inFlight)])])
        _ = try await journal.apply([.transition([transition(first, .sent, wamid: "w")])])
        #expect(try journal.statistics().outbox == 0)
    }

    @Test("events are written with the transition, in order per message, one head at a time")
    func orderPerMessage() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (_, campaign, first) = try await seed(journal, phone: "1065", count: 3)
        let sub = try await subscribe(journal)
        #expect(sub.id == 1 && sub.publicID == "sub_1")
        let a = first, b = MessageID(first.rawValue + 1)
        _ = try await journal.apply([.transition([transition(a, .inFlight), transition(b, .inFlight)])])
        #expect(try journal.statistics().outbox == 0, "in_flight is not reported")
        _ = try await journal.apply([.transition([
            transition(a, .sent, wamid: "wamid.A"),
            MessageTransition(id: b, to: .failed, updatedMilliseconds: now + 2, errorCode: 131026, errorMessage: "undeliverable"),
        ])])
        _ = try await journal.apply([.transition([transition(a, .delivered)])])
        _ = try await journal.apply([.transition([transition(a, .read), transition(a, .delivered)])])  // a late delivered: rejected, no event
        #expect(try journal.statistics().outbox == 4)
        #expect(try journal.subscription(sub.id)?.counters.pending == 4)

        // Only the first event of each message is offered.
        var offered = try heads(journal, sub.id)
        #expect(offered.map(\.event.status?.message) == [a, b])
        #expect(offered.map(\.event.status?.state) == [.sent, .failed])
        let sent = try #require(offered[0].event.status)
        #expect(sent.campaign == campaign && sent.senderPhoneNumberID == "1065" && sent.recipient == "491700000000")
        #expect(sent.wamid == "wamid.A" && sent.errorCode == 0 && sent.errorMessage == nil && sent.occurredMilliseconds == now + 1)
        #expect(offered[1].event.status?.errorCode == 131026 && offered[1].event.status?.errorMessage == "undeliverable")
        #expect(offered.allSatisfy { $0.attempts == 0 && $0.nextAttemptMilliseconds == 0 })

        // Settle a's `sent`: its `delivered` comes next; a failed attempt keeps b's head back until due.
        let r = try await journal.apply([.settleOutbox([
            .delivered(offered[0]),
            .failed(offered[1], attempts: 1, nextAttemptMilliseconds: now + 5_000),
        ])])
        #expect(r.results == [.settled(2)])
        offered = try heads(journal, sub.id, due: now + 4_999)
        #expect(offered.map(\.event.status?.state) == [.delivered])
        #expect(offered[0].event.eventID > sent.eventID)
        offered = try heads(journal, sub.id, due: now + 5_000)
        #expect(offered.map(\.event.status?.state) == [.delivered, .failed])
        #expect(offered[1].attempts == 1 && offered[1].nextAttemptMilliseconds == now + 5_000)

        _ = try await journal.apply([.settleOutbox([
            .delivered(offered[0]),
            .dead(offered[1]),
            .delivered(subscription: sub.id, lane: offered[1].event.lane, message: b, eventID: 999),  // gone: skipped
        ])])
        #expect(try heads(journal, sub.id).map(\.event.status?.state) == [.read])
        let counters = try #require(try journal.subscription(sub.id)).counters
        #expect(counters == DeliveryCounters(pending: 1, delivered: 2, failedAttempts: 2, dead: 1))
    }

    @Test("a failing apply writes neither the transition nor its event")
    func atomicWithTheTransition() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (_, _, first) = try await seed(journal, count: 2)
        let sub = try await subscribe(journal)
        _ = try await journal.apply([.transition([transition(first, .inFlight)])])
        await #expect(throws: JournalError.unknownCampaign(CampaignID(77))) {
            try await journal.apply([.transition([transition(first, .sent)]), .completeCampaign(CampaignID(77))])
        }
        #expect(try journal.message(first)?.state == .inFlight)
        #expect(try journal.statistics().outbox == 0)
        #expect(try journal.subscription(sub.id)?.counters.pending == 0)

        // In a group commit, the failing caller alone is rolled back, its event with it.
        let second = MessageID(first.rawValue + 1)
        _ = try await journal.apply([.transition([transition(second, .inFlight)])])
        async let good = journal.apply([.transition([transition(first, .sent)])])
        async let bad = journal.apply([.transition([transition(second, .sent)]), .completeCampaign(CampaignID(77))])
        _ = try await good
        _ = try? await bad
        #expect(try heads(journal, sub.id).map(\.event.status?.message) == [first])
        #expect(try journal.message(second)?.state == .inFlight)
        #expect(try journal.subscription(sub.id)?.counters.pending == 1)
    }

    @Test("filters by campaign and state")
    func filters() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (_, campaignA, a) = try await seed(journal, phone: "1", count: 1)
        let (_, _, b) = try await seed(journal, phone: "2", count: 1)
        let onlyA = try await subscribe(journal, campaign: campaignA)
        let onlyDelivered = try await subscribe(journal, states: [.delivered])
        let all = try await subscribe(journal)
        await #expect(throws: JournalError.self) {
            try await journal.apply([.createSubscription(SubscriptionRecord(url: "http://x", secret: "s", states: [.inFlight], createdMilliseconds: now))])
        }
        // The journal keeps at most `subscriptionsMax`, whatever the caller checked.
        for _ in 3..<Journal.subscriptionsMax { _ = try await subscribe(journal) }
        await #expect(throws: JournalError.tooManySubscriptions(subscriptionsMax: Journal.subscriptionsMax)) {
            try await journal.apply([.createSubscription(SubscriptionRecord(url: "http://x", secret: "s", createdMilliseconds: now))])
        }
        _ = try await journal.apply([.deleteSubscription(id: UInt64(Journal.subscriptionsMax), discardMax: 10)])
        _ = try await journal.apply([.transition([transition(a, .inFlight), transition(b, .inFlight)])])
        _ = try await journal.apply([.transition([transition(a, .sent), transition(b, .sent)])])
        _ = try await journal.apply([.transition([transition(a, .delivered), transition(b, .delivered)])])
        #expect(try journal.outboxHeads(subscription: onlyA.id, dueMilliseconds: .max, limit: 10).entries.map(\.event.status?.message) == [a])
        #expect(try journal.subscription(onlyA.id)?.counters.pending == 2)
        #expect(try heads(journal, onlyDelivered.id).map(\.event.status?.state) == [.delivered, .delivered])
        #expect(try journal.subscription(all.id)?.counters.pending == 4)
        // One event id per change, shared by the subscribers that get it.
        let fromAll = try heads(journal, all.id)
        #expect(Set(try heads(journal, onlyA.id).map(\.event.eventID)).isSubset(of: Set(fromAll.map(\.event.eventID))))
    }

    @Test("subscribers, entries, counters and event ids survive a reopen; delete drops the entries")
    func survivesReopenAndDelete() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var lastEvent: UInt64 = 0
        var first = MessageID(0)
        do {
            let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
            (_, _, first) = try await seed(journal, count: 3)
            _ = try await subscribe(journal, url: "https://hooks.example.com/a")
            _ = try await journal.apply([.transition([transition(first, .inFlight), transition(MessageID(first.rawValue + 1), .inFlight)])])
            _ = try await journal.apply([.transition([transition(first, .sent), transition(MessageID(first.rawValue + 1), .sent)])])
            lastEvent = try heads(journal, 1).map(\.event.eventID).max() ?? 0
            journal.close()
        }
        let journal = try Journal(directory: dir.path, configuration: configuration(durable: true))
        defer { journal.close() }
        let stored = try #require(try journal.subscription(1))
        #expect(stored.url == "https://hooks.example.com/a" && stored.secret == "s3cret-s3cret-s3cret" && stored.counters.pending == 2)
        #expect(try heads(journal, 1).count == 2)
        // The writer remembers the subscriber: new changes still emit, with new event ids.
        _ = try await journal.apply([.transition([transition(first, .delivered)])])
        #expect(try heads(journal, 1).count == 2, "first's sent (its delivered waits behind it), and the second message's sent")
        _ = try await journal.apply([.settleOutbox([.delivered(try heads(journal, 1)[0])])])
        let next = try #require(try heads(journal, 1).first { $0.event.status?.message == first })
        #expect(next.event.status?.state == .delivered && next.event.eventID > lastEvent)
        #expect(try await subscribe(journal).id == 2, "ids are not reused")

        let r = try await journal.apply([.deleteSubscription(id: 1, discardMax: 1)])
        #expect(r.results == [.discarded(1)])
        #expect(try journal.subscription(1) == nil)
        #expect(try journal.outboxSubscriptionIDs() == [1], "one entry left behind")
        _ = try await journal.apply([.deleteSubscription(id: 1, discardMax: 100)])
        #expect(try journal.outboxSubscriptionIDs() == [])
        // A deleted subscriber gets nothing more.
        _ = try await journal.apply([.transition([transition(first, .read)])])
        #expect(try journal.statistics().outbox == 1, "only subscriber 2's event")
    }

    @Test("the deadline scan finds old sent messages and a settled prefix; unknown is counted and reported")
    func sentScanAndUnknown() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (_, campaign, first) = try await seed(journal, count: 5)
        let ids = (0..<5).map { MessageID(first.rawValue + UInt64($0)) }
        _ = try await journal.apply([.transition(ids[0..<4].map { transition($0, .inFlight) })])
        _ = try await journal.apply([.transition([
            MessageTransition(id: ids[0], to: .sent, updatedMilliseconds: now),
            MessageTransition(id: ids[1], to: .delivered, updatedMilliseconds: now),
            MessageTransition(id: ids[2], to: .sent, updatedMilliseconds: now),
            MessageTransition(id: ids[3], to: .sent, updatedMilliseconds: now + 10_000),
        ])])
        let scan = try journal.scanSent(from: ids[0], updatedBeforeMilliseconds: now + 1, scanMax: 100, limit: 100)
        #expect(scan.expired == [ids[0], ids[2]])
        #expect(scan.settledBelow == ids[3], "ids[3] is sent but not yet due")
        #expect(scan.resume == nil)
        let partial = try journal.scanSent(from: ids[0], updatedBeforeMilliseconds: now + 1, scanMax: 2, limit: 100)
        #expect(partial.expired == [ids[0]] && partial.resume == ids[2] && partial.settledBelow == ids[2])
        let bounded = try journal.scanSent(from: ids[0], below: ids[2], updatedBeforeMilliseconds: now + 1, scanMax: 100, limit: 100)
        #expect(bounded.expired == [ids[0]] && bounded.resume == nil, "ids from `below` on are not looked at")

        let sub = try await subscribe(journal)
        let r = try await journal.apply([.transition(scan.expired.map {
            MessageTransition(id: $0, to: .unknown, updatedMilliseconds: now + 2, errorMessage: "no status")
        })])
        #expect(r.results == [.transitions(applied: 2, rejected: [])])
        let counts = try #require(try journal.campaign(campaign)).counts
        #expect(counts[.unknown] == 2 && counts[.sent] == 1 && counts.total == 5)
        let events = try heads(journal, sub.id)
        #expect(events.map(\.event.status?.state) == [.unknown, .unknown])
        #expect(events[0].event.status?.errorMessage == "no status")
        // A late status still moves an unknown message on.
        _ = try await journal.apply([.transition([transition(ids[0], .delivered)])])
        #expect(try journal.message(ids[0])?.state == .delivered)
    }
}
