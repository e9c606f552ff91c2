import Foundation
import SluiceCore
@testable import SluiceJournal

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-journal-tests-\(UUID().uuidString)").path
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func configuration(durable: Bool = false, mapSizeBytes: Int = 64 << 20) -> JournalConfiguration {
    var c = JournalConfiguration()
    c.durable = durable
    c.mapSizeBytes = mapSizeBytes
    return c
}

func recipients(_ n: Int, from start: Int = 0) -> [NewMessage] {
    (start..<start + n).map { NewMessage(to: String(491_700_000_000 + $0), params: ["name\($0)", "code\($0 % 97)"]) }
}

let now: Int64 = 1_750_000_000_000

/// A sender and a campaign with `count` queued messages.
func seed(_ journal: Journal, phone: String = "1001", count: Int) async throws -> (SenderID, CampaignID, MessageID) {
    let receipt = try await journal.apply([
        .putSender(SenderRecord(id: SenderID(0), phoneNumberID: phone, tierMessagesPerSecond: 80, accessToken: "token-\(phone)")),
    ])
    guard case .sender(let sender) = receipt.results[0] else { fatalError("no sender in \(receipt)") }
    let created = try await journal.apply([
        .createCampaign(sender: sender, message: Array(#"{"type":"template"}"#.utf8), createdMilliseconds: now, recipients: recipients(count)),
    ])
    guard case let .campaign(campaign, first, n) = created.results[0], n == count else { fatalError("no campaign in \(created)") }
    return (sender, campaign, first)
}

func transition(_ id: MessageID, _ to: MessageState, notBefore: Int64 = 0, wamid: String? = nil) -> MessageTransition {
    MessageTransition(id: id, to: to, notBeforeMilliseconds: notBefore, updatedMilliseconds: now + 1, wamid: wamid)
}
