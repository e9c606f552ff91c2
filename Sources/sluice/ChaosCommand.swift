import ArgumentParser
import Foundation
import Logging
import SluiceLoadTest

struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "The load test's crash loop: send campaigns at full tier, kill the dispatcher with SIGKILL many times, and check that nothing accepted was lost, sent unasked or repeated beyond the in-flight bound.",
        discussion: """
            Starts a mock endpoint (status webhooks on unless --no-webhooks) and `sluice serve` on loopback with a \
            temporary data directory, submits JSON and streamed NDJSON campaigns (half with an Idempotency-Key, \
            retried after a broken connection), and kills the dispatcher --kills times at seeded random moments: \
            during intake, while sending, inside a journal commit, and during recovery right after a restart. \
            When the campaigns drain it checks the mock's arrival record like Jepsen's queue checker: lost = 0, \
            unexpected = 0, every unanswered submission arrived whole or not at all, duplicates within the bound \
            (0 with webhooks or at_most_once; without webhooks at most what the kills left in flight). \
            Writes chaos-report.json to --report-dir. Exits 1 when a check fails, 2 when the run could not be carried out.
            """
    )

    @Option(help: "Sender tiers in messages per second, comma-separated, one sender each (default 1000,250,80).")
    var tiers = "1000,250,80"
    @Option(help: "How many times the dispatcher is killed.")
    var kills = 50
    @Option(help: "Seed of the kill moments and campaign sizes (default: random, printed).")
    var seed: UInt64?
    @Flag(inversion: .prefixedNo, help: "The mock posts signed status webhooks to the dispatcher (default on).")
    var webhooks = true
    @Option(name: .customLong("in-doubt-settle"), help: "The dispatcher's --in-doubt-settle in seconds (default 20 with webhooks, 2 without).")
    var inDoubtSettle: Double?
    @Option(help: "Send every campaign with this delivery mode (at_least_once or at_most_once); default: no field, the dispatcher's default.")
    var delivery: String?
    @Option(help: "Connections of the started dispatcher (its --connections; default serve's).")
    var connections: Int?
    @Option(name: .customLong("work-dir"), help: "Journal, mock certificate, arrival record and logs (default: a temporary directory, removed after a passing run unless --keep).")
    var workDir: String?
    @Flag(help: "Keep the work directory.")
    var keep = false
    @Option(name: .customLong("report-dir"), help: "Where chaos-report.json is written.")
    var reportDir = "sluice-chaos-report"

    func options(work: String, seed: UInt64) throws -> ChaosOptions {
        let parsed: [Int]
        do { parsed = try LoadTestPlan.parseTiers(tiers) } catch { throw ValidationError(error.description) }
        var options = ChaosOptions(workDirectory: work, tiers: parsed, kills: kills, seed: seed, webhooks: webhooks, inDoubtSettleSeconds: inDoubtSettle)
        options.delivery = delivery
        options.connections = connections
        do { try options.validate() } catch { throw ValidationError("\(error)") }
        return options
    }

    func validate() throws { _ = try options(work: "/tmp", seed: 0) }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let seed = seed ?? UInt64.random(in: 1...999_999)
        let temporary = workDir == nil
        let work = workDir ?? (NSTemporaryDirectory() + "sluice-chaos-\(ProcessInfo.processInfo.processIdentifier)")
        var options = try options(work: work, seed: seed)
        var line = (["sluice"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        if self.seed == nil { line += " --seed \(seed)" }
        options.commandLine = line
        say("Sluice chaos run: \(kills) kills, tiers \(tiers), webhooks \(webhooks ? "on" : "off"), settle \(options.inDoubtSettleSeconds) s, seed \(seed); work dir \(work)")
        let report: ChaosReport
        do {
            report = try await ChaosRunner(options: options).run { say("  " + $0) }
        } catch {
            say("chaos run could not be carried out: \(error)")
            say("work dir kept for its logs: \(work)")
            throw ExitCode(2)
        }
        try FileManager.default.createDirectory(atPath: reportDir, withIntermediateDirectories: true)
        let path = URL(fileURLWithPath: reportDir).appendingPathComponent("chaos-report.json")
        try report.json().write(to: path)
        let removeWork = temporary && !keep && report.passed
        if removeWork { try? FileManager.default.removeItem(atPath: work) }
        say("")
        for line in report.summary() { say(line) }
        say("  report: \(path.path)")
        if !removeWork { say("  work dir kept: \(work)") }
        if !report.passed { throw ExitCode(1) }
    }
}
