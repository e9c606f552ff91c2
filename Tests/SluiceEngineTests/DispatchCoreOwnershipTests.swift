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

    /// Messages of A in the journal by state.
    func states(_ h: CoreHarness) -> [MessageState: Int] {
        var out: [MessageState: Int] = [:]
        for m in h.journal.messages.values where m.sender == Self.a { out[m.state, default: 0] += 1 }
        return out
    }

    @Test func aNumberGivenUpReturnsWhatWasStagedToTheQueueAndPagesInAgainWhenItComesBack() {
        let h = harness()
        h.handle(.ownership([Self.a: h.now + 10_000_000_000]))
        h.run(seconds: 2)
        let staged = states(h)[.inFlight] ?? 0
        #expect(staged > 20, "paged in ahead of its slots (journaled in_flight): \(staged)")

        // Given up by word (another node holds it now): nothing more leaves, what is on the
        // wire finishes, and everything else is queued again in the journal.
        let lost = h.now
        h.handle(.ownership([:]))
        h.run(seconds: 2)
        #expect(sends(h, Self.a, from: lost) == 0)
        let sentBefore = sends(h, Self.a)
        let afterLoss = states(h)
        #expect(afterLoss[.inFlight, default: 0] == 0, "nothing left staged: \(afterLoss)")
        #expect(afterLoss[.queued, default: 0] + afterLoss[.sent, default: 0] == 1_000, "\(afterLoss)")
        #expect(afterLoss[.sent, default: 0] == sentBefore, "each request on the wire ended with its outcome")

        // Back again: the campaign pages in from its queue and every message goes once.
        h.handle(.ownership([Self.a: h.now + 60_000_000_000]))
        h.run(seconds: 25)
        let tags = h.sent.filter { $0.sender == "10\(Self.a)" }.map(\.tag)
        #expect(tags.count == 1_000 && Set(tags).count == 1_000, "\(tags.count) sent, \(Set(tags).count) distinct")
        #expect(states(h)[.sent] == 1_000)
    }

    @Test func aDeadlineThatPassesWithoutWordAlsoReturnsWhatWasStaged() {
        let h = harness()
        h.handle(.ownership([Self.a: h.now + 2_000_000_000]))
        h.run(seconds: 4)
        let now = states(h)
        #expect(now[.inFlight, default: 0] == 0 && now[.queued, default: 0] > 800, "\(now)")
    }

    /// Each request names the node and the fencing token of the ownership it was sent
    /// under (`<id>@<node>:<token>`): a later ownership's token is larger.
    @Test func requestsCarryTheNodeAndTheOwnershipsFencingToken() {
        let h = CoreHarness {
            $0.clustered = true
            $0.nodeID = "n1"
        }
        h.addSender(Self.a, tier: 50)
        h.journal.addCampaign(CampaignID(1), sender: Self.a, count: 200, firstID: 1)
        h.handle(.campaignAvailable(Self.a, CampaignID(1)))
        h.handle(.fencing([Self.a: 7]))
        h.handle(.ownership([Self.a: h.now + 1_000_000_000]))
        h.run(seconds: 1.5)
        let first = h.sent.count
        h.handle(.fencing([Self.a: 12]))
        h.handle(.ownership([Self.a: h.now + 1_000_000_000]))
        h.run(seconds: 1.5)
        let callbacks = h.sent.map { String(decoding: $0.body, as: UTF8.self) }.map { body in
            body.range(of: #""biz_opaque_callback_data":""#).map { String(body[$0.upperBound...].prefix { $0 != "\"" }) } ?? ""
        }
        #expect(first > 0 && callbacks.count > first)
        #expect(callbacks.prefix(first).allSatisfy { $0.hasSuffix("@n1:7") }, "\(callbacks.prefix(3))")
        #expect(callbacks.dropFirst(first).allSatisfy { $0.hasSuffix("@n1:12") }, "\(callbacks.suffix(3))")
        #expect(zip(callbacks, h.sent).allSatisfy { $0.0.hasPrefix("\($0.1.tag)@") }, "the message id first")
    }

    /// A number taken over finds its connections open (warm start), not cold on its first
    /// sends; given up and taken again, it is warmed again.
    @Test func aNumberTakenOverIsWarmedAtOnce() {
        let h = harness()
        h.run(seconds: 1)
        let warmedA = { h.warms.filter { $0.url.hasSuffix("/10\(Self.a)") } }
        #expect(warmedA().isEmpty, "not this node's: nothing opened for it")
        let given = h.now
        h.handle(.ownership([Self.a: given + 2_000_000_000]))
        h.run(seconds: 0.01)
        let first = warmedA()
        #expect(first.count == 1 && first[0].connections > 0 && first[0].at == given, "\(first.map { ($0.connections, $0.at) })")
        h.run(seconds: 3)
        #expect(warmedA().count == 1, "held, nothing more to open")
        h.handle(.ownership([Self.a: h.now + 2_000_000_000]))
        h.run(seconds: 0.01)
        #expect(warmedA().count == 2, "taken again after its deadline passed: warmed again")
    }

    @Test func withoutAClusterEverySenderIsThisNodes() {
        let h = harness(clustered: false)
        h.handle(.ownership([:]))
        h.run(seconds: 2)
        #expect(sends(h, Self.a) >= 90 && sends(h, Self.b) >= 90)
    }
}
