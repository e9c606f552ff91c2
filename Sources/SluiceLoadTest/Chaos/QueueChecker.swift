import Foundation

/// How a campaign submission ended, as the client saw it (Jepsen's `:ok` / `:fail` / `:info`).
public enum SubmissionOutcome: String, Sendable, Codable {
    /// A 2xx with the campaign id: every message of it must reach the endpoint.
    case acknowledged
    /// An HTTP answer other than 2xx, or no connection at all: nothing of it may be sent.
    case failed
    /// The connection broke after the request was (perhaps partly) sent and no answer came:
    /// the campaign may or may not have been journaled. All of it or none of it may arrive.
    case indeterminate
}

/// One campaign submission of a chaos run: its recipients are the numbers
/// `firstRecipient ..< firstRecipient + count`, distinct across the whole run, so an
/// arrival's `to` names the submission it belongs to.
public struct ChaosSubmission: Sendable, Codable, Equatable {
    public var index: Int
    public var phoneNumberID: String
    /// `json` or `ndjson`.
    public var format: String
    /// Sent with an `Idempotency-Key` and retried with it after an indeterminate answer.
    public var keyed: Bool
    /// The `delivery` field of the campaign (nil: not sent, the dispatcher's default).
    public var delivery: String?
    public var firstRecipient: Int64
    public var count: Int
    public var outcome: SubmissionOutcome
    /// Requests made (1 unless a keyed submission was retried).
    public var attempts: Int
    /// From the 202.
    public var campaignID: String?
    public var accepted: Int?
    /// The last answer or transport error, for failed and indeterminate submissions.
    public var detail: String?

    public init(index: Int, phoneNumberID: String, format: String, keyed: Bool, delivery: String?, firstRecipient: Int64, count: Int) {
        self.index = index
        self.phoneNumberID = phoneNumberID
        self.format = format
        self.keyed = keyed
        self.delivery = delivery
        self.firstRecipient = firstRecipient
        self.count = count
        self.outcome = .failed
        self.attempts = 0
    }

    enum CodingKeys: String, CodingKey {
        case index, format, keyed, delivery, count, outcome, attempts, accepted, detail
        case phoneNumberID = "phone_number_id"
        case firstRecipient = "first_recipient"
        case campaignID = "campaign_id"
    }
}

/// A campaign's final counts from `GET /v1/campaigns/{id}` (the ones the checker uses).
public struct CampaignFinalCounts: Sendable, Codable, Equatable {
    public var state: String
    public var failed: Int
    public var inDoubt: Int
    public var unknown: Int

    public init(state: String, failed: Int, inDoubt: Int, unknown: Int) {
        self.state = state
        self.failed = failed
        self.inDoubt = inDoubt
        self.unknown = unknown
    }

    enum CodingKeys: String, CodingKey {
        case state, failed, unknown
        case inDoubt = "in_doubt"
    }
}

/// The queue checker of a chaos run, after Jepsen's: every acknowledged message must have
/// reached the endpoint (lost), nothing may reach it that was not submitted or whose
/// submission failed (unexpected), an indeterminate submission arrives whole or not at all
/// (partial), and messages that arrived more than once are counted (duplicates).
///
/// ```swift
/// let result = QueueChecker.check(submissions: subs, arrivals: record, finalCounts: [:], duplicateBound: 12)
/// result.passed   // lost == 0 && unexpected == 0 && partial == 0 && duplicates <= 12
/// ```
public enum QueueChecker {
    /// Examples listed per kind of violation.
    static let examplesMax = 10

    public struct Result: Sendable, Codable, Equatable {
        /// Messages of acknowledged submissions.
        public var acknowledged = 0
        /// Acknowledged messages that never arrived.
        public var lost = 0
        /// Of `lost`, those an at-most-once campaign may lose: no more per campaign than its
        /// messages that ended `unknown` or `in_doubt`.
        public var lostAllowed = 0
        /// Arrivals of messages that were never submitted, whose submission failed, or
        /// that came from another sender than their campaign's.
        public var unexpected = 0
        /// Arrivals beyond the first of a message.
        public var duplicates = 0
        /// Messages that arrived more than once.
        public var duplicatedMessages = 0
        /// Duplicates of campaigns sent with `delivery: at_most_once` (must be 0).
        public var atMostOnceDuplicates = 0
        /// Recipients that arrived under more than one message id: a campaign journaled twice.
        public var doubleIntake = 0
        /// Indeterminate submissions whose messages all arrived / none arrived / only some.
        public var indeterminateApplied = 0
        public var indeterminateNotApplied = 0
        public var indeterminatePartial = 0
        /// Messages of indeterminate submissions that arrived (counted apart from `acknowledged`).
        public var indeterminateMessagesArrived = 0
        /// Acknowledged submissions whose 202 accepted fewer recipients than were sent.
        public var acceptedMismatch = 0
        public var submissions = 0
        public var failedSubmissions = 0
        public var indeterminateSubmissions = 0
        public var arrivals = 0
        /// Duplicates allowed (see `ChaosReport.duplicateBoundReason`).
        public var duplicateBound = 0
        public var examples: [String] = []

        /// Lost beyond what an at-most-once campaign may lose.
        public var lostViolations: Int { lost - lostAllowed }

        public var passed: Bool {
            lostViolations == 0 && unexpected == 0 && indeterminatePartial == 0 && doubleIntake == 0 && acceptedMismatch == 0
                && atMostOnceDuplicates == 0 && duplicates <= duplicateBound
        }

        enum CodingKeys: String, CodingKey {
            case acknowledged, lost, unexpected, duplicates, arrivals, submissions, examples
            case lostAllowed = "lost_allowed"
            case duplicatedMessages = "duplicated_messages"
            case atMostOnceDuplicates = "at_most_once_duplicates"
            case doubleIntake = "double_intake"
            case indeterminateApplied = "indeterminate_applied"
            case indeterminateNotApplied = "indeterminate_not_applied"
            case indeterminatePartial = "indeterminate_partial"
            case indeterminateMessagesArrived = "indeterminate_messages_arrived"
            case acceptedMismatch = "accepted_mismatch"
            case failedSubmissions = "failed_submissions"
            case indeterminateSubmissions = "indeterminate_submissions"
            case duplicateBound = "duplicate_bound"
        }
    }

    /// Judges `arrivals` (the mock's record) against `submissions`. `finalCounts` (by
    /// campaign id) is needed only for at-most-once campaigns.
    public static func check(
        submissions: [ChaosSubmission], arrivals: [EndpointArrival], finalCounts: [String: CampaignFinalCounts], duplicateBound: Int
    ) -> Result {
        var result = Result()
        result.submissions = submissions.count
        result.arrivals = arrivals.count
        result.duplicateBound = duplicateBound
        func example(_ text: String) {
            if result.examples.count < examplesMax { result.examples.append(text) }
        }

        // Recipient number → (submission, position); recipients never overlap.
        var owner: [Int64: Int] = [:]
        owner.reserveCapacity(submissions.reduce(0) { $0 + $1.count })
        for (i, s) in submissions.enumerated() {
            for n in 0..<Int64(s.count) { owner[s.firstRecipient + n] = i }
        }
        // Per recipient: arrivals and the message ids seen.
        var arrived: [Int64: Int] = [:]
        var callbacks: [Int64: Set<String>] = [:]
        for a in arrivals {
            guard let number = Int64(a.to), let i = owner[number] else {
                result.unexpected += 1
                example("unexpected: arrival to \(a.to) from \(a.phoneNumberID) was never submitted")
                continue
            }
            let s = submissions[i]
            guard s.outcome != .failed, a.phoneNumberID == s.phoneNumberID else {
                result.unexpected += 1
                example("unexpected: arrival to \(a.to) (submission \(s.index), \(s.outcome.rawValue), sender \(s.phoneNumberID)) from \(a.phoneNumberID)")
                continue
            }
            arrived[number, default: 0] += 1
            callbacks[number, default: []].insert(a.callback ?? "")
        }

        for (number, ids) in callbacks where ids.count > 1 {
            result.doubleIntake += 1
            example("double intake: recipient \(number) arrived as messages \(ids.sorted().joined(separator: ", "))")
        }

        for s in submissions {
            let range = s.firstRecipient..<(s.firstRecipient + Int64(s.count))
            var distinct = 0
            var duplicates = 0
            var lostHere: [Int64] = []
            for number in range {
                let n = arrived[number] ?? 0
                if n > 0 { distinct += 1 } else { lostHere.append(number) }
                if n > 1 {
                    duplicates += n - 1
                    result.duplicatedMessages += 1
                }
            }
            result.duplicates += duplicates
            if s.delivery == "at_most_once" && duplicates > 0 {
                result.atMostOnceDuplicates += duplicates
                example("at_most_once campaign \(s.campaignID ?? "?") (submission \(s.index)) had \(duplicates) duplicate arrival(s)")
            }
            switch s.outcome {
            case .failed:
                result.failedSubmissions += 1
            case .acknowledged:
                result.acknowledged += s.count
                if let accepted = s.accepted, accepted != s.count {
                    result.acceptedMismatch += 1
                    example("submission \(s.index): 202 accepted \(accepted) of \(s.count) recipients")
                }
                guard !lostHere.isEmpty else { continue }
                result.lost += lostHere.count
                if s.delivery == "at_most_once", let id = s.campaignID, let counts = finalCounts[id] {
                    result.lostAllowed += min(lostHere.count, counts.unknown + counts.inDoubt)
                }
                example("lost: \(lostHere.count) of \(s.count) messages of campaign \(s.campaignID ?? "?") (submission \(s.index), \(s.format)), e.g. recipient \(lostHere[0])")
            case .indeterminate:
                result.indeterminateSubmissions += 1
                result.indeterminateMessagesArrived += distinct
                if distinct == 0 {
                    result.indeterminateNotApplied += 1
                } else if distinct == s.count {
                    result.indeterminateApplied += 1
                } else {
                    result.indeterminatePartial += 1
                    example("partial: indeterminate submission \(s.index) (\(s.format)) arrived \(distinct) of \(s.count)")
                }
            }
        }
        return result
    }
}
