import SluiceCore
import Testing

@testable import SluiceJournal

/// The wamid → message index: a status without Sluice's callback data finds its message.
@Suite struct WamidIndexTests {
    @Test func aWamidFindsItsMessageAcrossResendsUntilRetentionRemovesIt() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (_, campaign, first) = try await seed(journal, count: 3)
        let ids = (0..<3).map { MessageID(first.rawValue + UInt64($0)) }
        _ = try await journal.apply([.transition(ids.map { transition($0, .inFlight) })])
        _ = try await journal.apply([.transition([
            transition(ids[0], .sent, wamid: "wamid.A"),
            transition(ids[1], .inDoubt, notBefore: now + 1_000),
            transition(ids[2], .sent),  // answered without an id
        ])])
        #expect(try journal.messageID(wamid: "wamid.A") == ids[0])
        #expect(try journal.messageID(wamid: "wamid.B") == nil)
        #expect(try journal.messageID(wamid: "") == nil)

        // Sent again after being in doubt: the new wamid is added; a status repeating a
        // known wamid changes nothing in the index.
        _ = try await journal.apply([.transition([transition(ids[1], .inFlight)])])
        _ = try await journal.apply([.transition([transition(ids[1], .sent, wamid: "wamid.B1"), transition(ids[0], .delivered, wamid: "wamid.A")])])
        _ = try await journal.apply([.transition([transition(ids[1], .delivered, wamid: "wamid.B2")])])
        #expect(try journal.messageID(wamid: "wamid.A") == ids[0])
        #expect(try journal.messageID(wamid: "wamid.B1") == ids[1])
        #expect(try journal.messageID(wamid: "wamid.B2") == ids[1])
        #expect(try journal.message(ids[1])?.wamid == "wamid.B2")

        // Reopened: the index is durable like the messages.
        journal.close()
        let reopened = try Journal(directory: dir.path, configuration: configuration())
        defer { reopened.close() }
        #expect(try reopened.messageID(wamid: "wamid.B2") == ids[1])

        // Retention removes the campaign: the wamids its records still hold go with them.
        let r = try await reopened.apply([.removeCampaign(campaign, messagesFrom: MessageID(0), max: 100)])
        guard case .removed(3, nil) = r.results[0] else { Issue.record("\(r.results)"); return }
        #expect(try reopened.messageID(wamid: "wamid.A") == nil)
        #expect(try reopened.messageID(wamid: "wamid.B2") == nil)
        // The superseded wamid of the resend is left pointing at a removed message: a
        // status for it finds no message and is ignored.
        #expect(try reopened.messageID(wamid: "wamid.B1") == ids[1])
        #expect(try reopened.message(ids[1]) == nil)
    }
}
