import Foundation
import Testing

/// `sluice chaos` in its bounded form: a handful of SIGKILLs of a dispatcher sending at
/// full tier, with status webhooks on and off; the full run (50+ kills, release build) is
/// in tuning/RELIABILITY.md.
@Suite(.serialized) struct ChaosEndToEndTests {
    /// A run's own bound is far longer; this one keeps the suite bounded.
    static let runSecondsMax = 240.0

    struct Outcome {
        var status: Int32?
        var report: [String: Any]
        var check: [String: Any]
        func int(_ key: String) -> Int? { (check[key] as? NSNumber)?.intValue }
    }

    func run(_ extra: [String], name: String) async throws -> Outcome {
        let root = try temporaryDirectory("chaos-\(name)")
        let run = try ChildProcess(
            arguments: ["chaos", "--tiers", "250,80", "--kills", "6", "--seed", "5", "--work-dir", root + "/work", "--report-dir", root] + extra,
            logPath: root + "/chaos.log")
        let deadline = Date().addingTimeInterval(Self.runSecondsMax)
        while run.process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
        let status = await run.stop(timeoutSeconds: 5)
        let text = try String(contentsOfFile: root + "/chaos-report.json", encoding: .utf8)
        let report = try jsonObject(text)
        let check = try #require(report["check"] as? [String: Any])
        if status == 0 { try? FileManager.default.removeItem(atPath: root) }
        return Outcome(status: status, report: report, check: check)
    }

    func expectSound(_ o: Outcome) {
        #expect(o.status == 0, "chaos exit status \(String(describing: o.status)); failures: \(o.report["failures"] ?? "?")")
        #expect(o.report["passed"] as? Bool == true)
        #expect((o.report["kills"] as? [Any])?.count == 6)
        #expect(o.int("lost") == 0, "examples: \(o.check["examples"] ?? "none")")
        #expect(o.int("unexpected") == 0)
        #expect(o.int("indeterminate_partial") == 0)
        #expect(o.int("double_intake") == 0)
        #expect((o.int("acknowledged") ?? 0) > 0)
        #expect((o.int("duplicates") ?? .max) <= (o.int("duplicate_bound") ?? -1))
    }

    /// The settle window is wall-clock time, and the mock's statuses reach a sanitized
    /// `serve` seconds late (thread sanitizer: arrival → acknowledgement p99 6–18 s, against
    /// 0.4 s unsanitized; tuning/RELIABILITY.md), so a sanitized run waits longer.
    static let settleSeconds = ProcessInfo.processInfo.environment["SLUICE_SANITIZER"] == nil ? "12" : "40"

    @Test func killsWithWebhooksLoseNothingAndRepeatNothing() async throws {
        let o = try await run(["--in-doubt-settle", Self.settleSeconds], name: "webhooks")
        expectSound(o)
        #expect(o.int("duplicate_bound") == 0)
        #expect(o.int("duplicates") == 0)
    }

    @Test func killsWithoutWebhooksRepeatAtMostWhatWasInFlight() async throws {
        let o = try await run(["--no-webhooks", "--in-doubt-settle", "1"], name: "no-webhooks")
        expectSound(o)
        #expect(o.int("duplicate_bound") == (o.report["recovered_in_doubt_total"] as? NSNumber)?.intValue)
    }
}
