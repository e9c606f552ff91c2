import Foundation
import SluiceCore
import SluiceJournal
import Testing
@testable import SluiceEngine

/// Staging re-checks what it read: a message whose state moved between the dispatch
/// loop's read and its move to `in_flight` is not sent.
@Suite struct StagingTests {
    @Test func aMessageSettledOrCancelledAfterItWasReadIsNotStaged() async throws {
        let dir = NSTemporaryDirectory() + "sluice-staging-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var configuration = JournalConfiguration()
        configuration.durable = false
        let journal = try Journal(directory: dir, configuration: configuration)
        defer { journal.close() }
        let now: Int64 = 1_750_000_000_000
        let senderReceipt = try await journal.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: "1065", tierMessagesPerSecond: 80, accessToken: "t"))])
        guard case .sender(let sender) = senderReceipt.results[0] else { Issue.record("\(senderReceipt)"); return }
        let created = try await journal.apply([.createCampaign(
            sender: sender, message: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8), createdMilliseconds: now,
            recipients: (0..<3).map { NewMessage(to: "96650000000\($0)", params: []) })])
        guard case .campaign(_, let first, _) = created.results[0] else { Issue.record("\(created)"); return }
        let ids = (0..<3).map { MessageID(first.rawValue + UInt64($0)) }
        // Three messages left and are in doubt (a crash), due now.
        _ = try await journal.apply([.transition(ids.map { MessageTransition(id: $0, to: .inFlight, updatedMilliseconds: now) })])
        _ = try await journal.apply([.transition(ids.map { MessageTransition(id: $0, to: .inDoubt, notBeforeMilliseconds: now, updatedMilliseconds: now) })])
        let read = try ids.map { try #require(try journal.message($0)) }

        // Between the read and the staging, a status proves the second was delivered.
        _ = try await journal.apply([.transition([MessageTransition(id: ids[1], to: .delivered, updatedMilliseconds: now + 1, wamid: "wamid.2")])])
        let receipt = try await journal.apply([.transition(read.map { MessageTransition(id: $0.id, to: .inFlight, updatedMilliseconds: now + 2) })])
        #expect(receipt.results == [.transitions(applied: 2, rejected: [ids[1]])])
        #expect(DispatchLoop.staged(read, receipt).map(\.id) == [ids[0], ids[2]], "the delivered message is not sent again")
        #expect(try journal.message(ids[1])?.state == .delivered)
    }
}
