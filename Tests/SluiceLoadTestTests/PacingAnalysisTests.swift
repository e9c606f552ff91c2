import Testing
@testable import SluiceLoadTest

@Suite struct PacingAnalysisTests {
    @Test func perfectlyPacedSenderPasses() {
        let plan = sender(tier: 80)
        let result = PacingAnalysis.analyze(sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: paced(plan, rate: 80, start: origin))
        #expect(result.passed, "\(result.violations)")
        #expect(result.maxInOneSecond == 80)
        #expect(abs(result.meanRate - 80) < 1e-6)
        #expect(result.arrivals == 160 && result.duplicates == 0 && result.lost == 0)
        #expect(result.arrivalsPerSecond == [80, 80])

        // Sending began 50 ms before the 202 reached the harness: the chart starts at the first arrival.
        let early = PacingAnalysis.analyze(sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: paced(plan, rate: 80, start: origin - 50_000_000))
        #expect(early.passed && early.arrivalsPerSecond == [80, 80])
    }

    @Test func oneArrivalOverTheTierInAWindowFails() {
        let plan = sender(tier: 80)
        var arrivals = paced(plan, rate: 80, start: origin)
        // Message 80 (due at 1.000 s) arrives at 0.995 s: 81 in [0, 1 s).
        arrivals[80].timeNanoseconds = origin + 995_000_000
        let result = PacingAnalysis.analyze(sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: arrivals)
        #expect(result.maxInOneSecond == 81)
        #expect(!result.passed)
        #expect(result.violations.contains { $0.contains("81 arrivals in one sliding second") })
    }

    @Test func a130429FromTheMockFailsEvenWhenTheRecordStaysUnderTier() {
        let plan = sender(tier: 80)
        let result = PacingAnalysis.analyze(
            sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: paced(plan, rate: 80, start: origin), throttled130429: 1)
        #expect(result.maxInOneSecond == 80)
        #expect(!result.passed)
        #expect(result.violations == ["1 × error 130429: the endpoint saw more than the tier in a sliding second and rejected the excess"])
    }

    @Test func slowSenderFailsTheNinetySevenPercentRule() {
        let plan = sender(tier: 100)
        let slow = PacingAnalysis.analyze(sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: paced(plan, rate: 96, start: origin))
        #expect(slow.maxInOneSecond <= 100)
        #expect(!slow.passed)
        #expect(slow.violations.count == 1 && slow.violations[0].contains("under 97.0 %"), "\(slow.violations)")

        let justFastEnough = PacingAnalysis.analyze(sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: paced(plan, rate: 97.5, start: origin))
        #expect(justFastEnough.passed, "\(justFastEnough.violations)")
    }

    @Test func duplicatesAreCountedAndLossFails() {
        let plan = sender(tier: 20)
        var arrivals = paced(plan, rate: 20, start: origin)
        let last = arrivals.last!.timeNanoseconds
        // Two resends of message 3 (in doubt after a crash), spread so no window goes over.
        arrivals.append(arrival(plan, 3, at: last + 2 * second))
        arrivals.append(arrival(plan, 3, at: last + 3 * second))
        let dup = PacingAnalysis.analyze(sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: arrivals)
        #expect(dup.arrivals == 42 && dup.distinctMessages == 40 && dup.duplicates == 2 && dup.lost == 0)

        arrivals.removeAll { $0.callback == "m7" }
        let lost = PacingAnalysis.analyze(sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: arrivals)
        #expect(lost.lost == 1)
        #expect(!lost.passed)
        #expect(lost.violations.contains { $0.contains("1 of 40 accepted messages never arrived") })
    }

    @Test func perSecondSeriesStartsAtAcceptance() {
        let times = [origin - 5, origin + 10, origin + second + 1, origin + 3 * second]
        #expect(PacingAnalysis.perSecond(sortedTimes: times, originNanoseconds: origin) == [2, 1, 0, 1])
        #expect(PacingAnalysis.perSecond(sortedTimes: [], originNanoseconds: origin).isEmpty)
    }

    @Test func planValidationNamesTheBadValue() throws {
        #expect(try LoadTestPlan.parseTiers("20, 80,250") == [20, 80, 250])
        #expect(throws: LoadTestPlanError.self) { try LoadTestPlan.parseTiers("20,fast") }
        #expect(throws: LoadTestPlanError.self) { try LoadTestPlan.parseTiers("20,,80") }
        #expect(throws: LoadTestPlanError.invalid("tiers must be between 1 and 1000 msg/s, got 1001")) {
            try LoadTestPlan(tiers: [80, 1001], sendersPerTier: 1, seconds: 10)
        }
        #expect(throws: LoadTestPlanError.self) { try LoadTestPlan(tiers: [80], sendersPerTier: 1, seconds: 0) }
        #expect(throws: LoadTestPlanError.self) { try LoadTestPlan(tiers: [80], sendersPerTier: 0, seconds: 10) }
        #expect(throws: LoadTestPlanError.self) { try LoadTestPlan(tiers: [80, 80, 80, 80], sendersPerTier: 9, seconds: 10) }

        let plan = try LoadTestPlan(tiers: [20, 80], sendersPerTier: 2, seconds: 5)
        #expect(plan.senders.map(\.tier) == [20, 20, 80, 80])
        #expect(plan.senders.map(\.messageCount) == [100, 100, 400, 400])
        #expect(Set(plan.senders.map(\.phoneNumberID)).count == 4)
        #expect(plan.deadlineSeconds == 75)
        let second = plan.senders[1]
        #expect(second.index(ofRecipient: String(second.firstRecipient + 99)) == 99)
        #expect(second.index(ofRecipient: String(second.firstRecipient + 100)) == nil)
        #expect(second.index(ofRecipient: "not a number") == nil)
    }
}
