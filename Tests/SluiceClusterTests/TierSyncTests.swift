import SluiceCluster
import Testing

/// Which way a number's tier goes between this node's journal and etcd.
@Suite struct TierSyncTests {
    typealias Seen = TierSync.Seen

    @Test func aTierNobodyPublishedIsPublished() {
        #expect(TierSync.step(here: 80, there: nil, agreed: nil, afterRestart: true) == .publish(80))
        #expect(TierSync.step(here: 80, there: nil, agreed: Seen(tier: 80, revision: 4), afterRestart: false) == .publish(80))
    }

    @Test func aTierSetOnAnotherNodeIsTakenHere() {
        let agreed = Seen(tier: 80, revision: 4)
        #expect(TierSync.step(here: 80, there: Seen(tier: 250, revision: 9), agreed: agreed, afterRestart: false) == .adopt(250))
        // Already the same here (set on both): nothing to change, the new revision agreed.
        #expect(TierSync.step(here: 250, there: Seen(tier: 250, revision: 9), agreed: agreed, afterRestart: false) == .agree(Seen(tier: 250, revision: 9)))
    }

    @Test func aTierSetHereIsPublished() {
        let agreed = Seen(tier: 80, revision: 4)
        #expect(TierSync.step(here: 1000, there: agreed, agreed: agreed, afterRestart: false) == .publish(1000))
        #expect(TierSync.step(here: 80, there: agreed, agreed: agreed, afterRestart: false) == .agree(agreed))
    }

    @Test func afterARestartTheClusterWinsButANumberRegisteredLaterPublishesItsOwn() {
        let there = Seen(tier: 1000, revision: 12)
        #expect(TierSync.step(here: 80, there: there, agreed: nil, afterRestart: true) == .adopt(1000))
        #expect(TierSync.step(here: 80, there: there, agreed: nil, afterRestart: false) == .publish(80))
        #expect(TierSync.step(here: 1000, there: there, agreed: nil, afterRestart: true) == .agree(there))
    }
}
