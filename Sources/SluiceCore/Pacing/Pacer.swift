/// Paces one sending number at its rate tier: GCRA (the virtual-scheduling form of a
/// token bucket) on an ideal grid, with a sliding-window guard as the hard bound.
///
/// - The emission interval is `T = (1 + safetyMargin) / messagesPerSecond`; the burst
///   tolerance is `(burst - 1) · T`.
/// - **Late-wakeup catch-up**: the grid is kept when the caller wakes at most `catchUp`
///   late (the next slot stays `TAT + T`), so a loop that wakes 300 µs late still sends
///   at the tier; later than that (an idle or blocked sender) the grid restarts at `now`,
///   so an idle sender gets one message (or its burst) at once and even spacing after.
///   `catchUp` is bounded (`catchUpNanosecondsMax`, `catchUpIntervalsMax`).
/// - **Sliding-window guard**: a ring of the last `⌊rate⌋` admission instants; one more
///   is admitted only if the admission `⌊rate⌋` places back is at least
///   `1 s × (1 + safetyMargin)` old. No half-open one-second window ever holds more
///   than `⌊rate⌋` admissions, whatever catch-up, burst or rate changes do.
/// - **Departures** (`tracksDepartures`): the ring holds when each message really left
///   (`departed(admission:at:)`), not when it was admitted, so a message that waited
///   between the two (a late thread wakeup) cannot put two messages `⌊rate⌋` apart
///   within one second on the wire. An admission whose departure is not known yet holds
///   its ring entry: the one `⌊rate⌋` places later waits for it. The window is then the
///   grid's `1 s × (1 + safetyMargin)` less `departureAllowance` (1 ms, at most half the
///   margin): the guard binds only when a message left later than that after its
///   admission, and the rest of the margin absorbs jitter after it left (the network,
///   the endpoint's own wakeups).
/// - The clock is clamped: an instant earlier than one already seen counts as the one
///   already seen, so a clock stepping backwards only pauses admission.
///
/// ```swift
/// var pacer = Pacer(messagesPerSecond: 80, now: clock.now())
/// let n = pacer.admit(upTo: queued, now: clock.now())   // send n messages now
/// sleep(until: pacer.nextEligible(now: clock.now()))
/// ```
public struct Pacer: Sendable {
    /// Default spacing margin: intervals 0.5 % longer than `1 / rate`, the allowance
    /// for jitter between our clock and WhatsApp's counting at its endpoint.
    public static let defaultSafetyMargin: Double = 0.005
    /// The highest rate tier WhatsApp grants, and the ring guard's capacity bound.
    public static let messagesPerSecondMax: Double = 1000
    /// Bound on the burst tolerance, in messages.
    public static let burstMax: Int = 1000
    /// Bound on the safety margin (a fraction of the interval).
    public static let safetyMarginMax: Double = 0.5
    /// Catch-up bound in time: how far behind `now` the grid may resume after a late wake.
    /// It must cover the loop's late wakes and the transport's late departures on a busy
    /// machine (stalls of 10–30 ms, measured in `tuning/RESULTS.md`); a wake later than
    /// this loses the excess. It is also the idle burst: an idle sender may send
    /// `1 + catchUp / T` messages at once (30 at 1000 msg/s, 3 at 80 msg/s). The window
    /// guard still bounds every second, by departure.
    public static let catchUpNanosecondsMax: Int64 = 30_000_000
    /// Catch-up bound in intervals (binds above 1000 / 1.008 msg/s only, at 30 ms).
    public static let catchUpIntervalsMax: Int64 = 30

    /// With `tracksDepartures`: the usual lag from admission to departure that the
    /// window guard leaves to the grid (a thread handoff).
    public static let departureAllowanceNanoseconds: Int64 = 1_000_000

    static let nanosecondsPerSecond: Double = 1_000_000_000

    /// The paced rate. Any value in `(0, messagesPerSecondMax]`.
    public private(set) var messagesPerSecond: Double
    /// Messages that may go back to back after an idle period (1: none beyond the grid).
    public private(set) var burst: Int
    /// The spacing margin this pacer was made with.
    public let safetyMargin: Double
    /// Whether the window guard waits for `departed(admission:at:)` reports.
    public let tracksDepartures: Bool
    /// Admissions so far; the next admission's sequence number.
    public private(set) var admissionsTotal: UInt64 = 0

    /// Emission interval `T`, rounded up to whole nanoseconds (never faster than the rate).
    private(set) var intervalNanoseconds: Int64
    /// `(burst - 1) · T`.
    private var toleranceNanoseconds: Int64
    /// `min(catchUpNanosecondsMax, catchUpIntervalsMax · T)`.
    private var catchUpNanoseconds: Int64
    /// Length of the guarded window, `1 s × (1 + safetyMargin)`, rounded up.
    private let windowNanoseconds: Int64
    /// The grid slot of the last admission; the next slot (TAT) is `gridLast + T`.
    private var gridLastNanoseconds: Int64
    /// The latest instant seen (the clamp for a clock stepping backwards).
    private(set) var lastSeen: Instant

    /// Ring of the last `ringCapacity` admission instants (nanoseconds).
    private var ring: [Int64]
    /// Index of the oldest entry once the ring is full; where the next entry goes.
    private var ringHead: Int
    private var ringCount: Int
    /// Per ring entry: admitted, departure not reported yet (`tracksDepartures` only).
    private var pending: [Bool]

    /// Creates a pacer that may admit one message at `now`.
    public init(
        messagesPerSecond: Double, burst: Int = 1, safetyMargin: Double = Pacer.defaultSafetyMargin,
        tracksDepartures: Bool = false, now: Instant
    ) {
        precondition(safetyMargin >= 0 && safetyMargin <= Pacer.safetyMarginMax, "safetyMargin out of range")
        Pacer.checkRate(messagesPerSecond, burst: burst)
        self.messagesPerSecond = messagesPerSecond
        self.burst = burst
        self.safetyMargin = safetyMargin
        self.tracksDepartures = tracksDepartures
        let window = Pacer.ceilPositive(Pacer.nanosecondsPerSecond * (1 + safetyMargin))
        let allowance = tracksDepartures ? min(Pacer.departureAllowanceNanoseconds, Int64(Pacer.nanosecondsPerSecond * safetyMargin / 2)) : 0
        self.windowNanoseconds = window - allowance
        let interval = Pacer.interval(messagesPerSecond, safetyMargin)
        self.intervalNanoseconds = interval
        self.toleranceNanoseconds = Int64(burst - 1) * interval
        self.catchUpNanoseconds = min(Pacer.catchUpNanosecondsMax, Pacer.catchUpIntervalsMax * interval)
        self.gridLastNanoseconds = now.nanoseconds &- interval
        self.lastSeen = now
        let capacity = Pacer.ringCapacity(messagesPerSecond)
        self.ring = Array(repeating: 0, count: capacity)
        self.pending = Array(repeating: false, count: capacity)
        self.ringHead = 0
        self.ringCount = 0
    }

    /// Changes the rate (and optionally the burst), effective at once: the next slot is
    /// one new interval after the last admission's slot, and the window guard counts
    /// against the new rate (after 1000 → 80, at most 80 in any trailing second).
    public mutating func setRate(messagesPerSecond: Double, burst: Int? = nil, now: Instant) {
        let burst = burst ?? self.burst
        Pacer.checkRate(messagesPerSecond, burst: burst)
        observe(now)
        if messagesPerSecond == self.messagesPerSecond && burst == self.burst { return }
        self.messagesPerSecond = messagesPerSecond
        self.burst = burst
        let interval = Pacer.interval(messagesPerSecond, safetyMargin)
        intervalNanoseconds = interval
        toleranceNanoseconds = Int64(burst - 1) * interval
        catchUpNanoseconds = min(Pacer.catchUpNanosecondsMax, Pacer.catchUpIntervalsMax * interval)
        resizeRing(to: Pacer.ringCapacity(messagesPerSecond))
    }

    /// The earliest instant one more message may go; `now` (or the latest instant seen,
    /// if the clock went backwards) when it may go now; `Instant.never` while it waits
    /// for a departure report.
    public func nextEligible(now: Instant) -> Instant {
        let t = max(now.nanoseconds, lastSeen.nanoseconds)
        // GCRA: admissible once TAT ≤ t + τ (catch-up only lowers TAT, never raises it).
        let gcra = gridLastNanoseconds &+ intervalNanoseconds &- toleranceNanoseconds
        var eligible = max(t, gcra)
        if ringCount == ring.count {
            if pending[ringHead] { return .never }
            eligible = max(eligible, ring[ringHead] &+ windowNanoseconds)
        }
        return Instant(nanoseconds: eligible)
    }

    /// Admissions whose departure has not been reported (`tracksDepartures`).
    public var pendingDepartures: Int {
        var n = 0
        for i in 0..<ringCount where pending[(ringHead + i) % ring.count] { n += 1 }
        return n
    }

    /// The message of admission number `admission` left at `instant` (or was dropped
    /// unsent then). Later reports for the same admission change nothing. Returns true
    /// when the report may let the next admission go sooner.
    @discardableResult
    public mutating func departed(admission: UInt64, at instant: Instant) -> Bool {
        guard tracksDepartures else { return false }
        let oldest = admissionsTotal &- UInt64(ringCount)
        guard admission >= oldest && admission < admissionsTotal else { return false }
        let index = (ringHead + Int(admission - oldest)) % ring.count
        guard pending[index] else { return false }
        pending[index] = false
        ring[index] = max(ring[index], instant.nanoseconds)
        return ringCount == ring.count && index == ringHead
    }

    /// Admits one message at `now` if the pacer allows it, and records it.
    public mutating func tryAdmit(now: Instant) -> Bool {
        observe(now)
        return admitOne()
    }

    /// Admits as many messages as the pacer allows at `now`, at most `max`; returns how many.
    public mutating func admit(upTo max: Int, now: Instant) -> Int {
        precondition(max >= 0, "admit(upTo:) needs a non-negative count")
        observe(now)
        var admitted = 0
        while admitted < max && admitOne() { admitted += 1 }
        return admitted
    }

    /// The last admitted message left later than admitted, at `instant` (it waited for a
    /// connection to open): later admissions are spaced from when it left, so the
    /// endpoint does not see it and the next ones squeezed together. Only moves forward.
    public mutating func delayLastAdmission(to instant: Instant) {
        observe(instant)
        guard ringCount > 0 else { return }
        let newest = (ringHead + ringCount - 1) % ring.count
        let t = instant.nanoseconds
        pending[newest] = false
        guard t > ring[newest] else { return }
        ring[newest] = t
        gridLastNanoseconds = max(gridLastNanoseconds, t)
    }

    // MARK: - Internals

    private mutating func observe(_ now: Instant) {
        if now > lastSeen { lastSeen = now }
    }

    /// One GCRA + ring decision at `lastSeen`.
    private mutating func admitOne() -> Bool {
        let t = lastSeen.nanoseconds
        // Late by at most the catch-up: stay on the grid, so a late wake loses no slot.
        // Later than that (idle, paused, blocked): the grid restarts at `t`. Moving it only
        // part-way back would squeeze the next slots together, the window guard would then
        // gate every second, and the uneven spacing lets endpoint jitter show tier + 1.
        let ideal = gridLastNanoseconds &+ intervalNanoseconds
        let slot = t &- ideal <= catchUpNanoseconds ? ideal : t
        guard slot &- toleranceNanoseconds <= t else { return false }
        if ringCount == ring.count {
            guard !pending[ringHead], ring[ringHead] &+ windowNanoseconds <= t else { return false }
            ring[ringHead] = t
            pending[ringHead] = tracksDepartures
            ringHead += 1
            if ringHead == ring.count { ringHead = 0 }
        } else {
            let index = (ringHead + ringCount) % ring.count
            ring[index] = t
            pending[index] = tracksDepartures
            ringCount += 1
        }
        gridLastNanoseconds = slot
        admissionsTotal &+= 1
        return true
    }

    /// Keeps the most recent `min(count, capacity)` admissions. Those dropped on a
    /// decrease are older than every kept one; on an increase the missing older entries
    /// were already at least a window before the last admission (the old guard held).
    private mutating func resizeRing(to capacity: Int) {
        guard capacity != ring.count else { return }
        let kept = min(ringCount, capacity)
        var fresh = Array(repeating: Int64(0), count: capacity)
        var freshPending = Array(repeating: false, count: capacity)
        let skip = ringCount - kept
        for i in 0..<kept {
            fresh[i] = ring[(ringHead + skip + i) % ring.count]
            freshPending[i] = pending[(ringHead + skip + i) % ring.count]
        }
        ring = fresh
        pending = freshPending
        ringHead = 0
        ringCount = kept
        assert(ringCount <= ring.count)
    }

    private static func checkRate(_ messagesPerSecond: Double, burst: Int) {
        precondition(messagesPerSecond.isFinite && messagesPerSecond > 0, "messagesPerSecond must be > 0")
        precondition(messagesPerSecond <= messagesPerSecondMax, "messagesPerSecond above messagesPerSecondMax")
        precondition(burst >= 1 && burst <= burstMax, "burst must be in 1...burstMax")
    }

    static func interval(_ messagesPerSecond: Double, _ safetyMargin: Double) -> Int64 {
        let interval = ceilPositive(nanosecondsPerSecond * (1 + safetyMargin) / messagesPerSecond)
        assert(interval >= 1_000_000 && interval > 0)
        return interval
    }

    /// `⌈x⌉` for a positive finite `x`, without libm (SluiceCore links no C math library).
    static func ceilPositive(_ x: Double) -> Int64 {
        assert(x.isFinite && x >= 0)
        let truncated = Int64(x)
        return Double(truncated) < x ? truncated + 1 : truncated
    }

    /// The most admissions any one-second window may hold: `⌊rate⌋`, at least 1.
    static func ringCapacity(_ messagesPerSecond: Double) -> Int {
        let capacity = max(1, Int(messagesPerSecond))  // truncation: ⌊rate⌋ for rate > 0
        assert(capacity <= Int(messagesPerSecondMax))
        return capacity
    }
}
