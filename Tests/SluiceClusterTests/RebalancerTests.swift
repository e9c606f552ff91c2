import SluiceCore
import Testing

@testable import SluiceCluster

/// When a held number moves to the node placement prefers: never while two could send.
@Suite struct RebalancerTests {
    static func at(_ seconds: Double) -> Instant { .seconds(seconds) }

    func rebalancer() -> Rebalancer {
        var r = Rebalancer(drainMilliseconds: 4_000)
        r.holdMilliseconds = 20_000
        r.stableRounds = 5
        return r
    }

    @Test func aNumberPlacementGivesElsewhereStopsSendingFirstAndIsReleasedAfterTheDrain() {
        var r = rebalancer()
        // Held from 0 s; from 10 s on, placement prefers b (b joined).
        #expect(r.round(held: ["1"], preferred: ["1": "a"], me: "a", now: Self.at(0)) == ([], []))
        for second in 10...19 {
            #expect(r.round(held: ["1"], preferred: ["1": "b"], me: "a", now: Self.at(Double(second))) == ([], []), "held less than 20 s (at \(second) s)")
        }
        #expect(r.round(held: ["1"], preferred: ["1": "b"], me: "a", now: Self.at(20)) == (["1"], []), "stops sending; the key stays")
        #expect(r.round(held: ["1"], preferred: ["1": "b"], me: "a", now: Self.at(23.9)) == (["1"], []), "requests may still be on the wire")
        #expect(r.round(held: ["1"], preferred: ["1": "b"], me: "a", now: Self.at(24)) == (["1"], ["1"]))
        // Released: no longer held, forgotten.
        #expect(r.round(held: [], preferred: ["1": "b"], me: "a", now: Self.at(25)) == ([], []))
        #expect(r.heldSince.isEmpty && r.releasing.isEmpty && r.misplacedRounds.isEmpty)
    }

    @Test func placementMustNameTheOtherNodeRoundsInARow() {
        var r = rebalancer()
        _ = r.round(held: ["1"], preferred: ["1": "a"], me: "a", now: Self.at(0))
        for second in 30...33 { _ = r.round(held: ["1"], preferred: ["1": "b"], me: "a", now: Self.at(Double(second))) }
        // A round where placement prefers this node again (b flapped) starts the count over.
        _ = r.round(held: ["1"], preferred: ["1": "a"], me: "a", now: Self.at(34))
        for second in 35...38 {
            #expect(r.round(held: ["1"], preferred: ["1": "b"], me: "a", now: Self.at(Double(second))).draining.isEmpty)
        }
        #expect(r.round(held: ["1"], preferred: ["1": "b"], me: "a", now: Self.at(39)).draining == ["1"])
    }

    @Test func whenPlacementChangesItsMindDuringTheDrainThisNodeSendsAgain() {
        var r = rebalancer()
        _ = r.round(held: ["1", "2"], preferred: ["1": "a", "2": "a"], me: "a", now: Self.at(0))
        for second in 20...24 { _ = r.round(held: ["1", "2"], preferred: ["1": "b", "2": "a"], me: "a", now: Self.at(Double(second))) }
        #expect(r.releasing.keys.sorted() == ["1"], "only the number placement moves")
        #expect(r.round(held: ["1", "2"], preferred: ["1": "a", "2": "a"], me: "a", now: Self.at(25)) == ([], []))
        // A number no node is placed for (no candidate left) stays.
        #expect(r.round(held: ["1", "2"], preferred: [:], me: "a", now: Self.at(60)) == ([], []))
    }
}
