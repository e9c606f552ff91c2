import Foundation
import Testing
@testable import SluiceLoadTest

/// A 130429 told apart by the dispatcher's departure record: pacing over the tier where
/// the dispatcher controls it fails; a request held in transit is reported, within a bound.
@Suite struct DepartureAnalysisTests {
    /// The pacer's spacing at tier 80 with the default margin: 1.005 s / 80.
    static let interval: Int64 = 12_562_500
    /// Transit on a quiet loopback.
    static let transit: Int64 = 600_000

    /// A run of `plan` paced at the pacer's spacing. `held` messages take `heldFor` in
    /// transit; each message in `refused` is refused at its first departure (the endpoint
    /// counted the tier in its window) and sent again in the next slot, shifting the rest.
    static func run(
        _ plan: SenderPlan, held: Set<Int> = [], heldFor: Int64 = 9_500_000, refused: Set<Int> = [], spacing: (Int) -> Int64 = { Int64($0) * interval }
    ) -> (arrivals: [EndpointArrival], input: DepartureInput) {
        var departures: [String: [Int64]] = [:]
        var arrivals: [EndpointArrival] = []
        var refusals: [EndpointArrival] = []
        var slot = 0
        for n in 0..<plan.messageCount {
            if refused.contains(n) {
                let left = origin + spacing(slot)
                departures["m\(n)", default: []].append(left)
                refusals.append(arrival(plan, n, at: left + transit))
                slot += 1
            }
            let left = origin + spacing(slot)
            departures["m\(n)", default: []].append(left)
            arrivals.append(arrival(plan, n, at: left + (held.contains(n) ? heldFor : transit)))
            slot += 1
        }
        return (arrivals, DepartureInput(departures: departures, coveredFromNanoseconds: nil, refusals: refusals))
    }

    @Test func aRefusalOnlyTransitExplainsIsReportedAndPasses() {
        let plan = sender(tier: 80)
        // Message 10 reaches the endpoint 9.5 ms after it left; message 90 leaves 80 slots
        // (1.005 s) after it, but only 0.996 s after its arrival: the endpoint counts 81.
        let (arrivals, input) = Self.run(plan, held: [10], refused: [90])
        let d = DepartureAnalysis.analyze(tier: 80, arrivals: arrivals, input: input, phoneNumberID: plan.phoneNumberID)
        #expect(d.departures == plan.messageCount + 1)
        #expect(d.maxInOneSecond == 80)
        #expect(d.refusedAfterTransitDelay == 1 && d.refusedOverTierAtDeparture == 0 && d.refusedUnplaced == 0)
        #expect(d.heldInTransitMaxMilliseconds == 9.5)
        #expect(d.transitP50Milliseconds == 0.6 && d.transitMaxMilliseconds == 9.5)

        let pacing = PacingAnalysis.analyze(
            sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: arrivals, throttled130429: 1, departures: d)
        #expect(pacing.passed, "\(pacing.violations)")
        #expect(pacing.departures == d)
        // Without the departure record the same refusal fails, as before.
        let blind = PacingAnalysis.analyze(
            sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: arrivals, throttled130429: 1)
        #expect(!blind.passed)
    }

    @Test func departuresOverTheTierFailWhateverTheEndpointSaw() {
        let plan = sender(tier: 80)
        // From message 40 on, the dispatcher leaves 5 % closer together: 81 leave within a second.
        let (arrivals, input) = Self.run(plan, refused: [120]) { slot in
            slot <= 40 ? Int64(slot) * Self.interval : 40 * Self.interval + Int64(slot - 40) * Self.interval * 95 / 100
        }
        let d = DepartureAnalysis.analyze(tier: 80, arrivals: arrivals, input: input, phoneNumberID: plan.phoneNumberID)
        #expect(d.maxInOneSecond > 80)
        #expect(d.refusedOverTierAtDeparture == 1 && d.refusedAfterTransitDelay == 0)
        #expect(d.heldInTransitMaxMilliseconds == nil)
        let pacing = PacingAnalysis.analyze(
            sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: arrivals, throttled130429: 1, departures: d)
        #expect(pacing.violations.contains("1 × error 130429: the endpoint saw more than the tier in a sliding second and rejected the excess"))
        #expect(pacing.violations.contains("\(d.maxInOneSecond) requests left the dispatcher in one sliding second, over the tier of 80"))
    }

    @Test func transitRefusalsPastTheMarginsShareFail() {
        let plan = sender(tier: 80, seconds: 4)
        #expect(PacingAnalysis.transitRefusalsAllowed(accepted: plan.messageCount) == 2)
        // Three times a request held 9.5 ms fills the window of one that left 80 slots later.
        let (arrivals, input) = Self.run(plan, held: [10, 100, 190], refused: [90, 180, 270])
        let d = DepartureAnalysis.analyze(tier: 80, arrivals: arrivals, input: input, phoneNumberID: plan.phoneNumberID)
        #expect(d.refusedAfterTransitDelay == 3 && d.maxInOneSecond == 80)
        let pacing = PacingAnalysis.analyze(
            sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: arrivals, throttled130429: 3, departures: d)
        #expect(pacing.violations == ["3 × error 130429 after requests were held in transit (up to 9.5 ms), more than the 2 the pacing margin's share of 320 messages allows"])
        // Two are within it.
        let (fewer, fewerInput) = Self.run(plan, held: [10, 100], refused: [90, 180])
        let within = DepartureAnalysis.analyze(tier: 80, arrivals: fewer, input: fewerInput, phoneNumberID: plan.phoneNumberID)
        #expect(within.refusedAfterTransitDelay == 2)
        #expect(PacingAnalysis.analyze(
            sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: fewer, throttled130429: 2, departures: within).passed)
    }

    @Test func aRefusalTheRecordDoesNotCoverIsJudgedByTheEndpointAlone() {
        let plan = sender(tier: 80)
        let (arrivals, whole) = Self.run(plan, held: [10], refused: [90])
        var input = whole
        // The record wrapped: it starts after the refused request's second began.
        input.coveredFromNanoseconds = origin + 500_000_000
        var d = DepartureAnalysis.analyze(tier: 80, arrivals: arrivals, input: input, phoneNumberID: plan.phoneNumberID)
        #expect(d.refusedUnplaced == 1 && d.refusedAfterTransitDelay == 0)
        // A refusal of another sender, or without callback data, is not this sender's.
        input.coveredFromNanoseconds = nil
        input.refusals[0].callback = nil
        input.refusals.append(EndpointArrival(timeNanoseconds: origin, phoneNumberID: "999", to: "1", callback: "m3"))
        d = DepartureAnalysis.analyze(tier: 80, arrivals: arrivals, input: input, phoneNumberID: plan.phoneNumberID)
        #expect(d.refusedUnplaced == 1 && d.refusedAfterTransitDelay == 0 && d.refusedOverTierAtDeparture == 0)
        let pacing = PacingAnalysis.analyze(
            sender: plan, accepted: plan.messageCount, acceptedAtNanoseconds: origin, arrivals: arrivals, throttled130429: 1, departures: d)
        #expect(!pacing.passed)
    }

    /// The whole report: the run passes, and the summary, the JSON and the page name the
    /// refusal that only transit explains.
    @Test func theReportNamesARefusalAfterTimeInTransit() throws {
        let plan = sender(tier: 80)
        let (arrivals, input) = Self.run(plan, held: [10], refused: [90])
        var errors = MockErrorCounts()
        errors.throttled130429 = 1
        errors.throttled130429PerSender = [plan.phoneNumberID: 1]
        let context = RunAnalysis.Context(
            command: "sluice loadtest --tiers 80", startedAt: "2026-12-06T23:00:00Z", seconds: 2, mode: "started",
            serverURL: "http://127.0.0.1:1", mockURL: "https://127.0.0.1:2", wallSeconds: 3, campaignsDone: true,
            endNanoseconds: origin + 3 * second, usage: nil)
        let campaign = SubmittedCampaign(sender: plan, campaignID: "1", accepted: plan.messageCount, acceptedAtNanoseconds: origin)
        let report = RunAnalysis.report(campaigns: [campaign], arrivals: arrivals, errors: errors, context: context, departures: input)
        #expect(report.passed, "\(report.failures)")
        let lines = ReportRenderer.summary(report)
        #expect(lines.contains("  \(plan.phoneNumberID) left: most 80 in 1 s, transit p50 0.6 / p99 0.6 / max 9.5 ms; 1 x 130429 after time in transit (held up to 9.5 ms)"))
        #expect(lines.contains { $0.hasPrefix("PASS: no window over tier, no 130429 but 1 after time in transit") })
        let json = try ReportRenderer.json(report)
        #expect(try ReportRenderer.decode(json) == report)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let pacing = try #require((object["senders"] as? [[String: Any]])?.first?["pacing"] as? [String: Any])
        let departures = try #require(pacing["departures"] as? [String: Any])
        #expect((departures["refused_after_transit_delay"] as? NSNumber)?.intValue == 1)
        #expect(ReportRenderer.html(report).contains("1 x 130429 after time in transit"))

        // Without the record, the same run fails on the refusal.
        let blind = RunAnalysis.report(campaigns: [campaign], arrivals: arrivals, errors: errors, context: context)
        #expect(blind.failures == ["sender \(plan.phoneNumberID) (tier 80): 1 × error 130429: the endpoint saw more than the tier in a sliding second and rejected the excess"])
    }
}
