import Foundation
import Logging
import SluiceCore
import SluiceMock

/// Runs a chaos run end to end: starts the mock (webhooks on or off) and `sluice serve`
/// as children on loopback, registers the senders, lets ``ChaosSubmitter`` submit
/// campaigns, kills the dispatcher with SIGKILL at seeded random moments and restarts it
/// on the same data directory, waits for the campaigns to drain, and judges the mock's
/// arrival record with ``QueueChecker``.
public struct ChaosRunner: Sendable {
    /// Share of kills aimed at each phase of a running dispatcher; after any kill, a
    /// restart is itself killed during recovery with ``recoveryKillShare``.
    static let phaseWeights: [(KillPhase, Double)] = [(.intake, 0.3), (.sending, 0.4), (.commit, 0.3)]
    static let recoveryKillShare = 0.25
    /// Longest wait for messages to flow (or a request to start) before a kill, in seconds.
    static let phaseWaitSecondsMax = 10.0
    /// A kill while sending comes up to this long after the flow was seen, in seconds.
    static let sendingDelaySecondsMax = 1.5
    /// A kill in the intake phase comes up to this long after the request started, in seconds.
    static let intakeDelaySecondsMax = 0.4
    /// How long the commit probe watches for a commit, in seconds.
    static let commitWatchSecondsMax = 2.0
    static let pollMilliseconds = 100
    static let webhookAppSecret = "chaos-app-secret"
    /// What `sluice serve` logs when recovery made messages `in_doubt`.
    static let recoveryLogPrefix = "recovery: "

    public let options: ChaosOptions
    let logger: Logger

    public init(options: ChaosOptions, logger: Logger = Logger(label: "sluice.chaos")) {
        self.options = options
        self.logger = logger
    }

    /// Carries out the run; throws ``LoadTestError`` when it cannot be carried out.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> ChaosReport {
        try options.validate()
        let work = options.workDirectory
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let started = Date()
        var random = SeededGenerator(seed: options.seed)
        let servePort = try FreePort.loopback()
        let apiURL = "http://127.0.0.1:\(servePort)"

        // 1. The mock: no pair limit, so a resend is never refused (and hidden) as 131056.
        let recordPath = work + "/arrivals.ndjson"
        try? FileManager.default.removeItem(atPath: recordPath)
        var mockArguments = ["mock", "--listen", "127.0.0.1:0", "--cert-dir", work + "/mock", "--record", recordPath, "--no-pair-limit"]
        if options.webhooks {
            mockArguments += ["--webhook-url", apiURL + "/webhooks/whatsapp", "--app-secret", Self.webhookAppSecret]
        }
        let mock = try ServiceProcess(name: "sluice mock", executable: options.executable, arguments: mockArguments, environment: [:], logPath: work + "/mock.log")
        var serve: ServiceProcess?
        do {
            let mockURL = try await mock.waitForAddress(prefix: "mock listening on ")
            let mockHTTP = LoopbackHTTP(caFile: work + "/mock/mock-cert.pem")
            let report = try await run(
                mock: mock, mockURL: mockURL, mockHTTP: mockHTTP, apiURL: apiURL, servePort: servePort, recordPath: recordPath,
                started: started, random: &random, serve: &serve, progress: progress)
            return report
        } catch {
            serve?.killNow()
            await mock.stop()
            throw error
        }
    }

    private func run(
        mock: ServiceProcess, mockURL: String, mockHTTP: LoopbackHTTP, apiURL: String, servePort: Int, recordPath: String,
        started: Date, random: inout SeededGenerator, serve: inout ServiceProcess?, progress: @Sendable (String) -> Void
    ) async throws -> ChaosReport {
        let work = options.workDirectory
        let deadline = started.addingTimeInterval(options.secondsMax)
        var starts = 0
        var unexpectedExits: [String] = []
        var lastStartupSeconds = 1.0

        func spawn() throws -> ServiceProcess {
            var arguments = [
                "serve", "--data-dir", work + "/data", "--listen", "127.0.0.1:\(servePort)", "--graph-url", mockURL,
                "--ca-file", work + "/mock/mock-cert.pem", "--in-doubt-settle", String(options.inDoubtSettleSeconds),
                "--pair-spacing-ms", "0",
            ]
            if let connections = options.connections { arguments += ["--connections", String(connections)] }
            let child = try ServiceProcess(
                name: "sluice serve #\(starts)", executable: options.executable, arguments: arguments,
                environment: ["SLUICE_ADMIN_KEY": options.adminKey], logPath: work + "/serve-\(starts).log")
            starts += 1
            return child
        }
        func startServing() async throws -> ServiceProcess {
            let t0 = Date()
            let child = try spawn()
            serve = child
            _ = try await child.waitForAddress(prefix: "sluice listening on ")
            lastStartupSeconds = Date().timeIntervalSince(t0)
            return child
        }

        var current = try await startServing()
        var currentStartedAt = Date()
        let api = ChaosHTTP(bearer: options.adminKey)
        for (id, tier) in zip(options.phoneNumberIDs, options.tiers) {
            let token = "chaos-token-\(id)"
            let file = work + "/sender-\(id).json"
            let secret = options.webhooks ? #","app_secret":"\#(Self.webhookAppSecret)""# : ""
            try Data(#"{"tier_mps":\#(tier),"access_token":"\#(token)"\#(secret)}"#.utf8).write(to: URL(fileURLWithPath: file))
            guard case .answered(200, _) = try api.request("PUT", "\(apiURL)/v1/senders/\(id)", bodyFile: file) else {
                throw LoadTestError.http("PUT /v1/senders/\(id) did not answer 200")
            }
            // At the mock: the token only, no tier; the run judges loss, not pacing.
            try Data(#"{"access_token":"\#(token)"}"#.utf8).write(to: URL(fileURLWithPath: file))
            let m = try mockHTTP.request("PUT", "\(mockURL)/__mock/senders/\(id)", bodyFile: file)
            guard m.status == 200 else { throw LoadTestError.http("PUT /__mock/senders/\(id): \(m.status) \(m.text)") }
            try? FileManager.default.removeItem(atPath: file)
        }

        let submitter = ChaosSubmitter(options: options, apiURL: apiURL, mockURL: mockURL, mockHTTP: mockHTTP)
        submitter.setUp(true)
        submitter.start()

        // 2. The kills.
        var kills: [KillRecord] = []
        let canProbe = JournalWriteProbe.isAvailable(pid: current.pid)
        if !canProbe { logger.warning("cannot read /proc/\(current.pid)/task/*/syscall: commit-phase kills fall back to random moments") }
        while kills.count < options.kills && Date() < deadline.addingTimeInterval(-options.drainSecondsMax) {
            let phase = Self.pick(&random)
            var hit = false
            if !current.isRunning {
                unexpectedExits.append("\(current.name) exited by itself; log \(current.logPath): \(current.logTail(bytes: 400))")
            } else {
                switch phase {
                case .intake:
                    submitter.requestUrgentSubmission()
                    let waitUntil = Date().addingTimeInterval(Self.phaseWaitSecondsMax)
                    while !submitter.requestInFlight && Date() < waitUntil { try await Task.sleep(for: .milliseconds(5)) }
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...Int(Self.intakeDelaySecondsMax * 1000), using: &random)))
                    hit = submitter.requestInFlight
                case .sending:
                    try await waitForFlow(mockHTTP, mockURL)
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...Int(Self.sendingDelaySecondsMax * 1000), using: &random)))
                    hit = true
                case .commit:
                    try await waitForFlow(mockHTTP, mockURL)
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...300, using: &random)))
                    hit = canProbe && JournalWriteProbe.waitForCommit(pid: current.pid, deadline: Date().addingTimeInterval(Self.commitWatchSecondsMax))
                case .recovery:
                    break
                }
            }
            submitter.setUp(false)
            current.killNow()
            kills.append(KillRecord(
                number: kills.count + 1, phase: phase, hit: hit, atSeconds: Date().timeIntervalSince(started),
                uptimeMilliseconds: Int(Date().timeIntervalSince(currentStartedAt) * 1000), recoveredInDoubt: nil))
            progress("kill \(kills.count)/\(options.kills): \(phase.rawValue)\(hit ? "" : " (missed)") after \(kills.last!.uptimeMilliseconds) ms")

            // A restart killed during its recovery, now and then.
            if kills.count < options.kills && Double.random(in: 0..<1, using: &random) < Self.recoveryKillShare {
                let t0 = Date()
                let child = try spawn()
                serve = child
                let delay = Double.random(in: 0...(lastStartupSeconds * 1.2), using: &random)
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                let announced = child.isRunning && ((try? String(contentsOfFile: child.logPath, encoding: .utf8)) ?? "").contains("journal open")
                child.killNow()
                kills.append(KillRecord(
                    number: kills.count + 1, phase: .recovery, hit: !announced, atSeconds: Date().timeIntervalSince(started),
                    uptimeMilliseconds: Int(Date().timeIntervalSince(t0) * 1000), recoveredInDoubt: nil))
                progress("kill \(kills.count)/\(options.kills): recovery after \(kills.last!.uptimeMilliseconds) ms")
            }
            current = try await startServing()
            currentStartedAt = Date()
            submitter.setUp(true)
        }

        // 3. Drain: the submitter stops, the last dispatcher finishes every campaign.
        submitter.stop()
        let stopDeadline = Date().addingTimeInterval(Double(ChaosHTTP.timeoutSecondsMax) + 10)
        while !submitter.isFinished && Date() < stopDeadline { try await Task.sleep(for: .milliseconds(Self.pollMilliseconds)) }
        let drainStarted = Date()
        var drained = false
        while Date().timeIntervalSince(drainStarted) < options.drainSecondsMax {
            if !current.isRunning { break }
            if try campaignsLeft(api, apiURL) == 0 {
                drained = true
                break
            }
            try await Task.sleep(for: .milliseconds(Self.pollMilliseconds * 5))
        }
        // Late arrivals (a resend just handed over) and the record's 50 ms flush.
        try await Task.sleep(for: .milliseconds(1_000))
        let drainSeconds = Date().timeIntervalSince(drainStarted)
        if !current.isRunning {
            unexpectedExits.append("\(current.name) exited by itself; log \(current.logPath): \(current.logTail(bytes: 400))")
        }

        let submissions = submitter.submissions
        var finalCounts: [String: CampaignFinalCounts] = [:]
        if options.delivery != nil || !drained {
            for s in submissions where s.outcome == .acknowledged {
                guard let id = s.campaignID, let object = try api.request("GET", "\(apiURL)/v1/campaigns/\(id)").json,
                      let counts = object["counts"] as? [String: Any]
                else { continue }
                func n(_ key: String) -> Int { (counts[key] as? NSNumber)?.intValue ?? 0 }
                finalCounts[id] = CampaignFinalCounts(state: object["state"] as? String ?? "?", failed: n("failed"), inDoubt: n("in_doubt"), unknown: n("unknown"))
            }
        }
        let acknowledgedStatuses = options.webhooks ? try acknowledgedDeliveries(mockHTTP, mockURL) : nil
        await current.stop()
        serve = nil
        await mock.stop()

        // 4. Judge.
        let arrivals: [EndpointArrival]
        do {
            arrivals = try EndpointArrival.parseRecord(Data(contentsOf: URL(fileURLWithPath: recordPath)))
        } catch {
            throw LoadTestError.record("cannot read the arrival record \(recordPath): \(error)")
        }
        // Each start after a kill logs what its recovery made in_doubt; a start killed
        // before that line leaves the messages in_flight for the next one to report.
        var recovered: [Int] = []
        for n in 1..<max(starts, 1) {
            recovered.append(Self.recoveredInDoubt(logPath: work + "/serve-\(n).log"))
        }
        for i in kills.indices where i < recovered.count { kills[i].recoveredInDoubt = recovered[i] }
        let recoveredTotal = recovered.reduce(0, +)

        let bound: Int
        let reason: String
        if options.delivery == "at_most_once" {
            bound = 0
            reason = "at_most_once: in-doubt messages are never resent"
        } else if options.webhooks {
            bound = 0
            reason = "webhooks on: a status proves every sent in-doubt message within the \(format1(options.inDoubtSettleSeconds)) s settle window; only never-sent ones are resent"
        } else {
            bound = recoveredTotal
            reason = "webhooks off: each kill may repeat at most the messages that had begun to leave without a committed outcome (on the wire, or answered but not yet journaled), which the next start reports as in_doubt; summed over the kills"
        }
        let check = QueueChecker.check(submissions: submissions, arrivals: arrivals, finalCounts: finalCounts, duplicateBound: bound)

        var failures: [String] = []
        if check.lostViolations > 0 { failures.append("lost \(check.lostViolations) acknowledged message(s)") }
        if check.unexpected > 0 { failures.append("\(check.unexpected) unexpected arrival(s)") }
        if check.indeterminatePartial > 0 { failures.append("\(check.indeterminatePartial) indeterminate submission(s) arrived in part") }
        if check.doubleIntake > 0 { failures.append("\(check.doubleIntake) recipient(s) journaled twice") }
        if check.acceptedMismatch > 0 { failures.append("\(check.acceptedMismatch) submission(s) accepted fewer recipients than sent") }
        if check.atMostOnceDuplicates > 0 { failures.append("\(check.atMostOnceDuplicates) duplicate(s) of at_most_once campaigns") }
        let statusLag = acknowledgedStatuses.map { StatusLagReport(arrivals: arrivals, acknowledged: $0) }
        if check.duplicates > bound {
            var failure = "\(check.duplicates) duplicate(s), more than the bound \(bound)"
            if let lag = statusLag {
                failure += " (\(lag.duplicatesSettledAfterResend) duplicated message(s) had their status acknowledged only after the resend — the webhook came after the settle window — and \(lag.duplicatesSettledBeforeResend) before it)"
            }
            failures.append(failure)
        }
        if !drained { failures.append("the campaigns did not drain within \(Int(options.drainSecondsMax)) s") }
        if kills.count < options.kills { failures.append("only \(kills.count) of \(options.kills) kills before the time bound") }
        if check.acknowledged == 0 { failures.append("no campaign was acknowledged: nothing was tested") }
        failures += unexpectedExits.map { "unexpected exit: \($0)" }

        return ChaosReport(
            command: options.commandLine, seed: options.seed, tiers: options.tiers, webhooks: options.webhooks,
            inDoubtSettleSeconds: options.inDoubtSettleSeconds, delivery: options.delivery, killsRequested: options.kills,
            kills: kills, starts: starts, unexpectedExits: unexpectedExits, recoveredInDoubtTotal: recoveredTotal,
            recoveredInDoubtMaxPerKill: recovered.max() ?? 0, duplicateBoundReason: reason, check: check, statusLag: statusLag,
            unanswered: Array(submissions.filter { $0.outcome != .acknowledged }.prefix(ChaosReport.unansweredListedMax)), drained: drained,
            wallSeconds: Date().timeIntervalSince(started), drainSeconds: drainSeconds, failures: failures)
    }

    static func pick(_ random: inout SeededGenerator) -> KillPhase {
        var x = Double.random(in: 0..<1, using: &random)
        for (phase, weight) in phaseWeights {
            if x < weight { return phase }
            x -= weight
        }
        return .sending
    }

    /// Every `delivered` status the dispatcher acknowledged, from the mock, in pages.
    private func acknowledgedDeliveries(_ http: LoopbackHTTP, _ mockURL: String) throws -> [EndpointArrival] {
        var all: [EndpointArrival] = []
        let decoder = JSONDecoder()
        let page = 10_000
        for _ in 0..<1_000 {
            let r = try http.request("GET", "\(mockURL)/__mock/webhooks/delivered?offset=\(all.count)&limit=\(page)", timeoutSeconds: LoopbackHTTP.timeoutSecondsMax)
            guard r.status == 200 else { throw LoadTestError.record("GET /__mock/webhooks/delivered: \(r.status) \(r.text)") }
            let batch = try decoder.decode([EndpointArrival].self, from: r.body)
            all += batch
            if batch.count < page { break }
        }
        return all
    }

    /// Waits (bounded) until the endpoint's arrival count grows.
    private func waitForFlow(_ http: LoopbackHTTP, _ mockURL: String) async throws {
        let first = try arrivalCount(http, mockURL)
        let until = Date().addingTimeInterval(Self.phaseWaitSecondsMax)
        while Date() < until {
            try await Task.sleep(for: .milliseconds(Self.pollMilliseconds))
            if try arrivalCount(http, mockURL) > first { return }
        }
    }

    private func arrivalCount(_ http: LoopbackHTTP, _ mockURL: String) throws -> Int {
        let r = try http.request("GET", "\(mockURL)/__mock/stats")
        guard r.status == 200, let counts = try r.json()["per_sender"] as? [String: Any] else { return 0 }
        return counts.values.reduce(0) { $0 + (($1 as? NSNumber)?.intValue ?? 0) }
    }

    /// Campaigns still `active` or `receiving`.
    private func campaignsLeft(_ api: ChaosHTTP, _ apiURL: String) throws -> Int {
        var left = 0
        for state in ["active", "receiving"] {
            guard let object = try api.request("GET", "\(apiURL)/v1/campaigns?state=\(state)&limit=500").json,
                  let list = object["campaigns"] as? [Any]
            else { return Int.max }
            left += list.count
        }
        return left
    }

    /// `N` from `recovery: N message(s) had begun to leave …; they are in_doubt …` in a
    /// `serve` log; 0 without it. (Staged messages that never left are logged apart, as
    /// queued again, and are not in doubt.)
    static func recoveredInDoubt(logPath: String) -> Int {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.contains("in_doubt") {
            guard let range = line.range(of: recoveryLogPrefix) else { continue }
            let rest = line[range.upperBound...]
            if let n = Int(rest.prefix { $0.isNumber }) { return n }
        }
        return 0
    }
}
