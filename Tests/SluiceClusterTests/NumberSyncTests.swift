import SluiceCluster
import Testing

/// Which way a number's tier and pause go between this node's journal and etcd.
@Suite struct NumberSyncTests {
    typealias Seen = NumberSync.Seen
    static func at(_ tier: Double, paused: Bool = false, _ reason: String? = nil) -> NumberSync.Settings {
        NumberSync.Settings(tier: tier, paused: paused, pauseReason: reason)
    }

    @Test func settingsNobodyPublishedArePublished() {
        #expect(NumberSync.step(here: Self.at(80), there: nil, agreed: nil, afterRestart: true) == .publish(Self.at(80)))
        #expect(NumberSync.step(here: Self.at(80), there: nil, agreed: Seen(Self.at(80), revision: 4), afterRestart: false) == .publish(Self.at(80)))
    }

    @Test func settingsChangedOnAnotherNodeAreTakenHere() {
        let agreed = Seen(Self.at(80), revision: 4)
        #expect(NumberSync.step(here: Self.at(80), there: Seen(Self.at(250), revision: 9), agreed: agreed, afterRestart: false) == .adopt(Self.at(250)))
        let paused = Self.at(80, paused: true, "quality")
        #expect(NumberSync.step(here: Self.at(80), there: Seen(paused, revision: 10), agreed: agreed, afterRestart: false) == .adopt(paused))
        // Already the same here (set on both): nothing to change, the new revision agreed.
        #expect(NumberSync.step(here: Self.at(250), there: Seen(Self.at(250), revision: 9), agreed: agreed, afterRestart: false) == .agree(Seen(Self.at(250), revision: 9)))
    }

    @Test func settingsChangedHereArePublished() {
        let agreed = Seen(Self.at(80), revision: 4)
        #expect(NumberSync.step(here: Self.at(1000), there: agreed, agreed: agreed, afterRestart: false) == .publish(Self.at(1000)))
        #expect(NumberSync.step(here: Self.at(80, paused: true, "token refused"), there: agreed, agreed: agreed, afterRestart: false) == .publish(Self.at(80, paused: true, "token refused")))
        #expect(NumberSync.step(here: Self.at(80), there: agreed, agreed: agreed, afterRestart: false) == .agree(agreed))
    }

    @Test func afterARestartTheClusterWinsButANumberRegisteredLaterPublishesItsOwn() {
        let there = Seen(Self.at(1000), revision: 12)
        #expect(NumberSync.step(here: Self.at(80), there: there, agreed: nil, afterRestart: true) == .adopt(Self.at(1000)))
        #expect(NumberSync.step(here: Self.at(80), there: there, agreed: nil, afterRestart: false) == .publish(Self.at(80)))
        #expect(NumberSync.step(here: Self.at(1000), there: there, agreed: nil, afterRestart: true) == .agree(there))
    }

    @Test func theSettingsReadBackAsWritten() {
        for settings in [Self.at(80), Self.at(1000, paused: true, "paused by an operator: \"quality\"")] {
            #expect(NumberSync.Settings(json: settings.json) == settings)
        }
        #expect(NumberSync.Settings(json: Array("80".utf8)) == nil)
        #expect(Self.at(80, paused: false, "ignored").pauseReason == nil, "a reason only with a pause")
    }
}
