import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

@Suite("a campaign's messages, page by page, with their times and failures")
struct CampaignMessagesJournalTests {
    func begin(_ journal: Journal, _ sender: SenderID, options: CampaignOptions = .standard) async throws -> CampaignID {
        let receipt = try await journal.apply([.beginCampaign(sender: sender, message: Array(#"{"type":"text"}"#.utf8), createdMilliseconds: now, options: options)])
        guard case let .campaign(id, _, _) = receipt.results[0] else { throw JournalError.unknownCampaign(CampaignID(0)) }
        return id
    }

    func append(_ journal: Journal, _ campaign: CampaignID, _ people: [NewMessage]) async throws -> [MessageID] {
        let receipt = try await journal.apply([.appendMessages(campaign: campaign, createdMilliseconds: now, recipients: people)])
        guard case let .messages(first, n) = receipt.results[0] else { throw JournalError.unknownCampaign(campaign) }
        return (0..<UInt64(n)).map { MessageID(first.rawValue + $0) }
    }

    /// Every page of `campaign` with `filter`, `limit` at a time.
    func all(_ journal: Journal, _ campaign: CampaignID, filter: MessageFilter = MessageFilter(), limit: Int, scanMax: Int = Journal.messagePageScanMax) throws -> (ids: [MessageID], pages: Int) {
        var ids: [MessageID] = []
        var after: MessageID?
        var pages = 0
        repeat {
            let page = try #require(try journal.messages(of: campaign, after: after, filter: filter, limit: limit, scanMax: scanMax))
            #expect(page.messages.count <= limit)
            #expect(page.messages.allSatisfy { $0.campaign == campaign })
            ids += page.messages.map(\.id)
            after = page.next
            pages += 1
        } while after != nil && pages < 1_000
        return (ids, pages)
    }

    @Test("two uploads streaming at once: each campaign's pages hold its own messages, each once, in order")
    func interleavedCampaignsPageApart() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, _, _) = try await seed(journal, count: 3)
        let a = try await begin(journal, sender)
        let b = try await begin(journal, sender)
        var aIDs = try await append(journal, a, recipients(5))
        let bIDs = try await append(journal, b, recipients(4, from: 50))
        aIDs += try await append(journal, a, recipients(6, from: 10))

        let pagedA = try all(journal, a, limit: 4)
        #expect(pagedA.ids == aIDs)
        #expect(pagedA.pages == 3)
        #expect(try all(journal, b, limit: 100).ids == bIDs)
        // A page reads at most scanMax records: short pages, but nothing skipped or repeated.
        let narrow = try all(journal, a, limit: 100, scanMax: 3)
        #expect(narrow.ids == aIDs)
        #expect(narrow.pages > 3)
        #expect(try journal.messages(of: CampaignID(999), after: nil, limit: 10) == nil)
        let c = try await begin(journal, sender)
        #expect(try journal.messages(of: c, after: nil, limit: 10) == MessagePage(messages: [], next: nil))
        let record = try #require(try journal.campaign(a))
        #expect(record.firstMessage == aIDs.first && record.lastMessage == aIDs.last)
    }

    @Test("filters by state and code; times, the external id and the failure breakdown follow the transitions")
    func filtersTimesAndFailures() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, _, _) = try await seed(journal, count: 1)
        let campaign = try await begin(journal, sender)
        let people = (0..<6).map { NewMessage(to: String(491_700_000_100 + $0), params: ["p\($0)"], externalID: "crm-\($0)") }
        let ids = try await append(journal, campaign, people)
        _ = try await journal.apply([.completeCampaign(campaign)])
        func move(_ i: Int, _ to: MessageState, at: Int64, code: Int32 = 0) -> MessageTransition {
            MessageTransition(id: ids[i], to: to, updatedMilliseconds: at, wamid: nil, errorCode: code, errorMessage: code == 0 ? nil : "error \(code)")
        }
        _ = try await journal.apply([.transition(ids.indices.map { move($0, .inFlight, at: now + 10) })])
        _ = try await journal.apply([.transition([
            move(0, .sent, at: now + 20), move(1, .sent, at: now + 21), move(2, .failed, at: now + 22, code: 131026),
            move(3, .failed, at: now + 23, code: 131026), move(4, .failed, at: now + 24, code: 131049), move(5, .retryAt, at: now + 25, code: 130429),
        ])])
        _ = try await journal.apply([.transition([move(0, .delivered, at: now + 30), move(1, .failed, at: now + 31, code: 131050)])])
        _ = try await journal.apply([.transition([move(0, .read, at: now + 40), move(0, .read, at: now + 50)])])

        let first = try #require(try journal.message(ids[0]))
        #expect(first.times == MessageTimes(accepted: now, sent: now + 20, delivered: now + 30, read: now + 40, ended: 0))
        #expect(first.externalID == "crm-0")
        let failedAfterSent = try #require(try journal.message(ids[1]))
        #expect(failedAfterSent.times == MessageTimes(accepted: now, sent: now + 21, delivered: 0, read: 0, ended: now + 31))

        #expect(try all(journal, campaign, filter: MessageFilter(states: [.failed]), limit: 2).ids == [ids[1], ids[2], ids[3], ids[4]])
        #expect(try all(journal, campaign, filter: MessageFilter(codes: [131026]), limit: 10).ids == [ids[2], ids[3]])
        #expect(try all(journal, campaign, filter: MessageFilter(states: [.failed, .retryAt], codes: [131049, 130429]), limit: 10).ids == [ids[4], ids[5]])
        #expect(try all(journal, campaign, filter: MessageFilter(states: [.expired]), limit: 10).ids == [])

        let record = try #require(try journal.campaign(campaign))
        #expect(record.failures.entries == [.init(code: 131026, count: 2), .init(code: 131049, count: 1), .init(code: 131050, count: 1)])
        #expect(record.failures.total == record.counts[.failed])
    }

    @Test("a retry campaign names its source, and the source lists it")
    func retryLinks() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, source, _) = try await seed(journal, count: 2)
        let retry = try await begin(journal, sender, options: CampaignOptions(name: "retry of spring", labels: ["promo"], retryOf: source))
        // Options given at completion keep what it retries.
        _ = try await journal.apply([.appendMessages(campaign: retry, createdMilliseconds: now, recipients: recipients(1))])
        _ = try await journal.apply([.completeCampaign(retry, options: CampaignOptions(priority: .transactional, name: "renamed"))])
        #expect(try journal.campaign(source)?.retries == [retry])
        let record = try #require(try journal.campaign(retry))
        #expect(record.options.retryOf == source && record.options.name == "renamed" && record.options.priority == .transactional)
        await #expect(throws: JournalError.unknownCampaign(CampaignID(77))) {
            try await journal.apply([.beginCampaign(sender: sender, message: [], createdMilliseconds: now, options: CampaignOptions(retryOf: CampaignID(77)))])
        }
    }
}
