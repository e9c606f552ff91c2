import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

@Suite("Journal: deleting senders, recent recipients")
struct SenderJournalTests {
    func busy(_ phone: String, _ what: String) -> JournalError { .senderBusy(phoneNumberID: phone, what: what) }

    @Test("a sender with live work is refused; once its work ended it is deleted and its id never comes back")
    func deleteSender() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, campaign, first) = try await seed(journal, count: 2)
        let (other, _, _) = try await seed(journal, phone: "2002", count: 1)
        let second = MessageID(first.rawValue + 1)

        await #expect(throws: busy("1001", "queued messages")) { try await journal.apply([.deleteSender(phoneNumberID: "1001")]) }
        _ = try await journal.apply([.transition([transition(first, .inFlight), transition(second, .inFlight)])])
        await #expect(throws: busy("1001", "messages in flight")) { try await journal.apply([.deleteSender(phoneNumberID: "1001")]) }
        _ = try await journal.apply([.transition([transition(first, .sent), transition(second, .retryAt, notBefore: now + 60_000)])])
        await #expect(throws: busy("1001", "messages waiting to retry or in doubt")) { try await journal.apply([.deleteSender(phoneNumberID: "1001")]) }
        _ = try await journal.apply([.transition([transition(second, .inFlight)]), .transition([transition(second, .failed)])])

        // An upload still arriving keeps it too.
        let begun = try await journal.apply([.beginCampaign(sender: sender, message: Array("{}".utf8), createdMilliseconds: now)])
        guard case .campaign(let upload, _, _) = begun.results[0] else { Issue.record("no campaign"); return }
        await #expect(throws: busy("1001", "a campaign still receiving its upload")) { try await journal.apply([.deleteSender(phoneNumberID: "1001")]) }
        _ = try await journal.apply([.cancelCampaign(upload, discardMax: 10)])

        let deleted = try await journal.apply([.deleteSender(phoneNumberID: "1001")])
        #expect(deleted.results == [.deletedSender(SenderRecord(id: sender, phoneNumberID: "1001", tierMessagesPerSecond: 80, accessToken: "token-1001"))])
        #expect(try journal.sender(phoneNumberID: "1001") == nil)
        #expect(try journal.senders().map(\.phoneNumberID) == ["2002"])
        #expect(try journal.campaign(campaign)?.counts[.sent] == 1, "its finished campaigns stay")
        // Nothing new can be journaled for the deleted id; the other sender is untouched.
        await #expect(throws: JournalError.unknownSender(sender)) {
            try await journal.apply([.createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: recipients(1))])
        }
        #expect(try await journal.apply([.deleteSender(phoneNumberID: "1001")]).results == [.deletedSender(nil)])
        #expect(try await journal.apply([.deleteSender(phoneNumberID: "")]).results == [.deletedSender(nil)])

        // Registered again: a new id, above every id given out before.
        let again = try await journal.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: "1001", tierMessagesPerSecond: 20, accessToken: "t"))])
        guard case .sender(let renewed) = again.results[0] else { Issue.record("no sender"); return }
        #expect(renewed > other && renewed != sender)
        journal.close()
        // And after a restart too.
        let reopened = try Journal(directory: dir.path, configuration: configuration())
        defer { reopened.close() }
        #expect(try reopened.sender(phoneNumberID: "1001")?.id == renewed)
        let third = try await reopened.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: "3003", tierMessagesPerSecond: 20, accessToken: "t"))])
        #expect(third.results == [.sender(SenderID(renewed.rawValue + 1))])
    }

    @Test("a sender read is kept in memory only until a sender is written or deleted")
    func senderReadsSeeEveryCommittedChange() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        var record = SenderRecord(id: SenderID(0), phoneNumberID: "3003", tierMessagesPerSecond: 80, accessToken: "t", appSecret: "first")
        _ = try await journal.apply([.putSender(record)])
        #expect(try journal.sender(phoneNumberID: "3003")?.appSecret == "first")
        #expect(try journal.sender(phoneNumberID: "3003")?.appSecret == "first", "from memory")
        // A new app secret (a webhook must verify with it at once), then another sender.
        record.appSecret = "second"
        _ = try await journal.apply([.putSender(record)])
        #expect(try journal.sender(phoneNumberID: "3003")?.appSecret == "second")
        _ = try await journal.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: "4004", tierMessagesPerSecond: 80, accessToken: "u"))])
        #expect(try journal.sender(phoneNumberID: "4004")?.accessToken == "u")
        #expect(try journal.sender(phoneNumberID: "3003")?.appSecret == "second")
        // A failed batch changes nothing; a deletion is seen at once.
        await #expect(throws: JournalError.self) {
            try await journal.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: "3003", tierMessagesPerSecond: 80, accessToken: "v", appSecret: "third")),
                                     .createCampaign(sender: SenderID(999), message: [], createdMilliseconds: now, recipients: recipients(1))])
        }
        #expect(try journal.sender(phoneNumberID: "3003")?.appSecret == "second")
        _ = try await journal.apply([.deleteSender(phoneNumberID: "3003")])
        #expect(try journal.sender(phoneNumberID: "3003") == nil)
        #expect(try journal.sender(phoneNumberID: "5005") == nil)
    }

    @Test("a delete and a campaign for the same sender in one commit: whichever comes first wins")
    func deleteRacesACampaign() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let put = try await journal.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: "1001", tierMessagesPerSecond: 80, accessToken: "t"))])
        guard case .sender(let sender) = put.results[0] else { Issue.record("no sender"); return }
        // Both in one transaction, the campaign first: the delete sees its messages.
        await #expect(throws: busy("1001", "queued messages")) {
            try await journal.apply([
                .createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: recipients(1)),
                .deleteSender(phoneNumberID: "1001"),
            ])
        }
        #expect(try journal.campaigns(after: nil, limit: 10).isEmpty, "the failed call changed nothing")
        // The delete first: the campaign finds no sender.
        await #expect(throws: JournalError.unknownSender(sender)) {
            try await journal.apply([
                .deleteSender(phoneNumberID: "1001"),
                .createCampaign(sender: sender, message: [], createdMilliseconds: now, recipients: recipients(1)),
            ])
        }
        #expect(try journal.sender(phoneNumberID: "1001") != nil, "the failed call changed nothing")
    }

    @Test("recent recipients: sent messages of the given senders changed since the cutoff, in pages")
    func recentRecipients() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let (sender, _, first) = try await seed(journal, count: 6)
        let (other, _, otherFirst) = try await seed(journal, phone: "2002", count: 1)
        func id(_ k: UInt64) -> MessageID { MessageID(first.rawValue + k) }
        func moved(_ m: MessageID, _ to: MessageState, at: Int64) -> MessageTransition { MessageTransition(id: m, to: to, updatedMilliseconds: at) }
        _ = try await journal.apply([.transition((0..<6).map { moved(id($0), .inFlight, at: now) } + [moved(otherFirst, .inFlight, at: now)])])
        _ = try await journal.apply([.transition([
            moved(id(0), .sent, at: now - 10), moved(id(1), .sent, at: now), moved(id(2), .failed, at: now + 1),
            moved(otherFirst, .sent, at: now + 2),
        ])])
        _ = try await journal.apply([.transition([moved(id(1), .delivered, at: now + 3), moved(id(3), .sent, at: now + 4)])])
        _ = try await journal.apply([.transition([moved(id(3), .unknown, at: now + 5)])])

        var sends: [Journal.RecipientSend] = []
        var after: MessageID?
        var pages = 0
        repeat {
            let page = try journal.recentRecipients(of: [sender], sinceMilliseconds: now, after: after, scanMax: 2)
            sends += page.sends
            after = page.resume
            pages += 1
        } while after != nil
        #expect(pages == 4, "7 messages, 2 per page")
        #expect(sends == [
            Journal.RecipientSend(sender: sender, to: "491700000001", atMilliseconds: now + 3),
            Journal.RecipientSend(sender: sender, to: "491700000003", atMilliseconds: now + 5),
        ])
        let both = try journal.recentRecipients(of: [sender, other], sinceMilliseconds: now - 10, after: nil, scanMax: 100)
        #expect(both.resume == nil)
        #expect(both.sends.map(\.to) == ["491700000000", "491700000001", "491700000003", "491700000000"])
        #expect(both.sends.last?.sender == other)
    }
}
