import Foundation
import SluiceCore
import Testing

@testable import SluiceJournal

/// Contacts: the suppression list and the customer window, and the gate that ends a send
/// to a suppressed contact (or a free-form one outside the window) when the journal would
/// move it to `in_flight`.
@Suite struct ContactJournalTests {
    static let phone = "1065"

    func open(_ dir: TemporaryDirectory, encrypted: Bool = false) throws -> Journal {
        var c = configuration()
        if encrypted { c.encryption = .keyFile(dir.path + ".key") }
        return try Journal(directory: dir.path, configuration: c)
    }

    /// A sender (with `window`) and a campaign of `message` to `to`.
    func campaign(_ journal: Journal, message: String, to: [String], window: CustomerWindowPolicy = .off) async throws -> (SenderID, [MessageID]) {
        let r = try await journal.apply([
            .putSender(SenderRecord(id: SenderID(0), phoneNumberID: Self.phone, tierMessagesPerSecond: 80, accessToken: "t", customerWindow: window))
        ])
        guard case .sender(let sender) = r.results[0] else { fatalError("\(r)") }
        let c = try await journal.apply([
            .createCampaign(sender: sender, message: Array(message.utf8), createdMilliseconds: now, recipients: to.map { NewMessage(to: $0, params: []) })
        ])
        guard case let .campaign(_, first, n) = c.results[0] else { fatalError("\(c)") }
        return (sender, (0..<n).map { MessageID(first.rawValue + UInt64($0)) })
    }

    func stage(_ journal: Journal, _ ids: [MessageID], at: Int64 = now + 1) async throws -> [MessageID] {
        let r = try await journal.apply([.transition(ids.map { MessageTransition(id: $0, to: .inFlight, updatedMilliseconds: at) })])
        guard case .transitions(_, let rejected) = r.results[0] else { fatalError("\(r)") }
        return rejected
    }

    func inbound(_ wamid: String, from: String, text: String, at: Int64) -> InboundMessage {
        InboundMessage(
            wamid: wamid, senderPhoneNumberID: Self.phone, from: from, timestamp: String(at / 1000), type: "text",
            object: Array(#"{"text":{"body":"\#(text)"},"type":"text"}"#.utf8), receivedMilliseconds: at)
    }

    @Test func aSuppressedContactsMessageEndsSuppressedWithoutBeingStagedAndOthersGo() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try open(dir)
        defer { journal.close() }
        let (_, ids) = try await campaign(journal, message: #"{"type":"template","template":{"name":"x"}}"#, to: ["966500000001", "966500000002", "966500000003"])
        let put = try await journal.apply([.setSuppression(phoneNumberID: Self.phone, waID: "966500000002", suppressed: true, atMilliseconds: now, source: .api)])
        #expect(put.results == [.contact(ContactRecord(phoneNumberID: Self.phone, waID: "966500000002", suppressedMilliseconds: now, suppressionSource: .api), changed: true)])
        let again = try await journal.apply([.setSuppression(phoneNumberID: Self.phone, waID: "966500000002", suppressed: true, atMilliseconds: now + 5, source: .keyword)])
        guard case .contact(let kept, false) = again.results[0] else { Issue.record("\(again)"); return }
        #expect(kept.suppressedMilliseconds == now && kept.suppressionSource == .api, "the first time and source stay")

        #expect(try await stage(journal, ids) == [ids[1]])
        #expect(try journal.message(ids[0])?.state == .inFlight)
        #expect(try journal.message(ids[1])?.state == .suppressed)
        #expect(try journal.message(ids[2])?.state == .inFlight)
        let campaignID = try #require(try journal.message(ids[0])).campaign
        let counts = try #require(try journal.campaign(campaignID)?.counts)
        #expect(counts[.suppressed] == 1 && counts[.inFlight] == 2)
        #expect(try journal.check().isClean)

        // Off the list: a later campaign's message to it goes again.
        _ = try await journal.apply([.setSuppression(phoneNumberID: Self.phone, waID: "966500000002", suppressed: false, atMilliseconds: now, source: .api)])
        let (_, more) = try await campaign(journal, message: #"{"type":"template","template":{"name":"x"}}"#, to: ["966500000002"])
        #expect(try await stage(journal, more).isEmpty)
        #expect(try journal.contact(phoneNumberID: Self.phone, waID: "966500000002")?.isSuppressed == false)
    }

    @Test func anOptOutKeywordSuppressesStartLiftsAndTheWindowFollowsTheLastMessage() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try open(dir, encrypted: true)
        defer { journal.close(); try? FileManager.default.removeItem(atPath: dir.path + ".key") }
        let hour: Int64 = 3_600_000
        // 01 wrote an hour ago; 02 wrote 25 h ago; 03 never wrote; 04 wrote STOP.
        _ = try await journal.apply([
            .putSender(SenderRecord(id: SenderID(0), phoneNumberID: Self.phone, tierMessagesPerSecond: 80, accessToken: "t", customerWindow: .enforce)),
            .recordInbound(
                [
                    inbound("w.1", from: "966500000001", text: "hello", at: now - hour),
                    inbound("w.2", from: "966500000002", text: "hello", at: now - 25 * hour),
                    inbound("w.4", from: "966500000004", text: "stop", at: now - hour),
                ], actions: [nil, nil, .optOut]),
        ])
        let four = try #require(try journal.contact(phoneNumberID: Self.phone, waID: "966500000004"))
        #expect(four.isSuppressed && four.suppressionSource == .keyword && four.lastInboundMilliseconds == now - hour)
        #expect(try journal.contact(phoneNumberID: Self.phone, waID: "966500000003") == nil)

        let to = ["966500000001", "966500000002", "966500000003", "966500000004"]
        let (_, free) = try await campaign(journal, message: #"{"type":"text","text":{"body":"Hi"}}"#, to: to, window: .enforce)
        #expect(Set(try await stage(journal, free)) == Set(free[1...]))
        #expect(try journal.message(free[0])?.state == .inFlight)
        for id in free[1...2] {
            let m = try #require(try journal.message(id))
            #expect(m.state == .failed && m.errorCode == 131047 && m.errorMessage?.contains("customer_window: enforce") == true)
        }
        #expect(try journal.message(free[3])?.state == .suppressed, "suppression comes first")

        // A template is sent outside the window; the suppressed contact still is not.
        let (_, template) = try await campaign(journal, message: #"{"type":"template","template":{"name":"x"}}"#, to: to, window: .enforce)
        #expect(try await stage(journal, template) == [template[3]])

        // START takes 04 off the list, and opens its window.
        _ = try await journal.apply([.recordInbound([inbound("w.5", from: "966500000004", text: "START", at: now)], actions: [.optIn])])
        #expect(try journal.contact(phoneNumberID: Self.phone, waID: "966500000004")?.isSuppressed == false)
        let (_, after) = try await campaign(journal, message: #"{"type":"text","text":{"body":"Hi"}}"#, to: ["966500000004"], window: .enforce)
        #expect(try await stage(journal, after).isEmpty)
        // A late redelivery of an older message does not move the last inbound back.
        _ = try await journal.apply([.recordInbound([inbound("w.0", from: "966500000004", text: "old", at: now - 30 * hour)])])
        #expect(try journal.contact(phoneNumberID: Self.phone, waID: "966500000004")?.lastInboundMilliseconds == now)
    }

    @Test func theListPagesStablyAndSurvivesEncryptionAndTheNumbersReRegistration() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove(); try? FileManager.default.removeItem(atPath: dir.path + ".key") }
        var journal = try open(dir)
        _ = try await journal.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: Self.phone, tierMessagesPerSecond: 80, accessToken: "t"))])
        let numbers = (0..<250).map { String(966_500_000_000 + $0) }
        _ = try await journal.apply(numbers.map { .setSuppression(phoneNumberID: Self.phone, waID: $0, suppressed: true, atMilliseconds: now, source: .api) })
        // Another number's list is its own.
        _ = try await journal.apply([.setSuppression(phoneNumberID: "2077", waID: numbers[0], suppressed: true, atMilliseconds: now, source: .api)])
        journal.close()
        // Encrypted from now on: the same keys find the same contacts.
        journal = try open(dir, encrypted: true)
        defer { journal.close() }
        #expect(try journal.suppressions(phoneNumberID: "2077", after: nil, limit: 10).contacts.map(\.waID) == [numbers[0]])

        var seen: [String] = []
        var cursor: SuppressionCursor?
        var pages = 0
        repeat {
            let page = try journal.suppressions(phoneNumberID: Self.phone, after: cursor, limit: 100)
            seen += page.contacts.map(\.waID)
            cursor = page.next
            pages += 1
            if pages == 1 {
                // Taken off between pages: the next pages neither repeat nor skip others.
                let gone = try #require(page.contacts.last).waID
                _ = try await journal.apply([.setSuppression(phoneNumberID: Self.phone, waID: gone, suppressed: false, atMilliseconds: now, source: .api)])
            }
        } while cursor != nil && pages < 10
        #expect(pages == 3)
        #expect(seen.count == 250 && Set(seen) == Set(numbers))

        // Deleted and registered again (a new sender id): the opt-outs still hold.
        _ = try await journal.apply([.deleteSender(phoneNumberID: Self.phone)])
        _ = try await journal.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: Self.phone, tierMessagesPerSecond: 80, accessToken: "t"))])
        #expect(try journal.suppressions(phoneNumberID: Self.phone, after: nil, limit: 1_000).contacts.count == 249)
        #expect(try journal.contact(phoneNumberID: Self.phone, waID: numbers[5])?.isSuppressed == true)
    }
}
