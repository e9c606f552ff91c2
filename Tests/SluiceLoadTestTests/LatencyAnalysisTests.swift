import Foundation
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

    // MARK: Accepted → delivered

    /// Message `n` of `plan` delivered (webhook acknowledged) at `time`.
    func delivery(_ plan: SenderPlan, _ n: Int, at time: Int64) -> EndpointArrival {
        arrival(plan, n, at: time)
    }

    @Test func deliveredLatencyCountsTheFirstDeliveryAndTheUndelivered() throws {
        let plan = sender(tier: 10, seconds: 1)
        let arrivals = (0..<10).map { arrival(plan, $0, at: origin + Int64($0) * 100_000_000) }
        // Messages 0…7 delivered (n + 1) × 100 ms after acceptance; 8 and 9 never; 0 once more, later.
        var deliveries = (0..<8).map { delivery(plan, $0, at: origin + Int64($0 + 1) * 100_000_000) }
        deliveries.append(delivery(plan, 0, at: origin + 5 * second))
        // Another sender's recipient is ignored.
        deliveries.append(delivery(sender(tier: 10, seconds: 1, index: 1), 9, at: origin + 9 * second))
        let m = LatencyAnalysis.analyze(
            sender: plan, accepted: 10, acceptedAtNanoseconds: origin, arrivals: arrivals, endNanoseconds: origin + 2 * second,
            deliveries: deliveries.shuffled())
        #expect(m.undelivered == 2)
        let delivered = LatencySummary(try #require(m.acceptedToDelivered))
        #expect(delivered.count == 8)
        // {100, 200, …, 800} ms: the median is the 4th value, p99 and max the 8th.
        #expect(abs(delivered.p50Milliseconds - 400) < 0.5)
        #expect(abs(delivered.p99Milliseconds - 800) < 1)
        #expect(abs(delivered.maxMilliseconds - 800) < 1)
        #expect(abs(delivered.meanMilliseconds - 450) < 1)
    }

    @Test func withoutWebhooksThereIsNoDeliveredView() throws {
        let plan = sender(tier: 10, seconds: 1)
        let arrivals = (0..<10).map { arrival(plan, $0, at: origin + Int64($0) * 100_000_000) }
        let m = LatencyAnalysis.analyze(sender: plan, accepted: 10, acceptedAtNanoseconds: origin, arrivals: arrivals, endNanoseconds: origin + second)
        #expect(m.acceptedToDelivered == nil && m.undelivered == 0)
        let report = LatencyReport(m)
        #expect(report.acceptedToDelivered == nil && report.undelivered == nil)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
        #expect(json?["accepted_to_delivered"] == nil && json?["undelivered"] == nil)
    }

    /// A run with webhooks fails on any accepted message without a delivered status.
    func webhookRun(deliveredOf count: Int) -> LoadTestReport {
        let plan = sender(tier: 10, seconds: 1)
        let arrivals = paced(plan, rate: 10, start: origin)
        let deliveries = (0..<count).map { delivery(plan, $0, at: origin + Int64($0) * 100_000_000 + 150_000_000) }
        let context = RunAnalysis.Context(
            command: "sluice loadtest --webhooks", startedAt: "", seconds: 1, mode: "started", serverURL: "", mockURL: "",
            wallSeconds: 1, campaignsDone: true, endNanoseconds: origin + 2 * second, usage: nil)
        return RunAnalysis.report(
            campaigns: [SubmittedCampaign(sender: plan, campaignID: "1", accepted: 10, acceptedAtNanoseconds: origin)],
            arrivals: arrivals, errors: MockErrorCounts(), context: context, deliveries: deliveries)
    }

    @Test func runWithWebhooksFailsOnUndeliveredMessages() throws {
        let complete = webhookRun(deliveredOf: 10)
        #expect(complete.passed, "\(complete.failures)")
        #expect(complete.latency.undelivered == 0)
        let delivered = try #require(complete.latency.acceptedToDelivered)
        #expect(delivered.count == 10)
        // Message n is delivered at n × 100 + 150 ms: 150 … 1050 ms, median the 5th value.
        #expect(abs(delivered.p50Milliseconds - 550) < 1 && abs(delivered.maxMilliseconds - 1050) < 1.5)
        #expect(complete.senders[0].latency.acceptedToDelivered?.count == 10)
        let summary = ReportRenderer.summary(complete).joined(separator: "\n")
        #expect(summary.contains("accepted -> delivered (ms):   p50 550"))
        #expect(ReportRenderer.html(complete).contains("accepted &#8594; delivered"))

        let short = webhookRun(deliveredOf: 7)
        #expect(!short.passed)
        #expect(short.latency.undelivered == 3)
        #expect(short.failures == ["sender \(short.senders[0].pacing.phoneNumberID) (tier 10): 3 of 10 accepted messages got no acknowledged delivered webhook"])

        let data = try ReportRenderer.json(short)
        #expect(try ReportRenderer.decode(data) == short)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let latency = try #require(object["latency"] as? [String: Any])
        #expect((latency["undelivered"] as? NSNumber)?.intValue == 3)
        #expect(latency["accepted_to_delivered"] is [String: Any])
    }

    @Test func latencyReportsFromBeforeWebhooksDecode() throws {
        let m = LatencyMeasurement(behindSchedule: LatencyAnalysis.emptyHistogram(), acceptedToArrival: LatencyAnalysis.emptyHistogram())
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(LatencyReport(m))) as? [String: Any])
        object.removeValue(forKey: "accepted_to_delivered")
        object.removeValue(forKey: "undelivered")
        let decoded = try JSONDecoder().decode(LatencyReport.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(decoded.acceptedToDelivered == nil && decoded.undelivered == nil)
    }
}
