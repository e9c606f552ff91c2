import ArgumentParser
import Foundation
import Logging
import SluiceLoadTest
import SluiceMock
import SluiceServer

struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Start (or target) a mock endpoint and a dispatcher, send one campaign per sender at its tier, and judge pacing, loss and latency from the endpoint's arrival record.",
        discussion: """
            Writes report.json and report.html to --report-dir and prints a summary. Exits 1 when a \
            sender broke the pacing bound (more than its tier in any sliding second, at the endpoint or by the dispatcher's \
            departure record, a 130429 from the mock that time in transit does not explain, or more such refusals than \
            0.5 % of the messages, or a mean under 97 % of it) or a message was lost; 2 when the run could not be carried out.

            --ceiling finds the dispatcher's ceiling on this machine: --senders senders at tier 1000, unlimited at \
            the mock, after a reference client (h2load, Debian's nghttp2-client) has sent as many requests to the same \
            mock over --connections connections; the report gives both rates and their ratio.

            --storm EVERY:LENGTH makes the started mock refuse every send with 130429 in recurring windows. The \
            harness samples each sender's paced rate (GET /v1/senders/{id}) twice a second; the run fails when a \
            sender that sent into a storm did not back off, or was not paced at its tier again within the recovery \
            the rate controller promises (5 % of the tier a second), or when no sender met a storm. Storm 130429s are \
            no pacing fault and the mean is not judged; windows over the tier and lost messages still fail the run.

            --inbound RATE has customers write to every number at RATE messages a second (signed incoming-message \
            webhooks of every type from the started mock to the started dispatcher), and subscribes a receiver of the \
            harness's own to their message events. WhatsApp counts incoming messages toward the tier: the campaigns \
            start once the dispatcher has measured them, sends and incoming messages together are judged against each \
            tier, and each mean against what the dispatcher's inbound reserve leaves of it. The report adds incoming \
            -> subscriber latency; the run fails when an incoming message the dispatcher acknowledged never reached \
            the subscriber.
            """
    )

    /// Used when `--tiers` is not given.
    static let tiersDefault = "20,80,250,1000"

    @Option(help: "Sender tiers in messages per second, comma-separated (1–1000; default 20,80,250,1000).")
    var tiers: String?
    @Option(name: .customLong("senders-per-tier"), help: "Senders at each tier (default 1).")
    var sendersPerTier: Int?
    @Flag(help: "Ceiling mode: senders at tier 1000 with no limit at the mock, measured against h2load on the same mock.")
    var ceiling = false
    @Option(help: "With --ceiling: how many senders (default 24).")
    var senders: Int?
    @Option(help: "Connections of the started dispatcher (its --connections) and, with --ceiling, of h2load (default: serve's; h2load 8 over HTTP/2, 64 over HTTP/1.1).")
    var connections: Int?
    @Option(name: .customLong("pacing-margin"), help: "The started dispatcher's --pacing-margin (default: serve's, 0.008).")
    var pacingMargin: Double?
    @Flag(name: .customLong("no-warm-start"), help: "The started dispatcher opens no connections ahead (its --no-warm-start): to measure what warm start saves.")
    var noWarmStart = false
    @Option(name: .customLong("http-version"), help: "The started dispatcher's --http-version, 1.1 or 2, and the protocol of the ceiling's h2load (default: serve's, 2).")
    var httpVersion: String?
    @Option(help: ArgumentHelp(
        "How far away the started mock is: its answer time as fixed:MS, uniform:MIN-MAX or long-tail:MEDIAN/P99 (e.g. long-tail:150/800).",
        valueName: "PROFILE"))
    var latency: String?
    @Option(name: .customLong("connect-latency"), help: "The started mock's connection setup time in milliseconds (its --connect-latency-ms): what each new connection costs before its first request, as the TCP and TLS round trips to a distant endpoint do.")
    var connectLatency: Int?
    @Flag(help: "The started mock posts signed status webhooks to the started dispatcher; reports accepted -> delivered latency and fails on any undelivered message.")
    var webhooks = false
    @Option(help: ArgumentHelp(
        "The started mock answers every send 130429 for LENGTH seconds of every EVERY seconds (e.g. 30:2); the report follows each sender's paced rate down and back up.",
        valueName: "EVERY:LENGTH"))
    var storm: String?
    @Option(help: ArgumentHelp(
        "Customers write to each number at RATE messages a second (signed incoming messages from the started mock); the report adds incoming -> subscriber latency.",
        valueName: "RATE"))
    var inbound: Double?
    @Option(help: "How long each campaign should take at its tier, in seconds (campaign size = tier × seconds).")
    var seconds = 20
    @Option(help: "Base URL of a running dispatcher's API (default: start `sluice serve`). Needs --mock.")
    var server: String?
    @Option(help: "Base URL of a running mock endpoint (default: start `sluice mock`).")
    var mock: String?
    @Option(help: "With --mock: its NDJSON arrival record (default: read GET /__mock/arrivals).")
    var record: String?
    @Option(name: .customLong("mock-ca-file"), help: "With --mock: its CA file (default: its certificate is not checked; loopback only).")
    var mockCAFile: String?
    @Option(name: .customLong("admin-key"), help: "With --server: the dispatcher's admin key (default: $SLUICE_ADMIN_KEY).")
    var adminKey: String?
    @Option(name: .customLong("work-dir"), help: "Journal, mock certificate and logs (default: a temporary directory, removed after a passing run unless --keep).")
    var workDir: String?
    @Flag(help: "Keep the work directory.")
    var keep = false
    @Option(name: .customLong("report-dir"), help: "Where report.json and report.html are written.")
    var reportDir = "sluice-loadtest-report"

    func validate() throws {
        if ceiling {
            for (flag, given) in [("--server", server != nil), ("--mock", mock != nil), ("--tiers", tiers != nil), ("--senders-per-tier", sendersPerTier != nil)] where given {
                throw ValidationError("--ceiling cannot be combined with \(flag): it starts its own mock and dispatcher and runs every sender at tier 1000")
            }
        }
        if webhooks {
            for (flag, given) in [("--ceiling", ceiling), ("--server", server != nil), ("--mock", mock != nil)] where given {
                throw ValidationError("--webhooks cannot be combined with \(flag): the harness points its own mock's webhooks at its own dispatcher")
            }
        }
        if let inbound {
            for (flag, given) in [("--ceiling", ceiling), ("--server", server != nil), ("--mock", mock != nil)] where given {
                throw ValidationError("--inbound cannot be combined with \(flag): the customers are the harness's own mock, writing to its own dispatcher")
            }
            guard inbound.isFinite && inbound > 0 && inbound <= LoadTestRunner.inboundMessagesPerSecondMax else {
                throw ValidationError("--inbound must be more than 0 and at most \(Int(LoadTestRunner.inboundMessagesPerSecondMax)) messages a second per number, got \(inbound)")
            }
        }
        if storm != nil {
            for (flag, given) in [("--ceiling", ceiling), ("--server", server != nil), ("--mock", mock != nil)] where given {
                throw ValidationError("--storm cannot be combined with \(flag): the storms come from the harness's own mock")
            }
            _ = try stormSchedule()
        }
        if !ceiling && senders != nil {
            throw ValidationError("--senders only applies with --ceiling (use --tiers and --senders-per-tier otherwise)")
        }
        if server != nil && (connections != nil || pacingMargin != nil || httpVersion != nil || noWarmStart) {
            throw ValidationError("--connections, --pacing-margin, --http-version and --no-warm-start configure a started dispatcher; they do not apply with --server")
        }
        if mock != nil && (latency != nil || connectLatency != nil) {
            throw ValidationError("--latency and --connect-latency configure a started mock; they do not apply with --mock")
        }
        if let connectLatency, !(0...60_000).contains(connectLatency) {
            throw ValidationError("--connect-latency must be between 0 and 60000 ms, got \(connectLatency)")
        }
        if let latency {
            do { _ = try LatencyDistribution(parsing: latency) } catch { throw ValidationError("--latency: \(error)") }
        }
        if let httpVersion, !["1.1", "2"].contains(httpVersion) { throw ValidationError("--http-version must be 1.1 or 2, got '\(httpVersion)'") }
        if let connections, !(1...ServeSettings.connectionsMax).contains(connections) {
            throw ValidationError("--connections must be between 1 and \(ServeSettings.connectionsMax), got \(connections)")
        }
        if let pacingMargin, !(0...0.2).contains(pacingMargin) { throw ValidationError("--pacing-margin must be between 0 and 0.2, got \(pacingMargin)") }
        if server != nil && mock == nil { throw ValidationError("--server needs --mock: the harness judges from the endpoint that server sends to") }
        if mock == nil && (record != nil || mockCAFile != nil) { throw ValidationError("--record and --mock-ca-file only apply with --mock") }
        if server == nil && mock != nil && mockCAFile == nil {
            throw ValidationError("--mock without --server needs --mock-ca-file: the started dispatcher must trust that mock's certificate")
        }
        for (flag, url) in [("--server", server), ("--mock", mock)] {
            if let url, !LoopbackURL.isLoopback(url) {
                throw ValidationError("\(flag) must be an http(s) URL on 127.0.0.1 or localhost, got '\(url)'")
            }
        }
        if server != nil && (adminKey ?? ProcessInfo.processInfo.environment["SLUICE_ADMIN_KEY"]) == nil {
            throw ValidationError("--server needs the dispatcher's admin key: --admin-key or $SLUICE_ADMIN_KEY")
        }
        if let record, !FileManager.default.fileExists(atPath: record) { throw ValidationError("--record: no file at '\(record)'") }
        _ = try plan()
    }

    /// `--storm EVERY:LENGTH` in seconds (fractions allowed), as the mock's schedule.
    func stormSchedule() throws -> FaultProfile.Storm? {
        guard let storm else { return nil }
        let parts = storm.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let every = Double(parts[0]), let length = Double(parts[1]), every.isFinite, length.isFinite,
              length > 0, every > length, every <= 3_600 else {
            throw ValidationError("--storm must be EVERY:LENGTH in seconds with 0 < LENGTH < EVERY <= 3600 (e.g. 30:2), got '\(storm)'")
        }
        return FaultProfile.Storm(everyMilliseconds: Int((every * 1_000).rounded()), durationMilliseconds: Int((length * 1_000).rounded()))
    }

    func plan() throws -> LoadTestPlan {
        do {
            if ceiling { return try LoadTestPlan.ceiling(senders: senders ?? LoadTestPlan.ceilingSendersDefault, seconds: seconds) }
            return try LoadTestPlan(tiers: LoadTestPlan.parseTiers(tiers ?? Self.tiersDefault), sendersPerTier: sendersPerTier ?? 1, seconds: seconds)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let plan = try plan()
        let temporary = workDir == nil
        let work = workDir ?? (NSTemporaryDirectory() + "sluice-loadtest-\(ProcessInfo.processInfo.processIdentifier)")
        var options = LoadTestRunner.Options(plan: plan, workDirectory: work)
        options.serverURL = server
        options.mockURL = mock
        options.recordPath = record
        options.mockCAFile = mockCAFile
        options.connections = connections
        options.pacingMargin = pacingMargin
        options.warmStart = !noWarmStart
        options.httpVersion = httpVersion
        options.latency = latency
        options.connectLatencyMilliseconds = connectLatency
        options.webhooks = webhooks
        options.inbound = inbound
        options.storm = try stormSchedule()
        if server != nil, let key = adminKey ?? ProcessInfo.processInfo.environment["SLUICE_ADMIN_KEY"] { options.adminKey = key }
        options.commandLine = (["sluice"] + CommandLine.arguments.dropFirst()).joined(separator: " ")

        let total = plan.messageCount
        say("Sluice load test\(plan.ceiling ? " (ceiling)" : ""): \(plan.senders.count) sender(s), \(total) messages, \(plan.seconds) s per campaign; work dir \(work)")
        if plan.ceiling {
            let http1 = httpVersion == "1.1"
            let over = connections ?? (http1 ? LoadTestRunner.referenceConnectionsHTTP1 : LoadTestRunner.referenceConnectionsHTTP2)
            say("  reference client first: h2load, \(total) requests over \(over) \(http1 ? "HTTP/1.1" : "HTTP/2") connections")
        }
        if let latency { say("  the mock answers after \(latency)") }
        if let connectLatency { say("  each new connection to the mock takes \(connectLatency) ms to set up") }
        let display = ProgressDisplay()
        let report: LoadTestReport
        do {
            report = try await LoadTestRunner(options: options).run { snapshot in
                display.draw(Self.progressLines(snapshot), force: snapshot.finished)
            }
        } catch {
            say("loadtest could not run: \(error)")
            say("work dir kept for its logs: \(work)")
            throw ExitCode(2)
        }

        try FileManager.default.createDirectory(atPath: reportDir, withIntermediateDirectories: true)
        let reportURL = URL(fileURLWithPath: reportDir)
        try ReportRenderer.json(report).write(to: reportURL.appendingPathComponent("report.json"))
        try Data(ReportRenderer.html(report).utf8).write(to: reportURL.appendingPathComponent("report.html"))
        // A failed run keeps its logs and journal for a look.
        let removeWork = temporary && !keep && report.passed
        if removeWork { try? FileManager.default.removeItem(atPath: work) }

        say("")
        for line in ReportRenderer.summary(report) { say(line) }
        say("  reports: \(reportURL.appendingPathComponent("report.json").path), \(reportURL.appendingPathComponent("report.html").path)")
        if !removeWork && temporary { say("  work dir kept: \(work)") }
        if !report.passed { throw ExitCode(1) }
    }

    static func progressLines(_ snapshot: LoadTestRunner.Snapshot) -> [String] {
        var lines = ["  \(Int(snapshot.elapsedSeconds)) s of at most \(Int(snapshot.deadlineSeconds)) s"]
        for s in snapshot.senders {
            let fraction = Double(s.arrived) / Double(max(s.accepted, 1))
            lines.append(
                "  \(pad(s.phoneNumberID, 11)) \(ProgressDisplay.bar(fraction)) \(pad(String(s.arrived), 6, right: true))/\(s.accepted)"
                    + (s.state == "done" ? "   done              " : "  \(pad(String(format: "%.0f", s.rate), 5, right: true)) msg/s (5 s)")
                    + " (tier \(s.tier))")
        }
        return lines
    }
}
