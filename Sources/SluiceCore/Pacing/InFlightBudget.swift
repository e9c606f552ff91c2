/// How many requests each sender may have outstanding, sized from the latency the
/// endpoint shows: by Little's law a sender paced at `r` msg/s whose answers take `W`
/// seconds keeps `r × W` requests in flight, so the bound is
/// `⌈r × latency × headroom⌉` with `latency` a high percentile of recent answers.
///
/// - The percentile comes from a histogram of answer times (about 9 % wide buckets) over
///   the current and the previous window of `windowNanoseconds`: a slower endpoint raises
///   the bound as soon as its answers come back; a faster one lowers it within two
///   windows. With nothing measured yet, `latencyAssumedNanoseconds` stands.
/// - The bound only keeps a hanging or slowing endpoint from collecting an unbounded
///   number of requests (each one in doubt if the process dies); the pacer alone decides
///   when a message leaves, so a generous bound costs no pacing.
///
/// ```swift
/// var budget = InFlightBudget(now: now)
/// budget.record(latencyNanoseconds: completion.elapsed, now: now)
/// if budget.refresh(now: now) { /* the estimate moved: re-size the senders */ }
/// let bound = budget.limit(messagesPerSecond: 1000, min: 16, max: 8192)   // 300 at 200 ms p99
/// ```
public struct InFlightBudget: Sendable {
    /// The answer-time percentile the bound is sized from.
    public static let percentile = 0.99
    /// Room above `rate × percentile`: answers slower than the percentile, and a rate
    /// measured over a short window.
    public static let headroom = 1.5
    /// Each of the two histogram windows.
    public static let windowNanoseconds: Int64 = 5_000_000_000
    /// Least time between two recomputations of the percentile.
    public static let refreshNanoseconds: Int64 = 100_000_000
    /// The latency assumed before any answer was measured.
    public static let latencyAssumedNanoseconds: Int64 = 1_000_000_000
    /// Answers slower than this count as this slow (the longest request timeout).
    public static let latencyNanosecondsMax: Int64 = 120_000_000_000

    /// Buckets per doubling of the latency (2^(1/8): about 9 % wide).
    static let bucketsPerOctave = 8
    /// Octaves of microseconds up to `latencyNanosecondsMax` (2^27 µs ≈ 134 s).
    static let octaves = 28
    static let bucketCount = bucketsPerOctave * octaves

    /// The latency the bound is sized from: the upper edge of the percentile's bucket.
    public private(set) var latencyNanoseconds: Int64
    private var current: [UInt32]
    private var previous: [UInt32]
    private var currentCount: Int = 0
    private var previousCount: Int = 0
    private var currentStart: Instant
    private var nextRefresh: Instant

    public init(now: Instant) {
        latencyNanoseconds = Self.latencyAssumedNanoseconds
        current = Array(repeating: 0, count: Self.bucketCount)
        previous = Array(repeating: 0, count: Self.bucketCount)
        currentStart = now
        nextRefresh = now
    }

    /// One answer that took `latencyNanoseconds` from dispatch to completion.
    public mutating func record(latencyNanoseconds: Int64, now: Instant) {
        rotate(now: now)
        let i = Self.bucket(min(max(latencyNanoseconds, 0), Self.latencyNanosecondsMax))
        if current[i] < .max { current[i] += 1 }
        currentCount += 1
    }

    /// Recomputes the percentile at most every `refreshNanoseconds`; true when it changed.
    /// With no answer in either window the estimate stays (an idle endpoint tells nothing).
    @discardableResult
    public mutating func refresh(now: Instant) -> Bool {
        guard now >= nextRefresh else { return false }
        nextRefresh = now + Self.refreshNanoseconds
        rotate(now: now)
        let total = currentCount + previousCount
        guard total > 0 else { return false }
        // The rank of the percentile, 1-based: the smallest k with k ≥ p × total.
        let rank = max(1, Int((Self.percentile * Double(total)).rounded(.up)))
        var seen = 0
        var estimate = Self.latencyNanosecondsMax
        for i in 0..<Self.bucketCount {
            seen += Int(current[i]) + Int(previous[i])
            if seen >= rank {
                estimate = min(Self.latencyNanosecondsMax, Self.lowerEdge(i + 1))
                break
            }
        }
        guard estimate != latencyNanoseconds else { return false }
        latencyNanoseconds = estimate
        return true
    }

    /// `⌈rate × latency × headroom⌉` within `[min, max]`.
    public func limit(messagesPerSecond: Double, min lower: Int, max upper: Int) -> Int {
        precondition(lower >= 1 && lower <= upper, "in-flight bounds need 1 ≤ min ≤ max")
        let wanted = messagesPerSecond * Double(latencyNanoseconds) / 1e9 * Self.headroom
        guard wanted.isFinite, wanted < Double(upper) else { return upper }
        return Swift.max(lower, Int(wanted.rounded(.up)))
    }

    // MARK: - Internals

    /// Starts a new window when the current one is full; forgets both after a gap of two.
    private mutating func rotate(now: Instant) {
        let age = now - currentStart
        guard age >= Self.windowNanoseconds else { return }
        if age >= 2 * Self.windowNanoseconds {
            for i in 0..<Self.bucketCount { previous[i] = 0 }
            previousCount = 0
        } else {
            swap(&previous, &current)
            previousCount = currentCount
        }
        for i in 0..<Self.bucketCount { current[i] = 0 }
        currentCount = 0
        currentStart = now
    }

    /// The bucket of a latency: octave of its microseconds, then the next three bits.
    static func bucket(_ nanoseconds: Int64) -> Int {
        let micros = UInt64(max(1, nanoseconds / 1_000))
        let octave = 63 - micros.leadingZeroBitCount
        let sub = octave >= 3 ? Int((micros >> UInt64(octave - 3)) & 7) : Int((micros << UInt64(3 - octave)) & 7)
        return min(bucketCount - 1, octave * bucketsPerOctave + sub)
    }

    /// The smallest latency in bucket `index` (the upper edge of `index - 1`), in ns.
    static func lowerEdge(_ index: Int) -> Int64 {
        let octave = index / bucketsPerOctave
        let mantissa = Int64(bucketsPerOctave + index % bucketsPerOctave)
        let micros = octave >= 3 ? mantissa << Int64(octave - 3) : mantissa >> Int64(3 - octave)
        return micros * 1_000
    }
}
