import SluiceCore
import Testing
@testable import SluiceJournal

@Suite("Journal: pausing, resuming, cancelling and ending campaigns")
struct CampaignLifecycleJournalTests {
    func state(_ journal: Journal, _ id: CampaignID) throws -> CampaignState? { try journal.campaign(id)?.state }

    @Test("owners move a campaign active ⇄ paused and to withdrawn; other moves are refused and change nothing")
    func stateMoves() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, campaign, _) = try await seed(journal, count: 3)

        let paused = try await journal.apply([.setCampaignState(campaign, .paused)])
        #expect(paused.results == [.campaignState(.active)])
        #expect(try state(journal, campaign) == .paused)
        // Pausing again changes nothing and is not an error.
        #expect(try await journal.apply([.setCampaignState(campaign, .paused)]).results == [.campaignState(.paused)])
        _ = try await journal.apply([.setCampaignState(campaign, .active)])
        #expect(try state(journal, campaign) == .active)
        _ = try await journal.apply([.setCampaignState(campaign, .withdrawn)])
        #expect(try state(journal, campaign) == .withdrawn)

        for refused in [CampaignState.paused, .active] {
            await #expect(throws: JournalError.campaignState(campaign, state: .withdrawn, expected: refused == .paused ? "active" : "paused")) {
                try await journal.apply([.setCampaignState(campaign, refused)])
            }
        }
        #expect(try state(journal, campaign) == .withdrawn)

        // A streamed upload still arriving is not the owner's to pause.
        let begun = try await journal.apply([.beginCampaign(sender: sender, message: Array("{}".utf8), createdMilliseconds: now)])
        guard case .campaign(let upload, _, _) = begun.results[0] else { Issue.record("no campaign"); return }
        await #expect(throws: JournalError.self) { try await journal.apply([.setCampaignState(upload, .paused)]) }
        #expect(try state(journal, upload) == .receiving)
        await #expect(throws: JournalError.unknownCampaign(CampaignID(999))) { try await journal.apply([.setCampaignState(CampaignID(999), .paused)]) }
    }

    @Test("ending a campaign moves its queued, retry_at and in_doubt messages in batches; in-flight, sent and other campaigns stay")
    func endMessages() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, campaign, first) = try await seed(journal, count: 10)
        let other = try await journal.apply([.createCampaign(sender: sender, message: Array("{}".utf8), createdMilliseconds: now, recipients: recipients(5))])
        guard case let .campaign(otherID, otherFirst, _) = other.results[0] else { Issue.record("no campaign"); return }
        func m(_ k: UInt64) -> MessageID { MessageID(first.rawValue + k) }
        _ = try await journal.apply([.transition([
            transition(m(0), .inFlight), transition(m(1), .inFlight), transition(m(2), .inFlight), transition(m(3), .inFlight),
            transition(otherFirst, .inFlight),
        ])])
        _ = try await journal.apply([.transition([
            transition(m(0), .retryAt, notBefore: now + 60_000), transition(m(1), .inDoubt, notBefore: now - 5),
            transition(m(3), .sent, wamid: "wamid.3"), transition(otherFirst, .retryAt, notBefore: now - 10),
        ])])

        let firstBatch = try await journal.apply([.endMessages(campaign: campaign, to: .cancelled, max: 4, updatedMilliseconds: now + 9)])
        #expect(firstBatch.results == [.moved(4)])
        let rest = try await journal.apply([.endMessages(campaign: campaign, to: .cancelled, max: 100, updatedMilliseconds: now + 9)])
        // 6 queued (4..9) in all, then the retry_at and in_doubt ones.
        #expect(rest.results == [.moved(4)])
        #expect(try await journal.apply([.endMessages(campaign: campaign, to: .cancelled, max: 100, updatedMilliseconds: now + 9)]).results == [.moved(0)])

        let counts = try #require(try journal.campaign(campaign)).counts
        #expect(counts[.cancelled] == 8)
        #expect(counts[.inFlight] == 1 && counts[.sent] == 1)
        #expect(counts[.queued] == 0 && counts[.retryAt] == 0 && counts[.inDoubt] == 0)
        #expect(counts.total == 10)
        #expect(try journal.message(m(0))?.state == .cancelled)
        #expect(try journal.message(m(2))?.state == .inFlight)
        #expect(try journal.message(m(3))?.state == .sent)
        #expect(try journal.queuedMessages(sender: sender, campaign: campaign, after: nil, limit: 100).isEmpty)
        // The other campaign keeps its queue and its due message, and its counts.
        #expect(try journal.queuedMessages(sender: sender, campaign: otherID, after: nil, limit: 100).count == 4)
        #expect(try journal.dueMessages(sender: sender, notAfterMilliseconds: .max, limit: 100).map(\.id) == [otherFirst])
        let otherCounts = try #require(try journal.campaign(otherID)).counts
        #expect(otherCounts[.queued] == 4 && otherCounts[.retryAt] == 1 && otherCounts[.cancelled] == 0)

        // A status for a cancelled message that had gone after all still counts.
        let late = try await journal.apply([.transition([transition(m(1), .delivered)])])
        #expect(late.results == [.transitions(applied: 1, rejected: [])])
        #expect(try #require(try journal.campaign(campaign)).counts[.cancelled] == 7)
    }

    @Test("a campaign's options survive a reopen")
    func optionsPersist() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = CampaignOptions(scheduleAtMilliseconds: now + 3_600_000, expiresAtMilliseconds: now + 7_200_000, priority: .transactional, delivery: .atMostOnce)
        var id = CampaignID(0)
        do {
            let journal = try Journal(directory: dir.path, configuration: configuration())
            let (sender, _, _) = try await seed(journal, count: 1)
            let created = try await journal.apply([.createCampaign(sender: sender, message: Array("{}".utf8), createdMilliseconds: now, recipients: recipients(2), options: options)])
            guard case .campaign(let c, _, _) = created.results[0] else { Issue.record("no campaign"); return }
            id = c
            // A transition rewrites the counts around the options.
            _ = try await journal.apply([.transition([transition(MessageID(2), .inFlight)])])
            journal.close()
        }
        let reopened = try Journal(directory: dir.path, configuration: configuration())
        defer { reopened.close() }
        let record = try #require(try reopened.campaign(id))
        #expect(record.options == options)
        #expect(record.counts[.queued] == 1 && record.counts[.inFlight] == 1)
    }
}
