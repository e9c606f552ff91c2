import Foundation
import Testing
@testable import SluiceLoadTest

/// Ceiling mode without processes: the plan, h2load's output, the report and its judging.
@Suite struct CeilingTests {
    /// h2load 1.52's output for a run against the mock (HTTP/1.1 over TLS).
    static let h2loadOutput = """
        starting benchmark...
        spawning thread #0: 16 total client(s). 4000 total requests
        TLS Protocol: TLSv1.3
        Cipher: TLS_AES_128_GCM_SHA256
        Server Temp Key: X25519 253 bits
        Application protocol: http/1.1
        progress: 10% done
        progress: 100% done

        finished in 2.01s, 1990.05 req/s, 1.23MB/s
        requests: 4000 total, 4000 started, 4000 done, 3990 succeeded, 10 failed, 0 errored, 0 timeout
        status codes: 3990 2xx, 0 3xx, 10 4xx, 0 5xx
        traffic: 2.47MB (2589000) total, 351.56KB (360000) headers (space savings 0.00%), 1.76MB (1844000) data
                             min         max         mean         sd        +/- sd
        time for request:      448us     57.47ms     30.96ms      4.40ms    88.20%
        time for connect:     4.17ms    183.26ms     93.70ms     52.06ms    57.81%
        time to 1st byte:    63.49ms    185.77ms    128.04ms     31.71ms    54.69%
        req/s           :      30.99       33.15       31.65        0.44    70.31%
        """

    static func clean(requests: Int, rate: Double) -> ReferenceResult {
        ReferenceResult(
            seconds: Double(requests) / rate, requestsPerSecond: rate, total: requests, done: requests, succeeded: requests,
            failed: 0, errored: 0, status2xx: requests, status4xx: 0, status5xx: 0)
    }

    // MARK: Plan

    @Test func ceilingPlanPutsEverySenderAtTheHighestTier() throws {
        let plan = try LoadTestPlan.ceiling(senders: 2, seconds: 2)
        #expect(plan.ceiling)
        #expect(plan.senders.map(\.tier) == [1000, 1000])
        #expect(plan.senders.map(\.messageCount) == [2000, 2000])
        #expect(plan.messageCount == 4000)
        #expect(plan.deadlineSeconds > (try LoadTestPlan(tiers: [1000], sendersPerTier: 2, seconds: 2)).deadlineSeconds)
        #expect(try LoadTestPlan.ceiling(seconds: 10).senders.count == LoadTestPlan.ceilingSendersDefault)
        #expect(throws: LoadTestPlanError.self) { try LoadTestPlan.ceiling(senders: 0, seconds: 2) }
        #expect(throws: LoadTestPlanError.self) { try LoadTestPlan.ceiling(senders: LoadTestPlan.sendersMax + 1, seconds: 2) }
        #expect(throws: LoadTestPlanError.self) { try LoadTestPlan.ceiling(senders: 2, seconds: 0) }
    }

    @Test func referenceNumberIsNeverAPlannedSender() throws {
        let plan = try LoadTestPlan.ceiling(senders: LoadTestPlan.sendersMax, seconds: 1)
        #expect(!plan.senders.map(\.phoneNumberID).contains(LoadTestPlan.referencePhoneNumberID))
        #expect(plan.senders.allSatisfy { $0.index(ofRecipient: LoadTestRunner.referenceRecipient) == nil })
    }

    @Test func planDecodesWithoutTheCeilingKey() throws {
        let old = #"{"senders":[{"phoneNumberID":"1065900000","tier":20,"messageCount":40,"firstRecipient":966500000000}],"seconds":2}"#
        let plan = try JSONDecoder().decode(LoadTestPlan.self, from: Data(old.utf8))
        #expect(!plan.ceiling && plan.senders.count == 1)
        let ceiling = try LoadTestPlan.ceiling(senders: 3, seconds: 1)
        #expect(try JSONDecoder().decode(LoadTestPlan.self, from: JSONEncoder().encode(ceiling)) == ceiling)
    }

    @Test func referenceBodyIsATemplateSendOfTheRegisteredTemplate() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: LoadTestRunner.referenceBody()) as? [String: Any])
        #expect(object["type"] as? String == "template")
        #expect(object["to"] as? String == LoadTestRunner.referenceRecipient)
        let template = try #require(object["template"] as? [String: Any])
        #expect(template["name"] as? String == LoadTestRunner.ceilingTemplateName)
    }

    // MARK: h2load

    @Test func parsesH2loadSummary() throws {
        let r = try ReferenceResult.parse(h2loadOutput: Self.h2loadOutput)
        #expect(r.seconds == 2.01)
        #expect(r.requestsPerSecond == 1990.05)
        #expect(r.total == 4000 && r.done == 4000 && r.succeeded == 3990 && r.failed == 10 && r.errored == 0)
        #expect(r.status2xx == 3990 && r.status4xx == 10 && r.status5xx == 0)
        #expect(r.problems(requested: 4000).count == 2, "10 failed and 10 non-2xx")
        #expect(Self.clean(requests: 4000, rate: 2000).problems(requested: 4000).isEmpty)
        #expect(Self.clean(requests: 3000, rate: 2000).problems(requested: 4000).count == 2, "short: not done, not 2xx")
    }

    @Test func parsesMillisecondDurations() throws {
        let text = Self.h2loadOutput.replacingOccurrences(of: "finished in 2.01s", with: "finished in 512.5ms")
        #expect(try ReferenceResult.parse(h2loadOutput: text).seconds == 0.5125)
    }

    @Test func missingOrMalformedSummaryLinesThrow() {
        let noStatus = Self.h2loadOutput.split(separator: "\n").filter { !$0.hasPrefix("status codes") }.joined(separator: "\n")
        #expect(throws: ReferenceOutputError.missing("status codes: …")) { try ReferenceResult.parse(h2loadOutput: noStatus) }
        #expect(throws: ReferenceOutputError.missing("finished in …")) { try ReferenceResult.parse(h2loadOutput: "connect failed") }
        let bad = Self.h2loadOutput.replacingOccurrences(of: "1990.05 req/s", with: "fast req/s")
        #expect(throws: ReferenceOutputError.self) { try ReferenceResult.parse(h2loadOutput: bad) }
        let badCount = Self.h2loadOutput.replacingOccurrences(of: "4000 done", with: "all done")
        #expect(throws: ReferenceOutputError.self) { try ReferenceResult.parse(h2loadOutput: badCount) }
    }

    @Test func referenceClientCommandLineFollowsTheDispatchersProtocolWithTheBodyAndToken() {
        var client = ReferenceClient(
            url: "https://127.0.0.1:9/v21.0/1065999999/messages", bodyFile: "/tmp/b.json", bearer: "tok", requests: 4000,
            connections: 16, http2: false, outputPath: "/tmp/h2load.log")
        #expect(client.arguments == [
            "-n", "4000", "-c", "16", "-t", "1", "--h1", "-d", "/tmp/b.json",
            "-H", "authorization: Bearer tok", "-H", "content-type: application/json", "https://127.0.0.1:9/v21.0/1065999999/messages",
        ])
        client.http2 = true
        #expect(client.arguments == [
            "-n", "4000", "-c", "16", "-t", "1", "-m", "100", "-d", "/tmp/b.json",
            "-H", "authorization: Bearer tok", "-H", "content-type: application/json", "https://127.0.0.1:9/v21.0/1065999999/messages",
        ])
    }

    @Test func missingH2loadNamesThePackage() async {
        let client = ReferenceClient(
            executable: "/nonexistent/h2load", url: "https://127.0.0.1:9/v21.0/1/messages", bodyFile: "/tmp/b.json", bearer: "t",
            requests: 10, connections: 2, outputPath: "/tmp/never")
        let error = await #expect(throws: LoadTestError.self) { _ = try await client.run() }
        #expect(error.map { "\($0)" }?.contains("install Debian's nghttp2-client package") == true)
    }

    // MARK: Analysis and report

    /// Two ceiling senders at 600 msg/s (60 % of their tier), the reference at `reference`.
    func ceilingReport(reference: ReferenceResult, ceiling: Bool = true, httpVersion: String = "2") throws -> LoadTestReport {
        let plan = try LoadTestPlan.ceiling(senders: 2, seconds: 1)
        let a = plan.senders[0], b = plan.senders[1]
        let arrivals = paced(a, rate: 600, start: origin) + paced(b, rate: 600, start: origin)
        let campaigns = [
            SubmittedCampaign(sender: a, campaignID: "1", accepted: a.messageCount, acceptedAtNanoseconds: origin),
            SubmittedCampaign(sender: b, campaignID: "2", accepted: b.messageCount, acceptedAtNanoseconds: origin),
        ]
        let context = RunAnalysis.Context(
            command: "sluice loadtest --ceiling --senders 2 --seconds 1", startedAt: "2026-11-24T18:00:00Z", seconds: 1, mode: "started",
            serverURL: "http://127.0.0.1:1", mockURL: "https://127.0.0.1:2", wallSeconds: 2, campaignsDone: true,
            endNanoseconds: origin + 2 * second, usage: nil,
            ceiling: ceiling ? CeilingInput(connections: 16, reference: reference, httpVersion: httpVersion) : nil)
        return RunAnalysis.report(campaigns: campaigns, arrivals: arrivals, errors: MockErrorCounts(), context: context)
    }

    @Test func ceilingRunDoesNotJudgeTheMeanButReportsTheRatio() throws {
        let report = try ceilingReport(reference: Self.clean(requests: 2000, rate: 2000))
        #expect(report.passed, "\(report.failures)")
        #expect(report.senders.allSatisfy { abs($0.pacing.meanFractionOfTier - 0.6) < 0.01 })
        let c = try #require(report.ceiling)
        #expect(c.offeredMessages == 2000 && c.senders == 2 && c.connections == 16)
        // Both senders interleave at 600/s each: 1200 msg/s in total.
        #expect(abs(c.sluiceMessagesPerSecond - 1200) < 2)
        #expect(c.sluiceMessagesPerSecond == report.totals.messagesPerSecond)
        #expect(c.ratio == c.sluiceMessagesPerSecond / 2000)

        // The same arrivals in an ordinary run fail on the mean.
        let ordinary = try ceilingReport(reference: Self.clean(requests: 2000, rate: 2000), ceiling: false)
        #expect(!ordinary.passed && ordinary.ceiling == nil)
        #expect(ordinary.failures.count == 2 && ordinary.failures.allSatisfy { $0.contains("mean") })
    }

    @Test func referenceWithFailuresFailsTheRun() throws {
        let report = try ceilingReport(reference: try ReferenceResult.parse(h2loadOutput: Self.h2loadOutput))
        #expect(!report.passed)
        #expect(report.failures.contains { $0.hasPrefix("reference client") && $0.contains("failed") })
        // The parsed reference sent 4000 but the plan offered 2000: that is a failure too.
        #expect(report.failures.contains { $0.contains("of 2000 requests done") })
    }

    @Test func ceilingStillJudgesWindowsOverTheTier() throws {
        let plan = try LoadTestPlan.ceiling(senders: 1, seconds: 2)
        let a = plan.senders[0]
        let context = RunAnalysis.Context(
            command: "", startedAt: "", seconds: 2, mode: "started", serverURL: "", mockURL: "", wallSeconds: 2, campaignsDone: true,
            endNanoseconds: origin + 2 * second, usage: nil, ceiling: CeilingInput(connections: 4, reference: Self.clean(requests: 2000, rate: 5000)))
        let report = RunAnalysis.report(
            campaigns: [SubmittedCampaign(sender: a, campaignID: "1", accepted: 2000, acceptedAtNanoseconds: origin)],
            arrivals: paced(a, rate: 1500, start: origin), errors: MockErrorCounts(), context: context)
        #expect(!report.passed)
        #expect(report.failures.count == 1 && report.failures[0].contains("over the tier of 1000"))
    }

    @Test func ceilingReportRoundTripsAndOldReportsDecode() throws {
        let report = try ceilingReport(reference: Self.clean(requests: 2000, rate: 2500))
        let data = try ReportRenderer.json(report)
        #expect(try ReportRenderer.decode(data) == report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let ceiling = try #require(object["ceiling"] as? [String: Any])
        #expect((ceiling["offered_messages"] as? NSNumber)?.intValue == 2000)
        let reference = try #require(ceiling["reference"] as? [String: Any])
        #expect((reference["status_2xx"] as? NSNumber)?.intValue == 2000)
        let ratio = try #require((ceiling["ratio"] as? NSNumber)?.doubleValue)
        #expect(abs(ratio - (report.ceiling?.ratio ?? 0)) < 1e-12)

        // A report written before the protocol was recorded: an HTTP/2 run.
        #expect(ceiling["http_version"] as? String == "2")
        var unlabelled = object
        unlabelled["ceiling"] = ceiling.filter { $0.key != "http_version" }
        let beforeProtocol = try ReportRenderer.decode(JSONSerialization.data(withJSONObject: unlabelled))
        #expect(beforeProtocol.ceiling?.httpVersion == "2" && beforeProtocol.ceiling?.ratio == report.ceiling?.ratio)

        // A report written before ceiling mode: no "ceiling" key.
        var old = object
        old.removeValue(forKey: "ceiling")
        let decoded = try ReportRenderer.decode(JSONSerialization.data(withJSONObject: old))
        #expect(decoded.ceiling == nil && decoded.senders == report.senders)
    }

    @Test func summaryAndHTMLShowTheCeiling() throws {
        let report = try ceilingReport(reference: Self.clean(requests: 2000, rate: 2400))
        let summary = ReportRenderer.summary(report).joined(separator: "\n")
        #expect(summary.contains("Ceiling (2 senders"))
        #expect(summary.contains("reference: 2400.0 req/s (h2load, 16 connection(s) x 100 streams"))
        #expect(summary.contains("HTTP/2") && !summary.contains("HTTP/1.1"))
        let http1 = ReportRenderer.summary(try ceilingReport(reference: Self.clean(requests: 2000, rate: 2400), httpVersion: "1.1"))
            .joined(separator: "\n")
        #expect(http1.contains("HTTP/1.1 keep-alive") && http1.contains("(h2load, 16 connection(s), same mock"))
        #expect(summary.contains("ratio:     \(String(format: "%.1f", 100 * report.ceiling!.ratio)) %"))
        let html = ReportRenderer.html(report)
        #expect(html.contains("<h2>Ceiling</h2>"))
        #expect(html.contains("2400.0"))
        let ordinary = try ceilingReport(reference: Self.clean(requests: 2000, rate: 2400), ceiling: false)
        #expect(!ReportRenderer.html(ordinary).contains("<h2>Ceiling</h2>"))
        #expect(!ReportRenderer.summary(ordinary).joined().contains("Ceiling"))
    }

    @Test func inDoubtMessagesAreReportedNotFailed() throws {
        let plan = try LoadTestPlan.ceiling(senders: 1, seconds: 1)
        let a = plan.senders[0]
        func run(inDoubt: Int) -> LoadTestReport {
            let context = RunAnalysis.Context(
                command: "", startedAt: "", seconds: 1, mode: "started", serverURL: "", mockURL: "", wallSeconds: 1, campaignsDone: inDoubt == 0,
                endNanoseconds: origin + 2 * second, usage: nil, inDoubt: inDoubt,
                ceiling: CeilingInput(connections: 4, reference: Self.clean(requests: 1000, rate: 5000)))
            return RunAnalysis.report(
                campaigns: [SubmittedCampaign(sender: a, campaignID: "1", accepted: 1000, acceptedAtNanoseconds: origin)],
                arrivals: paced(a, rate: 900, start: origin), errors: MockErrorCounts(), context: context)
        }
        let doubtful = run(inDoubt: 2)
        #expect(doubtful.passed && doubtful.totals.inDoubt == 2)
        #expect(ReportRenderer.summary(doubtful).contains { $0.contains("2 in doubt at the dispatcher") })
        #expect(!ReportRenderer.summary(run(inDoubt: 0)).contains { $0.contains("in doubt") })
    }
}
