import Testing
@testable import SluiceLoadTest

/// Runs with customers writing in: sends and incoming messages share the tier.
@Suite struct InboundAnalysisTests {
    /// Incoming messages every `1 / rate` s from `start` for `seconds`.
    func incoming(rate: Double, start: Int64, seconds: Double) -> [Int64] {
        (0..<Int(rate * seconds)).map { start + Int64((Double($0) * 1e9 / rate).rounded()) }
    }

    @Test func sendsAtWhatTheReserveLeavesPassAndTheMeanIsJudgedAgainstIt() {
        let plan = sender(tier: 80, seconds: 4)
        // 20 incoming a second: the dispatcher reserves 21 and sends at 59.
        let inbound = incoming(rate: 20, start: origin - second, seconds: 7)
        let sends = Array(paced(plan, rate: 59, start: origin + 10_000_000).prefix(4 * 59))
        let result = PacingAnalysis.analyze(sender: plan, accepted: sends.count, acceptedAtNanoseconds: origin, arrivals: sends, inbound: inbound)
        #expect(result.passed, "\(result.violations)")
        let share = try! #require(result.inbound)
        #expect(share.maxInOneSecond == 20 && share.leftMessagesPerSecond == 59)
        #expect(share.sendsOverTier == 0 && share.maxInOneSecondWithSends <= 80)
        #expect(share.incoming >= 4 * 20 - 2)

        // The same sends judged without incoming messages would be far under the tier.
        let alone = PacingAnalysis.analyze(sender: plan, accepted: sends.count, acceptedAtNanoseconds: origin, arrivals: sends)
        #expect(alone.violations.contains { $0.contains("% of the tier") })
    }

    @Test func sendsAtTheFullTierWhileCustomersWriteFail() {
        let plan = sender(tier: 80, seconds: 3)
        let inbound = incoming(rate: 20, start: origin, seconds: 3)
        let result = PacingAnalysis.analyze(
            sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: paced(plan, rate: 80, start: origin + 5_000_000), inbound: inbound)
        let share = try! #require(result.inbound)
        #expect(result.maxInOneSecond == 80, "the sends alone are within the tier")
        #expect(share.sendsOverTier > 100, "\(share.sendsOverTier): most sends after the first second meet a full second")
        #expect(result.violations.contains { $0.contains("send(s) arrived in a sliding second that sends and incoming messages had already filled") })
    }

    @Test func anIncomingMessageLandingInAFullSecondIsNoSendOverTheTier() {
        let plan = sender(tier: 10, seconds: 1)
        // Nine sends in the first 0.9 s, one incoming at 0.95 s, the tenth send at 1.2 s.
        var sends = (0..<9).map { arrival(plan, $0, at: origin + Int64($0) * 100_000_000) }
        sends.append(arrival(plan, 9, at: origin + 1_200_000_000))
        let over = PacingAnalysis.sendsOverTier(sends: sends.map(\.timeNanoseconds), inbound: [origin + 950_000_000], tier: 10)
        #expect(over == 0)
        // One more incoming message at 0.96 s fills the second before the tenth send arrives
        // at 0.99 s: that send is over.
        let later = sends.map(\.timeNanoseconds).prefix(9) + [origin + 990_000_000]
        #expect(PacingAnalysis.sendsOverTier(sends: Array(later), inbound: [origin + 950_000_000, origin + 960_000_000], tier: 10) == 1)
    }

    @Test func everyAcknowledgedIncomingMessageMustReachTheSubscriber() {
        var trips: [InboundTrip] = []
        for n in 0..<10 {
            let posted: Int64 = origin + Int64(n) * 100_000_000
            let received: Int64? = n == 3 ? nil : posted + Int64(20 + n) * 1_000_000
            trips.append(InboundTrip(
                phoneNumberID: "1065900000", wamid: "wamid.\(n)", postedNanoseconds: posted, acknowledgedNanoseconds: posted + 5_000_000,
                receivedNanoseconds: received))
        }
        let (report, failures) = InboundAnalysis.analyze(rate: 10, trips: trips, endNanoseconds: origin + 10 * second)
        #expect(report.acknowledged == 10 && report.delivered == 9 && report.undelivered == 1)
        #expect(failures == ["1 of 10 incoming messages the dispatcher acknowledged never reached the subscriber (first: wamid.3)"])
        #expect(report.postedToSubscriber.count == 9)
        #expect(abs(report.postedToSubscriber.maxMilliseconds - 29) < 0.1)

        // Acknowledged after measuring stopped: not judged.
        let early = InboundAnalysis.analyze(rate: 10, trips: trips, endNanoseconds: origin + 300_000_000)
        #expect(early.report.acknowledged == 3 && early.failures.isEmpty)
        #expect(InboundAnalysis.analyze(rate: 10, trips: trips, endNanoseconds: origin, badSignatures: 2).failures == [
            "2 subscriber event(s) with a signature that does not verify", "no incoming message was acknowledged: nothing shows the receive side",
        ])
    }
}
