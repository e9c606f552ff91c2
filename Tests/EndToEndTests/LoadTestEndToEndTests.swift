import Foundation
import SluiceTestSupport
import Testing

/// `sluice loadtest` driven as a child process: it starts its own mock and dispatcher,
/// sends from two senders for a few seconds, and must pass and write both reports.
@Suite(.serialized, .enabled(if: WallClockJudges.enabled, WallClockJudges.reason)) struct LoadTestEndToEndTests {
    /// The run's own deadline is 3 × 3 + 60 s; this leaves room for startup and reports.
    static let runSecondsMax = 120.0

    /// Runs `sluice loadtest <arguments>` with its work and report directories in a new
    /// temporary directory; expects exit 0 and a passing report. Returns report.json, the
    /// report directory and the temporary directory (the test removes it when done).
    func runLoadTest(
        _ name: String, _ arguments: [String], secondsMax: Double = runSecondsMax, expectPass: Bool = true
    ) async throws -> ([String: Any], String, String) {
        let root = try temporaryDirectory(name)
        let reports = root + "/report"
        let run = try ChildProcess(
            arguments: ["loadtest"] + arguments + ["--work-dir", root + "/work", "--report-dir", reports], logPath: root + "/loadtest.log")
        let deadline = Date().addingTimeInterval(secondsMax)
        while run.process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
        let status = await run.stop(timeoutSeconds: 5)
        let json = try jsonObject(String(contentsOfFile: reports + "/report.json", encoding: .utf8))
        if expectPass {
            #expect(status == 0, "loadtest exit status \(String(describing: status)); stderr: \(run.stderrTail())")
            #expect(json["passed"] as? Bool == true, "failures: \(json["failures"] ?? "none")")
            if json["passed"] as? Bool != true {
                // The evidence (serve and mock logs, arrivals, departures) outlives the test's cleanup.
                let kept = NSTemporaryDirectory() + "sluice-failed-\(name)-\(UUID().uuidString.prefix(8))"
                try? FileManager.default.copyItem(atPath: root, toPath: kept)
                Issue.record("the failed run's work directory is kept at \(kept)")
            }
        } else {
            #expect(status == 0 || status == 1, "loadtest could not run: \(String(describing: status)); stderr: \(run.stderrTail())")
        }
        return (json, reports, root)
    }

    @Test func shortLoadTestPassesAndWritesItsReports() async throws {
        let (json, reports, root) = try await runLoadTest("loadtest", ["--tiers", "20,80", "--seconds", "3"])
        let senders = try #require(json["senders"] as? [[String: Any]])
        #expect(senders.count == 2)
        for sender in senders {
            let pacing = try #require(sender["pacing"] as? [String: Any])
            let tier = try #require((pacing["tier_mps"] as? NSNumber)?.intValue)
            #expect((pacing["accepted"] as? NSNumber)?.intValue == tier * 3)
            #expect((pacing["lost"] as? NSNumber)?.intValue == 0)
            #expect(((pacing["max_in_1s"] as? NSNumber)?.intValue ?? .max) <= tier)
        }
        #expect(json["dispatcher"] is [String: Any], "CPU and RSS of the started dispatcher")

        let html = try String(contentsOfFile: reports + "/report.html", encoding: .utf8)
        #expect(html.components(separatedBy: "<svg").count - 1 == 3, "one chart per sender and the latency chart")
        #expect(html.components(separatedBy: "class=\"tier-line\"").count - 1 == 2)
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A distant endpoint, with serve's defaults but for the pacing margin: the mock
    /// answers every send 400 ms after it arrived, so holding 2 × 250 msg/s takes about
    /// 200 requests in flight, and each new connection takes 300 ms to set up. (The defaults before the in-flight bound followed latency —
    /// HTTP/1.1 over 64 connections — carried 160 msg/s here.) Judged on what distance
    /// changes: the steady rate against the paced rate, the first second, the requests in
    /// flight, nothing lost. The 5 % margin keeps it about distance: a debug-build mock answering 200
    /// streams late on a shared machine stamps arrivals with more jitter than the default
    /// 0.8 % absorbs and refuses some; the strict verdict at the default margin is the
    /// harness's on a quiet machine (tuning/RESULTS.md, "Distance").
    ///
    /// The steady rate is the median full second: a too-small in-flight bound cuts every
    /// second, while one stall of a busy machine cuts one (a CI run saw the 5 s mean at
    /// 92.3 % of tier, 160 ms lost once; paced sends do not catch up, by design). The
    /// whole span's mean is held to 90 %, which a lasting shortfall still fails.
    @Test func aDistantEndpointGetsEveryTierWithoutTuning() async throws {
        let margin = 0.05
        let (json, _, root) = try await runLoadTest(
            "loadtest-distance",
            ["--tiers", "250,250", "--seconds", "5", "--latency", "fixed:400", "--connect-latency", "300", "--pacing-margin", String(margin)],
            expectPass: false)
        let senders = try #require(json["senders"] as? [[String: Any]])
        #expect(senders.count == 2)
        for sender in senders {
            let pacing = try #require(sender["pacing"] as? [String: Any])
            #expect((pacing["lost"] as? NSNumber)?.intValue == 0)
            let paced = 250 / (1 + margin)
            let fraction = try #require((pacing["mean_of_tier"] as? NSNumber)?.doubleValue)
            #expect(fraction >= 0.90 / (1 + margin), "mean \(fraction) of the tier at 400 ms, paced at \(1 / (1 + margin))")
            let perSecond = try #require(pacing["arrivals_per_second"] as? [NSNumber])
            // 1 250 messages at 238/s: seconds 1 to 4 are full, the first and the last are not.
            let full = perSecond.dropFirst().dropLast().map(\.doubleValue).sorted()
            try #require(full.count >= 3, "arrivals per second: \(perSecond)")
            let median = (full[(full.count - 1) / 2] + full[full.count / 2]) / 2
            #expect(median >= 0.97 * paced, "median full second \(median) arrivals, paced at \(paced)/s: \(perSecond)")
            // Warm start: the connections (300 ms each to set up) were open before the
            // campaign, so its first second ran at tier (measured: 234-235 of 250 with warm
            // start, 138-142 with --no-warm-start).
            let first = try #require(perSecond.first).intValue
            #expect(Double(first) >= 0.85 * paced, "\(first) arrivals in the first second at tier 250")
        }
        let dispatcher = try #require(json["dispatcher"] as? [String: Any])
        let inFlight = try #require((dispatcher["in_flight_max"] as? NSNumber)?.intValue)
        #expect(inFlight >= 150, "at most \(inFlight) in flight: 2 × 250 msg/s × 0.4 s needs about 200")
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Ceiling mode: h2load first, then two unlimited senders at tier 1000, both against the
    /// same started mock; the report holds both rates and their ratio.
    ///
    /// The 5 % pacing margin (forwarded to `serve`) keeps this test about the harness: at the
    /// default 1 % a debug-build dispatcher on a saturated 2-core machine lets 1 000–1 031
    /// arrivals into one sliding second in about half the runs (queued sends leave in a
    /// burst), which the mock, unlimited here, records and the run rightly fails on.
    @Test func ceilingRunMeasuresTheReferenceAndTheDispatcher() async throws {
        let (json, reports, root) = try await runLoadTest("loadtest-ceiling", ["--ceiling", "--senders", "2", "--seconds", "2", "--connections", "16", "--pacing-margin", "0.05"])
        let senders = try #require(json["senders"] as? [[String: Any]])
        #expect(senders.count == 2)
        for sender in senders {
            let pacing = try #require(sender["pacing"] as? [String: Any])
            #expect((pacing["tier_mps"] as? NSNumber)?.intValue == 1000)
            #expect((pacing["lost"] as? NSNumber)?.intValue == 0)
            #expect(((pacing["max_in_1s"] as? NSNumber)?.intValue ?? .max) <= 1000)
        }
        let totals = try #require(json["totals"] as? [String: Any])
        #expect((totals["arrivals"] as? NSNumber)?.intValue == 4000, "the reference's arrivals are not judged as the senders'")
        let ceiling = try #require(json["ceiling"] as? [String: Any])
        let reference = try #require(ceiling["reference"] as? [String: Any])
        #expect((reference["status_2xx"] as? NSNumber)?.intValue == 4000)
        #expect((reference["failed"] as? NSNumber)?.intValue == 0)
        #expect((ceiling["offered_messages"] as? NSNumber)?.intValue == 4000)
        let sluice = try #require((ceiling["sluice_messages_per_second"] as? NSNumber)?.doubleValue)
        let rate = try #require((reference["requests_per_second"] as? NSNumber)?.doubleValue)
        let ratio = try #require((ceiling["ratio"] as? NSNumber)?.doubleValue)
        #expect(sluice > 0 && rate > 0)
        #expect(abs(ratio - sluice / rate) < 1e-9)
        let html = try String(contentsOfFile: reports + "/report.html", encoding: .utf8)
        #expect(html.contains("<h2>Ceiling</h2>"))
        try? FileManager.default.removeItem(atPath: root)
    }

    /// `--webhooks`: the started mock posts signed statuses to the started dispatcher; every
    /// accepted message gets an acknowledged `delivered`, after its arrival at the endpoint.
    /// A 130429 storm of 1 s every 20 s against one sender at tier 80 for a 40 s campaign:
    /// it meets the storm at 20 s, is paced lower, and is back at its tier within the
    /// controller's recovery; nothing is lost and no second holds more than the tier.
    @Test func stormRunShowsTheSenderBackingOffAndRecovering() async throws {
        // 40 × 3 + 60 s is the run's own deadline; it ends far sooner.
        let (json, reports, root) = try await runLoadTest("loadtest-storm", ["--tiers", "80", "--seconds", "40", "--storm", "20:1"], secondsMax: 200)
        #expect(json["storm"] is [String: Any], "the schedule on the harness's clock")
        let sender = try #require((json["senders"] as? [[String: Any]])?.first)
        let pacing = try #require(sender["pacing"] as? [String: Any])
        #expect((pacing["lost"] as? NSNumber)?.intValue == 0)
        #expect(((pacing["max_in_1s"] as? NSNumber)?.intValue ?? .max) <= 80)
        let episodes = try #require((sender["storm"] as? [String: Any])?["episodes"] as? [[String: Any]])
        let recovered = try #require(episodes.first { $0["outcome"] as? String == "recovered" }, "episodes: \(episodes)")
        #expect(((recovered["answers"] as? NSNumber)?.intValue ?? 0) > 0)
        #expect(((recovered["lowest_mps"] as? NSNumber)?.doubleValue ?? 80) <= 40, "halved at least once")
        let back = try #require((recovered["recovered_after_s"] as? NSNumber)?.doubleValue)
        #expect(back <= ((recovered["recovery_bound_s"] as? NSNumber)?.doubleValue ?? 0))
        let html = try String(contentsOfFile: reports + "/report.html", encoding: .utf8)
        #expect(html.contains("<h2>130429 storms</h2>") && html.contains("<polyline class=\"paced\""))
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test func webhookRunMeasuresAcceptedToDelivered() async throws {
        let (json, _, root) = try await runLoadTest("loadtest-webhooks", ["--tiers", "20,80", "--seconds", "2", "--webhooks"])
        let latency = try #require(json["latency"] as? [String: Any])
        #expect((latency["undelivered"] as? NSNumber)?.intValue == 0)
        let delivered = try #require(latency["accepted_to_delivered"] as? [String: Any])
        let arrival = try #require(latency["accepted_to_arrival"] as? [String: Any])
        #expect((delivered["count"] as? NSNumber)?.intValue == 200, "20 × 2 + 80 × 2 messages")
        let deliveredP50 = try #require((delivered["p50_ms"] as? NSNumber)?.doubleValue)
        let arrivalP50 = try #require((arrival["p50_ms"] as? NSNumber)?.doubleValue)
        // The mock sends `delivered` 150 ms after it accepted the send.
        #expect(deliveredP50 > arrivalP50 + 100, "delivered p50 \(deliveredP50) ms, arrival p50 \(arrivalP50) ms")
        try? FileManager.default.removeItem(atPath: root)
    }

    /// `--inbound 10`: customers write to both numbers at 10 msg/s while their campaigns go.
    /// Every send stays within what the customers leave of its tier (the mock would refuse
    /// the rest 130429), each mean is at least 97 % of that share, and every incoming
    /// message the dispatcher acknowledged reaches the harness's subscriber, signed.
    @Test func inboundRunSharesEachTierAndReachesTheSubscriber() async throws {
        let (json, _, root) = try await runLoadTest("loadtest-inbound", ["--tiers", "20,80", "--seconds", "4", "--inbound", "10"])
        let inbound = try #require(json["inbound"] as? [String: Any], "the report's inbound section")
        let acknowledged = try #require((inbound["acknowledged"] as? NSNumber)?.intValue)
        #expect(acknowledged >= 2 * 10 * 3, "two numbers, 10 a second, for at least the campaigns' span")
        #expect((inbound["delivered"] as? NSNumber)?.intValue == acknowledged)
        let latency = try #require(inbound["posted_to_subscriber"] as? [String: Any])
        #expect(((latency["p99_ms"] as? NSNumber)?.doubleValue ?? .infinity) < 5_000)
        for sender in try #require(json["senders"] as? [[String: Any]]) {
            let pacing = try #require(sender["pacing"] as? [String: Any])
            let share = try #require(pacing["inbound"] as? [String: Any], "\(pacing)")
            let tier = try #require((pacing["tier_mps"] as? NSNumber)?.doubleValue)
            let left = try #require((share["left_mps"] as? NSNumber)?.doubleValue)
            #expect((share["sends_over_tier"] as? NSNumber)?.intValue == 0)
            #expect(left < tier - 10, "the reserve is at least the customers' rate: \(left) of \(tier)")
            #expect(((pacing["mean_mps"] as? NSNumber)?.doubleValue ?? 0) <= left * 1.01, "sent within what incoming messages leave")
        }
        try? FileManager.default.removeItem(atPath: root)
    }
}
