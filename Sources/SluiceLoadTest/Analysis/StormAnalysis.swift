import Foundation
import SluiceCore

/// The mock's 130429 storm schedule placed on the harness's clock: window k spans
/// `[origin + k·every, origin + k·every + duration)`.
public struct StormSchedule: Sendable, Equatable, Codable {
    public var everyMilliseconds: Int
    public var durationMilliseconds: Int
    /// When the schedule started, in nanoseconds since the Unix epoch.
    public var originNanoseconds: Int64

    public init(everyMilliseconds: Int, durationMilliseconds: Int, originNanoseconds: Int64) {
        self.everyMilliseconds = everyMilliseconds
        self.durationMilliseconds = durationMilliseconds
        self.originNanoseconds = originNanoseconds
    }

    /// Windows that start in `[from, to)`, as start instants.
    public func windowStarts(from: Int64, to: Int64) -> [Int64] {
        let every = Int64(everyMilliseconds) * 1_000_000
        guard every > 0, to > from else { return [] }
        var k = max(0, (from - originNanoseconds + every - 1) / every)
        var starts: [Int64] = []
        while originNanoseconds + k * every < to {
            starts.append(originNanoseconds + k * every)
            k += 1
        }
        return starts
    }

    enum CodingKeys: String, CodingKey {
        case everyMilliseconds = "every_ms"
        case durationMilliseconds = "duration_ms"
        case originNanoseconds = "origin_ns"
    }
}

/// What a storm run adds to the analysis.
public struct StormInput: Sendable, Equatable {
    public var schedule: StormSchedule
    /// Each sender's samples by `phone_number_id`, in time order.
    public var samples: [String: [RateSample]]
    public var pollSeconds: Double

    public init(schedule: StormSchedule, samples: [String: [RateSample]], pollSeconds: Double) {
        self.schedule = schedule
        self.samples = samples
        self.pollSeconds = pollSeconds
    }
}

/// What the harness read of one sender while the run went (every poll): the rate the
/// dispatcher paced it at, and the storm answers the mock had given it so far.
public struct RateSample: Sendable, Equatable, Codable {
    /// Nanoseconds since the Unix epoch.
    public var atNanoseconds: Int64
    /// The dispatcher's `effective_mps` for the sender.
    public var effectiveMessagesPerSecond: Double
    /// Storm 130429 answers to this sender since the mock started (cumulative).
    public var stormAnswers: Int

    public init(atNanoseconds: Int64, effectiveMessagesPerSecond: Double, stormAnswers: Int) {
        self.atNanoseconds = atNanoseconds
        self.effectiveMessagesPerSecond = effectiveMessagesPerSecond
        self.stormAnswers = stormAnswers
    }

    enum CodingKeys: String, CodingKey {
        case atNanoseconds = "at_ns"
        case effectiveMessagesPerSecond = "effective_mps"
        case stormAnswers = "storm_answers"
    }
}

/// One storm window as one sender lived it.
public struct StormEpisode: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        /// The sender sent nothing into the window (idle, not started or done).
        case notMet = "not_met"
        /// Backed off, and was paced at its tier again before the next storm.
        case recovered
        /// Backed off; the samples (or the next storm) ended before it reached the tier
        /// within the recovery the rate controller promises.
        case notObserved = "not_observed"
        /// Met the storm and did not back off.
        case noBackoff = "no_backoff"
        /// Backed off and was still under its tier past the promised recovery.
        case slowRecovery = "slow_recovery"
    }

    /// Seconds from the campaign's origin (acceptance or first arrival) to the window's start.
    public var startSeconds: Double
    public var durationSeconds: Double
    /// Storm 130429 answers the sender got for this window.
    public var answers: Int
    /// The paced rate just before the window.
    public var rateBefore: Double
    /// The lowest paced rate between the window's start and the next one (or the last sample).
    public var lowestRate: Double
    /// Seconds from the window's end until the sender was paced at its tier again.
    public var recoveredAfterSeconds: Double?
    /// The longest recovery the rate controller allows from `lowestRate` (one step of
    /// `recoveryStepFraction` of the tier a second), plus the poll interval and a second.
    public var recoveryBoundSeconds: Double
    public var outcome: Outcome

    enum CodingKeys: String, CodingKey {
        case startSeconds = "start_s"
        case durationSeconds = "duration_s"
        case answers
        case rateBefore = "rate_before_mps"
        case lowestRate = "lowest_mps"
        case recoveredAfterSeconds = "recovered_after_s"
        case recoveryBoundSeconds = "recovery_bound_s"
        case outcome
    }
}

/// A sender's storms: each window, the paced-rate samples for the chart, and what failed.
public struct SenderStorm: Sendable, Equatable, Codable {
    public var episodes: [StormEpisode]
    /// `[seconds from the campaign's origin, paced msg/s]` per poll.
    public var rateSeries: [[Double]]
    public var violations: [String]

    /// Windows the sender met (it sent into them).
    public var met: Int { episodes.filter { $0.outcome != .notMet }.count }

    enum CodingKeys: String, CodingKey {
        case episodes
        case rateSeries = "rate_series"
        case violations
    }
}

/// Judges a sender under 130429 storms from the harness's samples of its paced rate: it
/// must back off when it meets a storm (AIMD halving) and be paced at its tier again
/// within the recovery `RateController` promises. Pure: no clock, no I/O.
public enum StormAnalysis {
    /// Rates at or above this fraction of the tier count as back at the tier.
    static let atTierFraction = 0.999
    /// Allowance on top of the controller's recovery: one poll plus this.
    static let recoverySlackSeconds = 1.0

    /// The longest the controller takes from `lowest` back to `tier`, in seconds.
    public static func recoveryBoundSeconds(tier: Double, lowest: Double, pollSeconds: Double) -> Double {
        let step = RateController.recoveryStepFraction * tier
        let steps = max(0, ((tier - lowest) / step).rounded(.up))
        return steps * Double(RateController.recoveryStepNanoseconds) / 1e9 + pollSeconds + recoverySlackSeconds
    }

    /// - Parameters:
    ///   - samples: this sender's samples, in time order.
    ///   - originNanoseconds: the campaign's origin, the zero of the report's seconds.
    ///   - pollSeconds: the interval between samples.
    public static func analyze(
        tier: Int, schedule: StormSchedule, samples: [RateSample], originNanoseconds: Int64, pollSeconds: Double
    ) -> SenderStorm {
        let rateSeries = samples.map { [Double($0.atNanoseconds - originNanoseconds) / 1e9, $0.effectiveMessagesPerSecond] }
        guard let first = samples.first, let last = samples.last else {
            return SenderStorm(episodes: [], rateSeries: rateSeries, violations: [])
        }
        let tierRate = Double(tier)
        let duration = Int64(schedule.durationMilliseconds) * 1_000_000
        let every = Int64(schedule.everyMilliseconds) * 1_000_000
        var episodes: [StormEpisode] = []
        var violations: [String] = []
        // A window still raging when the campaign began counts too, even if it ended
        // before the first sample.
        let from = min(first.atNanoseconds, originNanoseconds) - duration + 1
        for start in schedule.windowStarts(from: from, to: last.atNanoseconds) {
            let end = start + duration
            let next = start + every
            let prior = samples.last { $0.atNanoseconds <= start }
            let before = prior ?? first
            // Answers to requests on the wire when the window closed come in just after it.
            let settled = samples.first { $0.atNanoseconds >= end + Int64(pollSeconds * 1e9) } ?? last
            // The counts are the mock's since it started, and the harness's mock serves
            // only this run: with no sample before the window, they start from 0.
            let answers = settled.stormAnswers - (prior?.stormAnswers ?? 0)
            let span = samples.filter { $0.atNanoseconds > start && $0.atNanoseconds < next }
            let lowest = span.map(\.effectiveMessagesPerSecond).min() ?? before.effectiveMessagesPerSecond
            let bound = recoveryBoundSeconds(tier: tierRate, lowest: lowest, pollSeconds: pollSeconds)
            let back = span.first { $0.atNanoseconds >= end && $0.effectiveMessagesPerSecond >= atTierFraction * tierRate }
            let recoveredAfter = back.map { Double($0.atNanoseconds - end) / 1e9 }
            let observedUntil = span.last?.atNanoseconds ?? end
            let outcome: StormEpisode.Outcome
            if answers == 0 {
                outcome = .notMet
            } else if lowest >= atTierFraction * tierRate {
                outcome = .noBackoff
            } else if let recoveredAfter, recoveredAfter <= bound {
                outcome = .recovered
            } else if recoveredAfter != nil || Double(observedUntil - end) / 1e9 > bound {
                outcome = .slowRecovery
            } else {
                outcome = .notObserved
            }
            let at = Double(start - originNanoseconds) / 1e9
            switch outcome {
            case .noBackoff:
                violations.append("met the storm at \(format1(at)) s (\(answers) × 130429) and stayed at \(format1(lowest)) msg/s: no backoff")
            case .slowRecovery:
                violations.append(
                    "after the storm at \(format1(at)) s, not back at the tier of \(tier) within \(format1(bound)) s (lowest \(format1(lowest)) msg/s"
                        + (recoveredAfter.map { ", back after \(format1($0)) s)" } ?? ")"))
            default:
                break
            }
            episodes.append(StormEpisode(
                startSeconds: at, durationSeconds: Double(duration) / 1e9, answers: answers,
                rateBefore: before.effectiveMessagesPerSecond, lowestRate: lowest, recoveredAfterSeconds: recoveredAfter,
                recoveryBoundSeconds: bound, outcome: outcome))
        }
        return SenderStorm(episodes: episodes, rateSeries: rateSeries, violations: violations)
    }
}
