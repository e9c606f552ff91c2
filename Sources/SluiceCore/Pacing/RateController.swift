/// Adapts a sender's effective rate to WhatsApp's throttling: AIMD.
///
/// - `throttled(now:)` halves the effective rate (floor: `max(1, 5 % of tier)`, never
///   above the tier). Throttles within `throttleCoalesceNanoseconds` of the last counted
///   one count once: one burst of 130429 responses is one signal, not ten.
/// - A throttle counts only when refusals are `signalsToDecrease` or more **and**
///   `refusalShareToDecrease` of the sender's answers (`answered(count:now:)`) over the
///   last one to two signal windows (1 s, or the time 4 messages take at the tier if
///   longer), counting at least a window's worth of answers at the current rate. A few
///   refusals are what some milliseconds of jitter after messages left can cause at a
///   sliding-second count (the pacing margin absorbs 7 ms; a loaded machine,
///   the network or a busy endpoint shows more), and they come in small runs: the next
///   sends meet the same full window, and at distance the answers arrive together. Halving
///   for them cost two tier-250 senders 30 % at 400 ms. A storm or a tier set too high
///   refuses a large share and halves within tens of milliseconds.
/// - `advance(now:)` adds `recoveryStepFraction` of the tier once per
///   `recoveryStepNanoseconds` without throttles, up to the tier. Recovery is stepwise so
///   that the pacer is re-rated at most once a second, however often the loop calls it.
///
/// ```swift
/// var control = RateController(tierMessagesPerSecond: 80, now: now)
/// control.answered(count: 3, now: now)              // three answers,
/// control.throttled(now: now)                       // a refusal among them: still 80 msg/s
/// control.throttled(now: now)
/// control.throttled(now: now)                       // all three refused: 40 msg/s
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
    /// Least refusals in the signal windows for a decrease.
    public static let signalsToDecrease = 3
    /// Least share of the answers in the signal windows that were refusals, for a decrease.
    public static let refusalShareToDecrease = 0.05
    /// The least signal window; slow tiers get the time 4 messages take.
    public static let signalWindowNanoseconds: Int64 = 1_000_000_000

    /// The sender's tier: the rate when nothing throttles.
    public private(set) var tierMessagesPerSecond: Double
    /// The rate to pace at now.
    public var effectiveMessagesPerSecond: Double { effective }

    private var effective: Double
    /// When the last counted throttle happened (nil: never).
    private var lastThrottle: Instant?
    /// Answers and refusals in the current signal window (from `windowStart`) and the one
    /// before it.
    private var windowStart: Instant
    private var answers = 0
    private var refusals = 0
    private var previousAnswers = 0
    private var previousRefusals = 0
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
        self.windowStart = now
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

    /// `count` answers from the endpoint (refusals included) at `now`.
    public mutating func answered(count: Int, now: Instant) {
        observe(now)
        slideWindow()
        answers += count
    }

    /// A throttle signal (130429 and kin), also counted in `answered`: halve the effective
    /// rate when refusals in the signal windows are at least `signalsToDecrease` and
    /// `refusalShareToDecrease` of the answers, and no decrease happened within the last
    /// `throttleCoalesceNanoseconds`. Returns true when the rate fell.
    @discardableResult
    public mutating func throttled(now: Instant) -> Bool {
        observe(now)
        slideWindow()
        refusals += 1
        let refused = refusals + previousRefusals
        // At least a window's worth at the current rate: at distance the first answers come
        // a whole latency after sending began, and a few early refusals are no storm.
        let expected = Int(effective * Double(signalWindowNanoseconds) / 1e9)
        let answered = max(refused, answers + previousAnswers, expected)
        guard refused >= Self.signalsToDecrease, Double(refused) >= Self.refusalShareToDecrease * Double(answered) else { return false }
        if let last = lastThrottle, lastSeen - last < Self.throttleCoalesceNanoseconds { return false }
        (answers, refusals, previousAnswers, previousRefusals) = (0, 0, 0, 0)
        lastThrottle = lastSeen
        lastChange = lastSeen
        effective = max(floorMessagesPerSecond, effective * Self.decreaseFactor)
        checkInvariants()
        return true
    }

    /// 1 s, or the time 4 messages take at the tier if longer.
    private var signalWindowNanoseconds: Int64 { max(Self.signalWindowNanoseconds, Int64(4e9 / tierMessagesPerSecond)) }

    /// Moves to a new signal window when the current one is over; forgets both after two.
    private mutating func slideWindow() {
        let window = signalWindowNanoseconds
        let age = lastSeen - windowStart
        guard age >= window else { return }
        if age >= 2 * window {
            (previousAnswers, previousRefusals) = (0, 0)
        } else {
            (previousAnswers, previousRefusals) = (answers, refusals)
        }
        (answers, refusals) = (0, 0)
        windowStart = lastSeen
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
