import Testing
@testable import SluiceLoadTest

@Suite struct LatencyAnalysisTests {
    /// Lateness is measured against each message's slot on the tier's schedule, so a
    /// stall makes every message behind it late, not only the one that waited.
    @Test func latenessIsMeasuredAgainstTheScheduleNotThePreviousSend() {
        let plan = sender(tier: 10, seconds: 1)
        var arrivals: [EndpointArrival] = []
        // Messages 0...4 on time (+2 ms each); then a 1.5 s stall, and 5...9 arrive back to back at 2.0 s.
        for n in 0..<5 { arrivals.append(arrival(plan, n, at: origin + Int64(n) * 100_000_000 + 2_000_000)) }
        for n in 5..<10 { arrivals.append(arrival(plan, n, at: origin + 2 * second + Int64(n - 5) * 1_000_000)) }
        let m = LatencyAnalysis.analyze(sender: plan, accepted: 10, acceptedAtNanoseconds: origin, arrivals: arrivals, endNanoseconds: origin + 3 * second)
        let behind = LatencySummary(m.behindSchedule)
        #expect(behind.count == 10)
        // Message 5 was due at 0.5 s and came at 2.0 s.
        #expect(abs(behind.maxMilliseconds - 1_500) < 2)
        // Half the messages were 2 ms late, half over a second: the median is still small,
        // the p90 is the stall (1.5 s − 0.4 s .. 1.5 s).
        #expect(behind.p50Milliseconds < 3)
        #expect(behind.p90Milliseconds > 1_100 && behind.p90Milliseconds < 1_510)
        #expect(m.unsent == 0 && m.early == 0)

        let plain = LatencySummary(m.acceptedToArrival)
        #expect(abs(plain.maxMilliseconds - 2_004) < 3)
        #expect(abs(plain.p50Milliseconds - 402) < 2)
    }

    @Test func unsentMessagesAreLateUntilTheEndOfTheRun() {
        let plan = sender(tier: 10, seconds: 1)
        let arrivals = (0..<9).map { arrival(plan, $0, at: origin + Int64($0) * 100_000_000) }
        let m = LatencyAnalysis.analyze(sender: plan, accepted: 10, acceptedAtNanoseconds: origin, arrivals: arrivals, endNanoseconds: origin + 10 * second)
        #expect(m.unsent == 1)
        #expect(m.behindSchedule.totalCount == 10)
        #expect(m.acceptedToArrival.totalCount == 9)
        // Message 9 was due at 0.9 s and still missing at 10 s.
        #expect(abs(LatencySummary(m.behindSchedule).maxMilliseconds - 9_100) < 10)
    }

    @Test func duplicatesCountOnceAndEarlyArrivalsAreZeroLate() {
        let plan = sender(tier: 10, seconds: 1)
        var arrivals = (0..<10).map { arrival(plan, $0, at: origin + Int64($0) * 100_000_000 + 1_000_000) }
        arrivals.append(arrival(plan, 2, at: origin + 5 * second))
        arrivals[0].timeNanoseconds = origin - 3_000_000
        let m = LatencyAnalysis.analyze(sender: plan, accepted: 10, acceptedAtNanoseconds: origin, arrivals: arrivals, endNanoseconds: origin + 6 * second)
        #expect(m.behindSchedule.totalCount == 10)
        #expect(m.early == 1)
        #expect(LatencySummary(m.behindSchedule).maxMilliseconds < 2)
        #expect(m.behindSchedule.min == 0)
    }

    @Test func summariesOfEmptyHistogramsAreZero() {
        let s = LatencySummary(LatencyAnalysis.emptyHistogram())
        #expect(s.count == 0 && s.maxMilliseconds == 0 && s.curve.isEmpty)
    }
}
