/// Adapts a sender's effective rate to WhatsApp's throttling: AIMD.
///
/// - `throttled(now:)` halves the effective rate (floor: `max(1, 5 % of tier)`, never
///   above the tier). Throttles within `throttleCoalesceNanoseconds` of the last counted
///   one count once: one burst of 130429 responses is one signal, not ten.
/// - An **isolated** throttle — none other in the `isolatedThrottleNanoseconds` before
///   it — costs no rate: one message over the tier in a sliding second at the endpoint is
///   what a few milliseconds of jitter after it left can cause (the pacing margin absorbs
///   7 ms; a loaded machine or the network shows more), and halving for it cost a tier-80
///   sender 14 % of its mean in a 20 s run. The refused message is retried; a second
///   throttle soon after (a storm, a tier set too high) halves as before.
/// - `advance(now:)` adds `recoveryStepFraction` of the tier once per
///   `recoveryStepNanoseconds` without throttles, up to the tier. Recovery is stepwise so
///   that the pacer is re-rated at most once a second, however often the loop calls it.
///
/// ```swift
/// var control = RateController(tierMessagesPerSecond: 80, now: now)
/// control.throttled(now: now)                       // isolated: still 80 msg/s
/// control.throttled(now: now)                       // 40 msg/s
/// if control.advance(now: later) { pacer.setRate(messagesPerSecond: control.effectiveMessagesPerSecond, now: later) }
/// ```
public struct RateController: Sendable {
    /// Multiplicative decrease on a throttle.
    public static let decreaseFactor: Double = 0.5
    /// Lowest effective rate as a fraction of the tier (and never below 1 msg/s).
    public static let floorFraction: Double = 0.05
    /// Absolute floor, msg/s (unless the tier itself is lower).
    public static let floorMessagesPerSecondMin: Double = 1
    /// Additive increase per recovery step, as a fraction of the tier.
    public static let recoveryStepFraction: Double = 0.05
    /// Time without a throttle before each recovery step.
    public static let recoveryStepNanoseconds: Int64 = 1_000_000_000
    /// Throttles closer together than this count once.
    public static let throttleCoalesceNanoseconds: Int64 = 1_000_000_000
    /// A throttle with no other this long before it is isolated and costs no rate.
    public static let isolatedThrottleNanoseconds: Int64 = 10_000_000_000

    /// The sender's tier: the rate when nothing throttles.
    public private(set) var tierMessagesPerSecond: Double
    /// The rate to pace at now.
    public var effectiveMessagesPerSecond: Double { effective }

    private var effective: Double
    /// When the last counted throttle happened (nil: never).
    private var lastThrottle: Instant?
    /// When the last throttle signal of any kind came (nil: never).
    private var lastSignal: Instant?
    /// When the rate last changed (decrease or recovery step); steps count from here.
    private var lastChange: Instant
    private var lastSeen: Instant

    /// Starts at the tier.
    public init(tierMessagesPerSecond: Double, now: Instant) {
        precondition(tierMessagesPerSecond.isFinite && tierMessagesPerSecond > 0, "tier must be > 0")
        self.tierMessagesPerSecond = tierMessagesPerSecond
        self.effective = tierMessagesPerSecond
        self.lastThrottle = nil
        self.lastChange = now
        self.lastSeen = now
    }

    /// The lowest effective rate for this tier.
    public var floorMessagesPerSecond: Double {
        min(tierMessagesPerSecond, max(Self.floorMessagesPerSecondMin, Self.floorFraction * tierMessagesPerSecond))
    }

    /// True while the effective rate is under the tier.
    public var isReduced: Bool { effective < tierMessagesPerSecond }

    /// Sets a new tier, effective at once. A reduction in force keeps its proportion
    /// (a sender at half its tier stays at half the new tier).
    public mutating func setTier(_ tier: Double, now: Instant) {
        precondition(tier.isFinite && tier > 0, "tier must be > 0")
        observe(now)
        let fraction = effective / tierMessagesPerSecond
        tierMessagesPerSecond = tier
        effective = min(tier, max(floorMessagesPerSecond, tier * fraction))
        checkInvariants()
    }

    /// A throttle signal (130429 and kin): halve the effective rate, unless it is isolated
    /// (no signal in the last `isolatedThrottleNanoseconds`) or a throttle was already
    /// counted within the last `throttleCoalesceNanoseconds`. Returns true when the rate
    /// fell.
    @discardableResult
    public mutating func throttled(now: Instant) -> Bool {
        observe(now)
        let previous = lastSignal
        lastSignal = lastSeen
        guard let previous, lastSeen - previous < Self.isolatedThrottleNanoseconds else { return false }
        if let last = lastThrottle, lastSeen - last < Self.throttleCoalesceNanoseconds { return false }
        lastThrottle = lastSeen
        lastChange = lastSeen
        effective = max(floorMessagesPerSecond, effective * Self.decreaseFactor)
        checkInvariants()
        return true
    }

    /// Recovery toward the tier: one step per `recoveryStepNanoseconds` since the last
    /// change. Returns true when the effective rate changed.
    public mutating func advance(now: Instant) -> Bool {
        observe(now)
        guard effective < tierMessagesPerSecond else { return false }
        let elapsed = lastSeen - lastChange
        guard elapsed >= Self.recoveryStepNanoseconds else { return false }
        let steps = elapsed / Self.recoveryStepNanoseconds
        let step = Self.recoveryStepFraction * tierMessagesPerSecond
        effective = min(tierMessagesPerSecond, effective + Double(steps) * step)
        lastChange = lastChange + steps * Self.recoveryStepNanoseconds
        checkInvariants()
        return true
    }

    private mutating func observe(_ now: Instant) {
        if now > lastSeen { lastSeen = now }
    }

    private func checkInvariants() {
        assert(effective > 0 && effective <= tierMessagesPerSecond)
        assert(effective >= floorMessagesPerSecond)
    }
}
