import Foundation

/// Where in the dispatcher's life a kill was aimed.
public enum KillPhase: String, Sendable, Codable, CaseIterable {
    /// While a campaign request (JSON, or a streamed NDJSON upload) was being answered.
    case intake
    /// At a uniform random moment while messages were arriving at the endpoint.
    case sending
    /// While the journal writer was inside an LMDB commit (pwrite/fdatasync seen in /proc).
    case commit
    /// Right after a restart, at a random moment up to the last startup time: during
    /// recovery (in_flight → in_doubt, cancelling half-received uploads) or just after.
    case recovery
}

/// One SIGKILL of a chaos run.
public struct KillRecord: Sendable, Codable, Equatable {
    public var number: Int
    public var phase: KillPhase
    /// Whether the aimed moment was hit: a request was in flight (intake), the writer was
    /// seen in a commit syscall (commit), the process had not yet announced itself (recovery).
    public var hit: Bool
    /// Seconds since the run started.
    public var atSeconds: Double
    /// How long that dispatcher process had been running, in milliseconds.
    public var uptimeMilliseconds: Int
    /// Messages the next start found `in_flight` and made `in_doubt` (nil: that start was
    /// itself killed before recovery finished; the one after reports them).
    public var recoveredInDoubt: Int?

    enum CodingKeys: String, CodingKey {
        case number, phase, hit
        case atSeconds = "at_s"
        case uptimeMilliseconds = "uptime_ms"
        case recoveredInDoubt = "recovered_in_doubt"
    }
}

/// The outcome of a chaos run.
public struct ChaosReport: Sendable, Encodable {
    public var command: String
    public var seed: UInt64
    public var tiers: [Int]
    public var webhooks: Bool
    public var inDoubtSettleSeconds: Double
    public var delivery: String?
    public var killsRequested: Int
    public var kills: [KillRecord]
    /// Dispatcher processes started (the first, and one per kill).
    public var starts: Int
    /// Dispatcher processes that exited without being killed (must be 0).
    public var unexpectedExits: [String]
    /// Every message recovery made `in_doubt`, over all restarts.
    public var recoveredInDoubtTotal: Int
    public var recoveredInDoubtMaxPerKill: Int
    public var duplicateBoundReason: String
    public var check: QueueChecker.Result
    /// With webhooks: how late the statuses were, and whether each duplicate's status came
    /// before or after its resend.
    public var statusLag: StatusLagReport?
    /// The submissions that got no 2xx (failed or indeterminate), the first ``unansweredListedMax``.
    public var unanswered: [ChaosSubmission]
    /// All acknowledged campaigns reached `done` before the drain deadline.
    public var drained: Bool
    public var wallSeconds: Double
    public var drainSeconds: Double
    public var failures: [String]
    public var passed: Bool { failures.isEmpty }
    public static let unansweredListedMax = 100

    enum CodingKeys: String, CodingKey {
        case command, seed, tiers, webhooks, delivery, kills, starts, check, unanswered, drained, failures, passed
        case inDoubtSettleSeconds = "in_doubt_settle_s"
        case killsRequested = "kills_requested"
        case unexpectedExits = "unexpected_exits"
        case recoveredInDoubtTotal = "recovered_in_doubt_total"
        case recoveredInDoubtMaxPerKill = "recovered_in_doubt_max_per_kill"
        case duplicateBoundReason = "duplicate_bound_reason"
        case wallSeconds = "wall_s"
        case drainSeconds = "drain_s"
        case statusLag = "status_lag"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(command, forKey: .command)
        try c.encode(seed, forKey: .seed)
        try c.encode(tiers, forKey: .tiers)
        try c.encode(webhooks, forKey: .webhooks)
        try c.encode(inDoubtSettleSeconds, forKey: .inDoubtSettleSeconds)
        try c.encodeIfPresent(delivery, forKey: .delivery)
        try c.encode(killsRequested, forKey: .killsRequested)
        try c.encode(kills, forKey: .kills)
        try c.encode(starts, forKey: .starts)
        try c.encode(unexpectedExits, forKey: .unexpectedExits)
        try c.encode(recoveredInDoubtTotal, forKey: .recoveredInDoubtTotal)
        try c.encode(recoveredInDoubtMaxPerKill, forKey: .recoveredInDoubtMaxPerKill)
        try c.encode(duplicateBoundReason, forKey: .duplicateBoundReason)
        try c.encode(check, forKey: .check)
        try c.encodeIfPresent(statusLag, forKey: .statusLag)
        try c.encode(unanswered, forKey: .unanswered)
        try c.encode(drained, forKey: .drained)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(drainSeconds, forKey: .drainSeconds)
        try c.encode(failures, forKey: .failures)
        try c.encode(passed, forKey: .passed)
    }

    /// The report as pretty-printed JSON.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// What the command prints.
    public func summary() -> [String] {
        let c = check
        var byPhase: [String] = []
        for phase in KillPhase.allCases {
            let aimed = kills.filter { $0.phase == phase }
            guard !aimed.isEmpty else { continue }
            byPhase.append("\(phase.rawValue) \(aimed.count) (\(aimed.filter(\.hit).count) hit)")
        }
        var lines = [
            "Sluice chaos run \(passed ? "PASSED" : "FAILED") — seed \(seed), tiers \(tiers.map(String.init).joined(separator: ",")), webhooks \(webhooks ? "on" : "off"), settle \(format1(inDoubtSettleSeconds)) s\(delivery.map { ", delivery \($0)" } ?? "")",
            "  kills survived   \(kills.count) of \(killsRequested): \(byPhase.joined(separator: ", ")); \(starts) starts",
            "  submissions      \(c.submissions): \(c.submissions - c.failedSubmissions - c.indeterminateSubmissions) acknowledged, \(c.failedSubmissions) failed, \(c.indeterminateSubmissions) indeterminate (\(c.indeterminateApplied) applied, \(c.indeterminateNotApplied) not, \(c.indeterminatePartial) partial)",
            "  accepted         \(c.acknowledged) messages (+ \(c.indeterminateMessagesArrived) of indeterminate submissions arrived)",
            "  arrivals         \(c.arrivals)",
            "  lost             \(c.lost)\(c.lostAllowed > 0 ? " (\(c.lostAllowed) allowed: at_most_once, ended unknown/in_doubt)" : "")",
            "  unexpected       \(c.unexpected)",
            "  duplicates       \(c.duplicates) (\(c.duplicatedMessages) messages; bound \(c.duplicateBound): \(duplicateBoundReason))",
            statusLag.map {
                "  status webhooks  \($0.acknowledged) acknowledged, arrival → ack p50 \(format1($0.lagP50Milliseconds)) ms, p99 \(format1($0.lagP99Milliseconds)) ms, max \(format1($0.lagMaxMilliseconds)) ms; duplicates settled before / after their resend: \($0.duplicatesSettledBeforeResend) / \($0.duplicatesSettledAfterResend)"
            } ?? "  status webhooks  off",
            "  recovered        \(recoveredInDoubtTotal) in_doubt over all restarts (at most \(recoveredInDoubtMaxPerKill) after one kill)",
            "  time             \(format1(wallSeconds)) s (drain \(format1(drainSeconds)) s)",
        ]
        for failure in failures { lines.append("  FAIL: \(failure)") }
        for example in c.examples.prefix(5) { lines.append("    e.g. \(example)") }
        return lines
    }
}
