import SluiceCore
import Testing

@testable import SluiceEngine

/// Campaigns that send an uploaded file, on a manual clock: nothing goes before the file
/// has a Meta media id for the number, every message then names that id, an id near its
/// end is uploaded again while the old one still sends, one at its end holds the
/// campaign, and a failed upload pauses it with the reason.
@Suite struct DispatchCoreMediaTests {
    static let sender = SenderID(1)
    static let campaign = CampaignID(1)
    static let message = #"{"type":"image","image":{"media":"up_a","caption":"Hi {{1}}"}}"#

    /// Lifetime 60 s, renewed when 20 s are left, not sent in its last 5 s, looked at every second.
    static func harness(count: Int) -> CoreHarness {
        let h = CoreHarness {
            $0.mediaUploadLifetimeMilliseconds = 60_000
            $0.mediaUploadRefreshMilliseconds = 20_000
            $0.mediaUploadMarginMilliseconds = 5_000
            $0.mediaUploadCheckIntervalMilliseconds = 1_000
        }
        h.addSender(sender, tier: 10)
        h.journal.addCampaign(campaign, sender: sender, count: count, firstID: 1, message: message)
        h.handle(.campaignAvailable(sender, campaign))
        return h
    }

    static func upload(_ h: CoreHarness, metaID: String) {
        let upload = MediaUpload(media: "up_a", sender: sender, metaID: metaID, uploadedMilliseconds: h.wall, expiresMilliseconds: h.wall + 60_000)
        h.journal.uploads["up_a/\(sender)"] = upload
        h.handle(.mediaUploaded(upload))
    }

    static func bodies(_ h: CoreHarness, naming metaID: String) -> Int {
        h.sent.count { String(decoding: $0.body, as: UTF8.self).contains(#""image":{"caption":"#) && String(decoding: $0.body, as: UTF8.self).contains(#""id":"\#(metaID)""#) }
    }

    @Test func aCampaignWaitsForItsUploadThenEveryMessageNamesTheNumbersMediaID() {
        let h = Self.harness(count: 100)
        h.run(seconds: 2)
        #expect(h.sent.isEmpty, "nothing goes before the file has an id")
        #expect(h.uploadRequests.map(\.media) == ["up_a"] && h.uploadRequests.first?.sender == Self.sender)
        #expect(h.publications.last?.campaignsPreparing == [Self.campaign])

        Self.upload(h, metaID: "7700000000000001")
        h.run(seconds: 3)
        #expect((25...35).contains(h.sent.count), "\(h.sent.count) sent in 3 s at tier 10")
        #expect(Self.bodies(h, naming: "7700000000000001") == h.sent.count)
        #expect(!h.sent.contains { String(decoding: $0.body, as: UTF8.self).contains("media") }, "Sluice's own id never reaches WhatsApp")
        #expect(h.publications.last?.campaignsPreparing.isEmpty == true)
        #expect(h.uploadRequests.count == 1)
    }

    @Test func anIDNearItsEndIsRenewedWhileItSendsAndOneAtItsEndHoldsTheCampaign() {
        let h = Self.harness(count: 2_000)
        Self.upload(h, metaID: "first")
        h.run(seconds: 38)
        #expect(h.uploadRequests.count == 1, "renewed only once 20 s are left")
        h.run(seconds: 4)
        #expect(h.uploadRequests.count == 2, "asked again at 40 s of 60")
        // No answer: the old id sends until 5 s before its end (within the check's second),
        // then the campaign waits.
        h.run(seconds: 15)
        let atEnd = h.sent.count
        h.run(seconds: 5)
        #expect(h.sent.count == atEnd, "\(h.sent.count - atEnd) sent with an id at its end")
        #expect(h.publications.last?.campaignsPreparing == [Self.campaign])
        #expect(Self.bodies(h, naming: "first") == atEnd && (545...565).contains(atEnd), "\(atEnd) sent in 55–56 s at tier 10")

        Self.upload(h, metaID: "second")
        h.run(seconds: 3)
        #expect(Self.bodies(h, naming: "second") >= 25, "the new id sends")
        #expect(h.journal.count(.failed) == 0)
    }

    @Test func aFailedUploadPausesItsCampaignWithTheReasonAndResumeAsksAgain() {
        let h = Self.harness(count: 50)
        h.run(seconds: 1)
        h.handle(.mediaUploadFailed(Self.sender, "up_a", reason: "WhatsApp answered HTTP 401"))
        h.run(seconds: 2)
        #expect(h.pauses.count == 1 && h.pauses.first?.campaign == Self.campaign)
        #expect(h.pauses.first?.reason.contains("uploading media up_a") == true && h.pauses.first?.reason.contains("HTTP 401") == true)
        #expect(h.journal.campaigns[Self.campaign]?.state == .paused && h.sent.isEmpty)

        h.change(Self.campaign, to: .active)
        h.run(seconds: 1)
        #expect(h.uploadRequests.count == 2, "resumed, it asks for the upload again")
        #expect(h.sent.isEmpty)
        Self.upload(h, metaID: "third")
        h.run(seconds: 6)
        #expect(h.journal.count(.sent) == 50 && Self.bodies(h, naming: "third") == 50)
    }
}
