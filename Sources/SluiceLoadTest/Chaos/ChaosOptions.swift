import Foundation

/// What a chaos run does: senders at full tier, campaigns submitted while the dispatcher
/// is killed with SIGKILL `kills` times at seeded random moments and restarted on the same
/// data directory, then a queue check of the mock's arrival record.
///
/// ```swift
/// var options = ChaosOptions(workDirectory: "/tmp/chaos", tiers: [250, 80], kills: 5, seed: 1, webhooks: true)
/// let report = try await ChaosRunner(options: options).run()
/// report.passed
/// ```
public struct ChaosOptions: Sendable {
    /// Kills of one run.
    public static let killsRange: ClosedRange<Int> = 1...1_000
    /// Most senders of one run.
    public static let sendersMax = 8
    /// Settle windows used when none is given, in seconds: with webhooks it must outlast a
    /// restart plus the mock's webhook retry backoff (up to 5 s), so a status proves a sent
    /// message before any resend; without webhooks nothing settles it, so keep runs short.
    public static let settleSecondsWithWebhooksDefault = 20.0
    public static let settleSecondsWithoutWebhooksDefault = 2.0
    /// Delivery modes a campaign may name (the `delivery` field).
    public static let deliveryModes: Set<String> = ["at_least_once", "at_most_once"]

    public var workDirectory: String
    /// Sender tiers in msg/s; one sender each.
    public var tiers: [Int]
    public var kills: Int
    public var seed: UInt64
    /// The mock posts signed status webhooks to the dispatcher.
    public var webhooks: Bool
    /// `sluice serve --in-doubt-settle`, in seconds.
    public var inDoubtSettleSeconds: Double
    /// The `delivery` field sent with every campaign; nil: not sent.
    public var delivery: String?
    /// `sluice serve --connections`; nil: serve's default.
    public var connections: Int?
    /// The `sluice` binary children are started from.
    public var executable = "/proc/self/exe"
    public var adminKey = "chaos-" + UUID().uuidString
    /// Recorded in the report.
    public var commandLine = ""
    /// Seconds of sending each sender keeps submitted ahead of the endpoint.
    public var backlogSeconds = 3.0
    /// Most campaigns one run submits.
    public var campaignsMax = 5_000
    /// Longest the whole run may take, in seconds (the kills stop early when it nears).
    public var secondsMax: Double
    /// Longest the wait for the campaigns to drain after the last kill, in seconds.
    public var drainSecondsMax: Double

    public init(workDirectory: String, tiers: [Int], kills: Int, seed: UInt64, webhooks: Bool, inDoubtSettleSeconds: Double? = nil) {
        self.workDirectory = workDirectory
        self.tiers = tiers
        self.kills = kills
        self.seed = seed
        self.webhooks = webhooks
        let settle = inDoubtSettleSeconds ?? (webhooks ? Self.settleSecondsWithWebhooksDefault : Self.settleSecondsWithoutWebhooksDefault)
        self.inDoubtSettleSeconds = settle
        self.drainSecondsMax = settle * 3 + 120
        self.secondsMax = Double(kills) * 20 + settle * 3 + 300
    }

    /// Throws ``LoadTestError/invalidConfiguration(_:)`` naming the bad value.
    public func validate() throws {
        guard Self.killsRange.contains(kills) else {
            throw LoadTestError.invalidConfiguration("kills must be between \(Self.killsRange.lowerBound) and \(Self.killsRange.upperBound), got \(kills)")
        }
        guard !tiers.isEmpty, tiers.count <= Self.sendersMax else {
            throw LoadTestError.invalidConfiguration("give 1 to \(Self.sendersMax) tiers, got \(tiers.count)")
        }
        for tier in tiers where !LoadTestPlan.tierRange.contains(tier) {
            throw LoadTestError.invalidConfiguration("tiers must be between \(LoadTestPlan.tierRange.lowerBound) and \(LoadTestPlan.tierRange.upperBound) msg/s, got \(tier)")
        }
        guard (0...3_600).contains(inDoubtSettleSeconds) else {
            throw LoadTestError.invalidConfiguration("in-doubt-settle must be between 0 and 3600 seconds, got \(inDoubtSettleSeconds)")
        }
        if let delivery, !Self.deliveryModes.contains(delivery) {
            throw LoadTestError.invalidConfiguration("delivery must be one of \(Self.deliveryModes.sorted().joined(separator: ", ")), got '\(delivery)'")
        }
        if let connections, !(1...1024).contains(connections) {
            throw LoadTestError.invalidConfiguration("connections must be between 1 and 1024, got \(connections)")
        }
    }

    /// The sender ids, `1065800000`, `1065800001`, … (apart from the load test's `10659…`).
    var phoneNumberIDs: [String] { tiers.indices.map { "1065" + String(800_000 + $0) } }
}
