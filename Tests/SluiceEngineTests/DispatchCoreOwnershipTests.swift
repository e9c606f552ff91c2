import SluiceCore
import SluiceTransport
import Testing

@testable import SluiceEngine

/// In a cluster a number is paced by one node at a time: on a manual clock, the core
/// sends for a sender only while its ownership deadline lies ahead, stops at that instant
/// without any further word, and goes on when ownership is renewed. Outside a cluster
/// nothing changes.
@Suite struct DispatchCoreOwnershipTests {
    static let a = SenderID(1)
    static let b = SenderID(2)

    func harness(clustered: Bool = true) -> CoreHarness {
        let h = CoreHarness { $0.clustered = clustered }
        h.addSender(Self.a, tier: 50)
        h.addSender(Self.b, tier: 50)
        h.journal.addCampaign(CampaignID(1), sender: Self.a, count: 1_000, firstID: 1)
        h.journal.addCampaign(CampaignID(2), sender: Self.b, count: 1_000, firstID: 10_001)
        h.handle(.campaignAvailable(Self.a, CampaignID(1)))
        h.handle(.campaignAvailable(Self.b, CampaignID(2)))
        return h
    }

    func sends(_ h: CoreHarness, _ sender: SenderID, from: Instant = .zero, until: Instant = .never) -> Int {
        h.sent.count { $0.sender == "10\(sender)" && $0.at >= from && $0.at < until }
    }

    @Test func nothingIsSentBeforeOwnershipAndNothingAfterItsDeadline() {
        let h = harness()
        h.run(seconds: 3)
        #expect(h.sent.isEmpty, "a clustered node sends for no number it has not been given")

        // A is this node's for 2 s; B is another node's.
        let given = h.now
        h.handle(.ownership([Self.a: given + 2_000_000_000]))
        h.run(seconds: 5)
        #expect(sends(h, Self.b) == 0)
        let sentA = sends(h, Self.a)
        #expect((95...101).contains(sentA), "2 s at 50 msg/s: \(sentA)")
        #expect(h.sent.allSatisfy { $0.at < given + 2_000_000_000 }, "nothing leaves at or after the deadline, with no further event")

        // Renewed, A goes on; B, given now, starts.
        let renewed = h.now
        h.handle(.ownership([Self.a: renewed + 3_000_000_000, Self.b: renewed + 3_000_000_000]))
        h.run(seconds: 3)
        #expect(sends(h, Self.a, from: renewed) >= 140 && sends(h, Self.b, from: renewed) >= 140)
        #expect(h.mostInOneSecond(sender: "101") <= 50, "a held sender's pacer does not burst when released")
    }

    @Test func withoutAClusterEverySenderIsThisNodes() {
        let h = harness(clustered: false)
        h.handle(.ownership([:]))
        h.run(seconds: 2)
        #expect(sends(h, Self.a) >= 90 && sends(h, Self.b) >= 90)
    }
}
