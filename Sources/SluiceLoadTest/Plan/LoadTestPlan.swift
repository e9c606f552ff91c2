import Foundation

/// What one load-test run sends: one campaign per sender, each sized to last
/// `seconds` at its sender's tier.
///
/// ```swift
/// let plan = try LoadTestPlan(tiers: LoadTestPlan.parseTiers("20,80,250"), sendersPerTier: 1, seconds: 20)
/// plan.senders.map(\.messageCount)   // [400, 1600, 5000]
/// ```
public struct LoadTestPlan: Sendable, Equatable, Codable {
    /// Lowest and highest tier the dispatcher accepts, in messages per second.
    public static let tierRange: ClosedRange<Int> = 1...1000
    /// Bounds on the run length, in seconds.
    public static let secondsRange: ClosedRange<Int> = 1...600
    /// Most senders in one run (the progress display shows one line each).
    public static let sendersMax = 32
    /// First recipient number; sender `i` uses `recipientBase + i * recipientStride + n`.
    static let recipientBase: Int64 = 966_500_000_000
    /// Room for each sender's recipients: more than 1000 msg/s × 600 s.
    static let recipientStride: Int64 = 10_000_000

    /// The senders, in the order their campaigns are submitted.
    public var senders: [SenderPlan]
    /// How long each campaign should take at its tier, in seconds.
    public var seconds: Int
    /// Ceiling mode: every sender at the dispatcher's highest tier, unlimited at the
    /// endpoint, measured against a reference client (see ``ceiling(senders:seconds:)``).
    public var ceiling = false

    /// The tier of every ceiling-mode sender: the highest the dispatcher accepts.
    public static let ceilingTier = tierRange.upperBound
    /// Senders of a ceiling run unless `--senders` says otherwise.
    public static let ceilingSendersDefault = 24
    /// The number the reference client sends for: registered on the mock without a tier,
    /// never one of the plan's senders (those are `1065900000`…), never judged.
    public static let referencePhoneNumberID = "1065999999"

    /// Builds a plan; throws ``LoadTestPlanError`` naming the bad value.
    public init(tiers: [Int], sendersPerTier: Int, seconds: Int, phoneNumberIDPrefix: String = "1065") throws(LoadTestPlanError) {
        guard Self.secondsRange.contains(seconds) else {
            throw .invalid("seconds must be between \(Self.secondsRange.lowerBound) and \(Self.secondsRange.upperBound), got \(seconds)")
        }
        guard sendersPerTier >= 1 else { throw .invalid("senders-per-tier must be at least 1, got \(sendersPerTier)") }
        guard !tiers.isEmpty else { throw .invalid("give at least one tier") }
        guard tiers.count * sendersPerTier <= Self.sendersMax else {
            throw .invalid("at most \(Self.sendersMax) senders per run, got \(tiers.count) tiers × \(sendersPerTier) = \(tiers.count * sendersPerTier)")
        }
        var senders: [SenderPlan] = []
        for tier in tiers {
            guard Self.tierRange.contains(tier) else {
                throw .invalid("tiers must be between \(Self.tierRange.lowerBound) and \(Self.tierRange.upperBound) msg/s, got \(tier)")
            }
            for _ in 0..<sendersPerTier {
                let index = senders.count
                // 10-digit ids that differ per run slot and never collide with each other.
                let id = phoneNumberIDPrefix + String(900_000 + index)
                senders.append(SenderPlan(
                    phoneNumberID: id, tier: tier, messageCount: tier * seconds,
                    firstRecipient: Self.recipientBase + Int64(index) * Self.recipientStride))
            }
        }
        self.senders = senders
        self.seconds = seconds
    }

    /// A ceiling plan: `senders` senders, each at ``ceilingTier`` for `seconds`, so the
    /// offered load is `senders × 1000` msg/s — more than one process on two cores sends.
    ///
    /// ```swift
    /// let plan = try LoadTestPlan.ceiling(senders: 2, seconds: 2)
    /// plan.senders.map(\.messageCount)   // [2000, 2000]
    /// ```
    public static func ceiling(senders: Int = ceilingSendersDefault, seconds: Int) throws(LoadTestPlanError) -> LoadTestPlan {
        guard (1...sendersMax).contains(senders) else {
            throw .invalid("senders must be between 1 and \(sendersMax), got \(senders)")
        }
        var plan = try LoadTestPlan(tiers: [ceilingTier], sendersPerTier: senders, seconds: seconds)
        plan.ceiling = true
        return plan
    }

    /// Parses `"20,80,250"`; throws ``LoadTestPlanError`` for anything but positive integers.
    public static func parseTiers(_ text: String) throws(LoadTestPlanError) -> [Int] {
        var tiers: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let tier = Int(trimmed) else { throw .invalid("tiers must be whole numbers of messages per second, comma-separated; got '\(trimmed)'") }
            tiers.append(tier)
        }
        return tiers
    }

    /// Every message of the plan.
    public var messageCount: Int { senders.reduce(0) { $0 + $1.messageCount } }

    /// How long the harness waits for all campaigns before it judges what arrived, in
    /// seconds. A ceiling run offers more than the dispatcher sends, so it gets longer.
    public var deadlineSeconds: Int { ceiling ? seconds * 10 + 60 : seconds * 3 + 60 }

    enum CodingKeys: String, CodingKey {
        case senders, seconds, ceiling
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        senders = try c.decode([SenderPlan].self, forKey: .senders)
        seconds = try c.decode(Int.self, forKey: .seconds)
        // Plans written before ceiling mode have no key.
        ceiling = try c.decodeIfPresent(Bool.self, forKey: .ceiling) ?? false
    }
}

/// One sender of a run and the campaign it sends.
public struct SenderPlan: Sendable, Equatable, Codable {
    /// The WhatsApp `phone_number_id`.
    public var phoneNumberID: String
    /// Messages per second.
    public var tier: Int
    /// Recipients in its campaign (`tier × seconds`).
    public var messageCount: Int
    /// Recipient `n` of the campaign is the number `firstRecipient + n`, so an arrival's
    /// `to` gives its place on the schedule.
    public var firstRecipient: Int64

    /// Creates a sender plan.
    public init(phoneNumberID: String, tier: Int, messageCount: Int, firstRecipient: Int64) {
        self.phoneNumberID = phoneNumberID
        self.tier = tier
        self.messageCount = messageCount
        self.firstRecipient = firstRecipient
    }

    /// The position of recipient `to` in this sender's campaign, or nil if it is not one of them.
    public func index(ofRecipient to: String) -> Int? {
        guard let number = Int64(to) else { return nil }
        let index = number - firstRecipient
        guard index >= 0, index < Int64(messageCount) else { return nil }
        return Int(index)
    }
}

/// A flag value the harness cannot run with.
public enum LoadTestPlanError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let why): why
        }
    }
}
