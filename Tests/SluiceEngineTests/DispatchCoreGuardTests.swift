import SluiceCore
import SluiceTransport
import Testing

@testable import SluiceEngine

/// The failure guard in the dispatch core, on a manual clock: a campaign whose first 20
/// answers are the same permanent error is paused with it (what was on the wire still
/// lands), its owner's resume sends the rest, and a campaign with one success among its
/// first answers is never paused.
@Suite struct DispatchCoreGuardTests {
    static let sender = SenderID(1)
    static let campaign = CampaignID(1)
    static let refusal = SendResult.rejected(httpStatus: 400, code: 132000, message: "(#132000) Number of parameters does not match the expected number of params")

    func harness(_ answer: @escaping (OutboundRequest) -> SendResult) -> CoreHarness {
        let h = CoreHarness()
        h.addSender(Self.sender, tier: 50)
        h.journal.addCampaign(Self.campaign, sender: Self.sender, count: 300, firstID: 1)
        h.answer = answer
        h.handle(.campaignAvailable(Self.sender, Self.campaign))
        return h
    }

    @Test func aCampaignWhoseFirstTwentyFailTheSameWayIsPausedUntilItsOwnerResumesIt() {
        let h = harness { _ in Self.refusal }
        h.run(seconds: 5)
        #expect(h.pauses.count == 1 && h.pauses.first?.campaign == Self.campaign)
        #expect(h.pauses.first?.reason.contains("first 20 messages all failed with error 132000 ((#132000) Number of parameters") == true)
        #expect(h.journal.campaigns[Self.campaign]?.state == .paused)
        let failed = h.journal.count(.failed)
        // 20, and what was on the wire when the 20th answer came (tier 50 × 200 ms).
        #expect((20...32).contains(failed), "\(failed) failed before the pause")
        h.run(seconds: 3)
        #expect(h.journal.count(.failed) == failed, "nothing more is sent while paused")

        h.change(Self.campaign, to: .active)
        h.run(seconds: 10)
        #expect(h.journal.count(.failed) == 300 && h.pauses.count == 1, "resumed, it sends the rest and is not paused again")
    }

    @Test func oneSuccessAmongTheFirstAnswersKeepsItSending() {
        let h = harness { $0.tag == 1 ? .accepted(wamid: "wamid.1") : Self.refusal }
        h.run(seconds: 10)
        #expect(h.pauses.isEmpty && h.journal.count(.failed) == 299 && h.journal.count(.sent) == 1)
    }
}
