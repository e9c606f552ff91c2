import Foundation
import SluiceCore
import SluiceTransport
import Testing

@testable import SluiceEngine

/// Read receipts on the dispatch core's manual clock: each takes one of its number's
/// pacing slots, ahead of the campaign, and its caller hears WhatsApp's answer.
@Suite struct ReadReceiptCoreTests {
    let sender = SenderID(1)

    @Test func readReceiptsTakeTheNumbersSlotsAheadOfItsCampaign() throws {
        let h = CoreHarness()
        h.answer = { $0.tag & DispatchCore.readTagBit != 0 ? .httpError(httpStatus: 200) : .accepted(wamid: "wamid.\($0.tag)") }
        h.addSender(sender, tier: 10)
        h.journal.addCampaign(CampaignID(1), sender: sender, count: 200, firstID: 1)
        h.handle(.campaignAvailable(sender, CampaignID(1)))
        h.run(seconds: 3)
        let asked = h.now
        for n in 1...5 { h.handle(.readReceipt(id: UInt64(n), sender, wamid: "wamid.IN.\(n)")) }
        h.run(seconds: 7)
        #expect(h.readAnswers.map(\.id) == [1, 2, 3, 4, 5])
        #expect(h.readAnswers.allSatisfy { $0.outcome == .read })
        let after = h.sent.filter { $0.at >= asked }
        let reads = after.filter { $0.tag & DispatchCore.readTagBit != 0 }
        #expect(reads.count == 5)
        // The next five slots after the request are the read receipts'.
        #expect(after.prefix(5).allSatisfy { $0.tag & DispatchCore.readTagBit != 0 }, "\(after.prefix(6).map(\.tag))")
        #expect(h.mostInOneSecond(sender: "101") <= 10, "read receipts and messages share the tier")
        #expect(h.sent.filter { $0.tag & DispatchCore.readTagBit == 0 }.allSatisfy { h.journal.messages[MessageID($0.tag)] != nil },
                "every other request was a campaign message")
        #expect(h.journal.count(.sent) >= h.sent.count - 5 - 3, "sent, but for the last answers on the wire")
    }

    @Test func theReadReceiptBodyIsWhatTheCloudAPIAsks() throws {
        let body = try #require(try JSONSerialization.jsonObject(with: Data(DispatchCore.readBody(wamid: "wamid.HBgM\"x"))) as? [String: String])
        #expect(body == ["messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HBgM\"x"])
    }

    @Test func aRefusalReachesTheCallerWithWhatsAppsCode() {
        let h = CoreHarness()
        h.answer = { _ in .rejected(httpStatus: 400, code: 100, message: "Invalid parameter") }
        h.addSender(sender, tier: 80)
        h.handle(.readReceipt(id: 9, sender, wamid: "wamid.unknown"))
        h.run(seconds: 1)
        #expect(h.readAnswers.map(\.outcome) == [.refused(code: 100, message: "Invalid parameter")])
    }

    @Test func aReadReceiptWaitsThirtySecondsAtMostAndIsNeverSentAfterwards() {
        let h = CoreHarness()
        h.answer = { _ in .httpError(httpStatus: 200) }
        h.addSender(sender, tier: 1)
        for n in 1...40 { h.handle(.readReceipt(id: UInt64(n), sender, wamid: "wamid.IN.\(n)")) }
        h.run(seconds: 40)
        let read = h.readAnswers.filter { $0.outcome == .read }
        let late = h.readAnswers.filter { $0.outcome == .timedOut }
        #expect(read.count + late.count == 40)
        #expect((29...32).contains(read.count), "\(read.count) slots in 30 s at 1 msg/s")
        #expect(late.allSatisfy { $0.at - CoreHarness.start >= 30_000_000_000 })
        #expect(h.sent.count == read.count, "a request given up on never goes")
        #expect(h.core.scheduler.sideCount(sender: sender) == 0)
    }

    @Test func aPausedOrDeletedSenderAnswersAtOnce() {
        let h = CoreHarness()
        h.addSender(sender, tier: 80)
        h.handle(.readReceipt(id: 1, sender, wamid: "wamid.IN.1"))
        // Paused before the receipt's slot came: the caller hears it at the next tick.
        var paused = h.journal.senders[sender]!
        paused.paused = true
        paused.pauseReason = "token revoked"
        h.handle(.sender(paused))
        h.run(seconds: 0.5)
        h.handle(.readReceipt(id: 2, sender, wamid: "wamid.IN.2"))
        h.handle(.readReceipt(id: 3, SenderID(99), wamid: "wamid.IN.3"))
        #expect(h.readAnswers.map(\.outcome) == [
            .senderUnavailable("the sender was paused: token revoked"), .senderUnavailable("the sender is paused: token revoked"),
            .senderUnavailable("the sender is not registered"),
        ])
        #expect(h.sent.isEmpty)
    }

    @Test func stoppingAnswersEveryWaitingReadReceipt() {
        let h = CoreHarness()
        h.addSender(sender, tier: 1)
        for n in 1...3 { h.handle(.readReceipt(id: UInt64(n), sender, wamid: "wamid.IN.\(n)")) }
        h.handle(.stop)
        h.handle(.readReceipt(id: 4, sender, wamid: "wamid.IN.4"))
        #expect(h.readAnswers.map(\.outcome) == [.stopping, .stopping, .stopping, .stopping])
    }
}
