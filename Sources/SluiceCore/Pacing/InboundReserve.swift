import DequeModule

/// The share of a number's tier that its incoming messages take. WhatsApp counts a
/// number's throughput inbound and outbound together: a number at 80 msg/s receiving
/// 20 msg/s has 60 msg/s left to send.
///
/// Each arrival's sliding-second count (arrivals in `(t − 1 s, t]`, kept exactly, up to
/// `arrivalsKeptMax`) is sampled; the reserve is the highest sample of the last
/// `holdNanoseconds` plus a margin (`marginFraction`, at least one message). It rises with
/// the first second that holds more, and falls only after the traffic stayed lower for
/// the hold, so the paced rate does not swing with every burst. A sudden rise is not
/// foreseen: the second it happens in can go over the tier, which WhatsApp answers with
/// 130429 and the rate controller handles.
///
/// ```swift
/// var reserve = InboundReserve(now: now)
/// reserve.record(count: 1, now: now)              // an incoming message
/// let left = tier - reserve.messagesPerSecond(now: now)
/// ```
public struct InboundReserve: Sendable {
    static let windowNanoseconds: Int64 = 1_000_000_000
    /// How long a one-second peak holds the reserve up.
    public static let holdNanoseconds: Int64 = 5_000_000_000
    /// Spare above the measured peak, as a fraction of it (at least one message).
    public static let marginFraction = 0.05
    /// Arrival instants kept (a second's worth well above the highest tier); a busier
    /// second adds its excess to the latest kept instant (in the peak all the same).
    static let arrivalsKeptMax = 4_096

    /// The last second's arrivals, oldest first: (instant, count).
    private var arrivals: Deque<(nanoseconds: Int64, count: Int)> = []
    /// Sum of `arrivals`' counts.
    private var secondCount = 0
    /// Highest one-second count per hold slot (one second each), by slot number modulo count.
    private var peaks = [Int](repeating: 0, count: Int(InboundReserve.holdNanoseconds / InboundReserve.windowNanoseconds))
    private var slot: Int64
    private var lastSeen: Int64

    public init(now: Instant) {
        slot = now.nanoseconds / Self.windowNanoseconds
        lastSeen = now.nanoseconds
    }

    /// `count` incoming messages at `now`.
    public mutating func record(count: Int, now: Instant) {
        precondition(count >= 0, "negative inbound count")
        advance(now)
        if arrivals.count == Self.arrivalsKeptMax {
            arrivals[arrivals.count - 1].count += count
        } else {
            arrivals.append((lastSeen, count))
        }
        secondCount += count
        let p = Int(slot % Int64(peaks.count))
        peaks[p] = max(peaks[p], secondCount)
    }

    /// Incoming messages in the last second.
    public mutating func lastSecond(now: Instant) -> Int {
        advance(now)
        return secondCount
    }

    /// The rate to leave free for incoming messages: 0 once none came for the hold.
    public mutating func messagesPerSecond(now: Instant) -> Double {
        advance(now)
        return Self.reserve(peak: peaks.max() ?? 0)
    }

    /// The reserve for a peak of `peak` incoming messages in one second.
    public static func reserve(peak: Int) -> Double {
        guard peak > 0 else { return 0 }
        return Double(peak) + max(1, (Double(peak) * marginFraction).rounded(.up))
    }

    /// Whether nothing came in for the whole hold (the sender can drop its meter).
    public mutating func isIdle(now: Instant) -> Bool {
        advance(now)
        return peaks.allSatisfy { $0 == 0 }
    }

    /// Forgets arrivals and hold slots that `now` has left behind. An instant earlier than
    /// one already seen counts as that one.
    private mutating func advance(_ now: Instant) {
        lastSeen = max(lastSeen, now.nanoseconds)
        while let first = arrivals.first, first.nanoseconds <= lastSeen - Self.windowNanoseconds {
            secondCount -= first.count
            arrivals.removeFirst()
        }
        let s = lastSeen / Self.windowNanoseconds
        if s > slot {
            if s - slot >= Int64(peaks.count) {
                for i in peaks.indices { peaks[i] = 0 }
            } else {
                var k = slot + 1
                while k <= s {
                    peaks[Int(k % Int64(peaks.count))] = 0
                    k += 1
                }
            }
            slot = s
        }
    }
}
