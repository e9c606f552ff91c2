import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import SluiceLoadTest

@Suite struct ReportRendererTests {
    /// Two senders, one paced, one over its tier, analyzed as a run.
    func sampleReport() -> LoadTestReport {
        let good = sender(tier: 20, seconds: 2, index: 0)
        let bad = sender(tier: 50, seconds: 2, index: 1)
        var arrivals = paced(good, rate: 20, start: origin + 1_000_000) + paced(bad, rate: 55, start: origin)
        arrivals.shuffle()
        let campaigns = [
            SubmittedCampaign(sender: good, campaignID: "1", accepted: good.messageCount, acceptedAtNanoseconds: origin),
            SubmittedCampaign(sender: bad, campaignID: "2", accepted: bad.messageCount, acceptedAtNanoseconds: origin),
        ]
        var errors = MockErrorCounts()
        errors.throttled130429 = 3
        errors.throttled130429PerSender = [bad.phoneNumberID: 3]
        let context = RunAnalysis.Context(
            command: "sluice loadtest --tiers 20,50 <&>", startedAt: "2026-11-24T18:00:00Z", seconds: 2, mode: "started",
            serverURL: "http://127.0.0.1:1", mockURL: "https://127.0.0.1:2", wallSeconds: 2.5, campaignsDone: true,
            endNanoseconds: origin + 3 * second, usage: ProcessUsageSample(cpuSeconds: 0.7, peakRSSBytes: 50 << 20))
        return RunAnalysis.report(campaigns: campaigns, arrivals: arrivals, errors: errors, context: context)
    }

    @Test func runAnalysisJudgesEachSenderAndSums() throws {
        let report = sampleReport()
        #expect(report.senders.count == 2)
        #expect(report.senders[0].pacing.passed)
        #expect(!report.senders[1].pacing.passed)
        #expect(report.senders[1].pacing.throttled130429 == 3)
        #expect(!report.passed)
        #expect(report.failures.count == 2, "\(report.failures)")
        #expect(report.failures.allSatisfy { $0.hasPrefix("sender \(report.senders[1].pacing.phoneNumberID) (tier 50)") })
        #expect(report.failures.contains { $0.contains("3 × error 130429") })
        #expect(report.totals.accepted == 140 && report.totals.arrivals == 140 && report.totals.lost == 0)
        #expect(report.totals.throttled130429 == 3)
        let usage = try #require(report.dispatcher)
        #expect(abs(usage.cpuSecondsPer1000Messages - 5) < 1e-9)
        #expect(report.latency.behindSchedule.count == 140)
    }

    @Test func jsonRoundTrips() throws {
        let report = sampleReport()
        let data = try ReportRenderer.json(report)
        #expect(try ReportRenderer.decode(data) == report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["passed"] as? Bool == false)
        let senders = try #require(object["senders"] as? [[String: Any]])
        let pacing = try #require(senders[0]["pacing"] as? [String: Any])
        #expect((pacing["max_in_1s"] as? NSNumber)?.intValue == 20)
        let latency = try #require(object["latency"] as? [String: Any])
        #expect(latency["behind_schedule"] is [String: Any] && latency["accepted_to_arrival"] is [String: Any])
    }

    @Test func htmlHasAChartPerSenderWithItsTierLineAndTheLatencyCurve() throws {
        let report = sampleReport()
        let html = ReportRenderer.html(report)
        #expect(html.components(separatedBy: "<svg").count - 1 == report.senders.count + 1)
        #expect(html.components(separatedBy: "class=\"tier-line\"").count - 1 == report.senders.count)
        #expect(html.contains("<polyline class=\"curve\""))
        #expect(html.contains("&lt;&amp;&gt;"), "the command line is escaped")
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || !html.contains("src=\"http"), "nothing is loaded from the network")

        // Well-formed XML: every element closed, every entity numeric.
        let parser = XMLParser(data: Data(html.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        #expect(parser.parse(), "report.html is not well-formed: \(String(describing: parser.parserError))")
        #expect(counter.counts["svg"] == report.senders.count + 1)
        #expect(counter.counts["rect", default: 0] > 0)
    }

    @Test func summaryFitsOneScreenAndGivesTheVerdict() {
        let lines = ReportRenderer.summary(sampleReport())
        #expect(lines.count <= 24)
        #expect(lines.contains { $0.hasPrefix("FAIL") })
        #expect(lines.contains { $0.contains("CPU s per 1000 messages") })
    }

    @Test func mockErrorCountsTolerateAnOlderMock() throws {
        let old = try #require(try JSONSerialization.jsonObject(with: Data(#"{"arrivals":3,"per_sender":{"1":3}}"#.utf8)) as? [String: Any])
        #expect(MockErrorCounts(statsObject: old) == MockErrorCounts())
        let new = try #require(try JSONSerialization.jsonObject(with: Data(
            #"{"arrivals":3,"per_sender":{"1":3},"errors":{"130429":7,"131056":1},"errors_per_sender":{"1":{"130429":5},"2":{"130429":2}}}"#.utf8)) as? [String: Any])
        let counts = MockErrorCounts(statsObject: new)
        #expect(counts.throttled130429 == 7)
        #expect(counts.throttled130429PerSender == ["1": 5, "2": 2])
    }

    /// A storm run: one sender at tier 80 that met the 10 s window, halved and stepped back.
    func stormReport(backsOff: Bool = true, answers: Int = 12) -> LoadTestReport {
        let plan = sender(tier: 80, seconds: 30)
        // Storms took sending time: 70 msg/s on average, which alone is no fault here.
        let arrivals = paced(plan, rate: 70, start: origin)
        var errors = MockErrorCounts()
        errors.throttled130429PerSender = [plan.phoneNumberID: answers]
        errors.storm130429PerSender = [plan.phoneNumberID: answers]
        var context = RunAnalysis.Context(
            command: "sluice loadtest --tiers 80 --storm 30:1", startedAt: "2026-12-02T03:00:00Z", seconds: 30, mode: "started",
            serverURL: "http://127.0.0.1:1", mockURL: "https://127.0.0.1:2", wallSeconds: 35, campaignsDone: true,
            endNanoseconds: origin + 35 * second, usage: nil)
        func rate(_ t: Double) -> Double {
            if !backsOff || t < 10.5 { return 80 }
            if t < 12 { return 40 }
            return min(80, 40 + 4 * (t - 11).rounded(.down))
        }
        let samples = stride(from: 0.0, through: 35, by: 0.5).map { (t: Double) -> RateSample in
            RateSample(atNanoseconds: origin + Int64(t * 1e9), effectiveMessagesPerSecond: rate(t), stormAnswers: t < 10.5 ? 0 : answers)
        }
        context.storm = StormInput(
            schedule: StormSchedule(everyMilliseconds: 30_000, durationMilliseconds: 1_000, originNanoseconds: origin - 20 * second),
            samples: [plan.phoneNumberID: samples], pollSeconds: 0.5)
        return RunAnalysis.report(
            campaigns: [SubmittedCampaign(sender: plan, campaignID: "7", accepted: plan.messageCount, acceptedAtNanoseconds: origin)],
            arrivals: arrivals, errors: errors, context: context)
    }

    @Test func aStormRunShowsBackoffAndRecoveryAndIsJudgedOnThem() throws {
        let report = stormReport()
        #expect(report.passed, "storm 130429s and a lower mean are no pacing fault: \(report.failures)")
        #expect(report.senders[0].pacing.throttled130429 == 0, "only over-tier 130429s count")
        let storm = try #require(report.senders[0].storm)
        #expect(storm.episodes.map(\.outcome) == [.recovered])
        #expect(try ReportRenderer.decode(ReportRenderer.json(report)) == report)

        let lines = ReportRenderer.summary(report)
        #expect(lines.contains("  130429 storms: 1.0 s of every 30.0 s at the mock"))
        #expect(lines.contains("    106590000 at 10.0 s: 12 x 130429, 80.0 -> 40.0 msg/s, at tier again 10.0 s after (bound 11.5 s): recovered"))
        let html = ReportRenderer.html(report)
        #expect(html.contains("<h2>130429 storms</h2>"))
        #expect(html.components(separatedBy: "<rect class=\"storm\"").count - 1 == 1)
        #expect(html.contains("<polyline class=\"paced\""))
        let parser = XMLParser(data: Data(html.utf8))
        #expect(parser.parse(), "report.html is not well-formed: \(String(describing: parser.parserError))")

        // The same run without backoff fails on it; over-tier 130429s beside the storm's still fail.
        let stubborn = stormReport(backsOff: false)
        #expect(stubborn.failures == ["sender 106590000 (tier 80): met the storm at 10.0 s (12 × 130429) and stayed at 80.0 msg/s: no backoff"])
        var overTier = MockErrorCounts()
        overTier.throttled130429PerSender = ["106590000": 13]
        overTier.storm130429PerSender = ["106590000": 12]
        #expect(overTier.overTier130429("106590000") == 1)
        // A storm nobody sent into proves nothing: the run fails.
        #expect(stormReport(answers: 0).failures == ["no sender sent into a storm window: nothing shows backoff (make the campaigns longer than --storm's period)"])
    }

    @Test func mockStormCountersAreRead() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(
            #"{"errors":{"130429":9},"errors_per_sender":{"1":{"130429":9}},"storm":{"every_ms":30000,"duration_ms":1000,"elapsed_ms":4567,"answers":8,"per_sender":{"1":8}}}"#.utf8)) as? [String: Any])
        let counts = MockErrorCounts(statsObject: object)
        #expect(counts.stormEveryMilliseconds == 30_000 && counts.stormDurationMilliseconds == 1_000 && counts.stormElapsedMilliseconds == 4_567)
        #expect(counts.storm130429PerSender == ["1": 8])
        #expect(counts.overTier130429("1") == 1)
    }

    @Test func recordParsingAndProcParsing() throws {
        let record = Data("""
            {"t":1800000000000000001,"phone_number_id":"106590000","to":"966500000000","callback":"1","wamid":"wamid.X"}

            {"t":1800000000000000002,"phone_number_id":"106590000","to":"966500000001","callback":null,"wamid":"wamid.Y"}
            """.utf8)
        let arrivals = try EndpointArrival.parseRecord(record)
        #expect(arrivals.count == 2 && arrivals[1].callback == nil && arrivals[0].timeNanoseconds == 1_800_000_000_000_000_001)
        #expect(throws: ArrivalRecordError.self) { try EndpointArrival.parseRecord(Data("{\"t\":1}\n".utf8)) }

        let stat = "4242 (sluice serve) S 1 2 3 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 1 2"
        let cpu = try #require(ProcessUsage.cpuSeconds(stat: stat))
        #expect(cpu > 0)
        #expect(ProcessUsage.peakRSSBytes(status: "Name:\tsluice\nVmHWM:\t   63740 kB\nVmRSS:\t 1 kB\n") == 63_740 * 1024)
        #expect(LoopbackURL.isLoopback("http://127.0.0.1:8080") && LoopbackURL.isLoopback("https://localhost:9443/x"))
        #expect(!LoopbackURL.isLoopback("https://graph.facebook.com") && !LoopbackURL.isLoopback("ftp://127.0.0.1"))
    }
}

/// Counts elements by name while parsing.
final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        counts[elementName, default: 0] += 1
    }
}
