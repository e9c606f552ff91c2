/// The share of a number's tier that its incoming messages take. WhatsApp counts a
/// number's throughput inbound and outbound together: a number at 80 msg/s receiving
/// 20 msg/s has 60 msg/s left to send.
///
/// Inbound messages are counted in `bucketNanoseconds` buckets; the one-second count
/// (the last `bucketsPerSecond` buckets) is sampled at each arrival, and the reserve is
/// the highest sample of the last `holdNanoseconds` plus a margin (`marginFraction`, at
/// least one message). It rises with the first second that holds more, and falls only
/// after the traffic stayed lower for the hold, so the paced rate does not swing with
/// every burst. A sudden rise is not foreseen: the second it happens in can go over the
/// tier, which WhatsApp answers with 130429 and the rate controller handles.
///
/// ```swift
/// var reserve = InboundReserve(now: now)
/// reserve.record(count: 1, now: now)              // an incoming message
/// let left = tier - reserve.messagesPerSecond(now: now)
/// ```
public struct InboundReserve: Sendable {
    public static let bucketNanoseconds: Int64 = 100_000_000
    static let bucketsPerSecond = 10
    /// How long a one-second peak holds the reserve up.
    public static let holdNanoseconds: Int64 = 5_000_000_000
    /// Spare above the measured peak, as a fraction of it (at least one message).
    public static let marginFraction = 0.05

    /// Counts of the last second's buckets, by bucket number modulo their count.
    private var buckets = [Int](repeating: 0, count: InboundReserve.bucketsPerSecond)
    /// The bucket number (`nanoseconds / bucketNanoseconds`) of the latest instant seen.
    private var bucket: Int64
    /// Sum of `buckets`.
    private var secondCount = 0
    /// Highest one-second count per hold slot (one second each), by slot number modulo count.
    private var peaks = [Int](repeating: 0, count: Int(InboundReserve.holdNanoseconds / 1_000_000_000))
    private var slot: Int64

    public init(now: Instant) {
        bucket = now.nanoseconds / Self.bucketNanoseconds
        slot = now.nanoseconds / 1_000_000_000
    }

    /// `count` incoming messages at `now`.
    public mutating func record(count: Int, now: Instant) {
        precondition(count >= 0, "negative inbound count")
        advance(now)
        buckets[Int(bucket % Int64(Self.bucketsPerSecond))] += count
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
        guard let peak = peaks.max(), peak > 0 else { return 0 }
        return Double(peak) + max(1, (Double(peak) * Self.marginFraction).rounded(.up))
    }

    /// Whether nothing came in for the whole hold (the sender can drop its meter).
    public mutating func isIdle(now: Instant) -> Bool {
        advance(now)
        return peaks.allSatisfy { $0 == 0 }
    }

    /// Empties the buckets and hold slots that `now` has left behind. An instant earlier
    /// than one already seen counts as that one.
    private mutating func advance(_ now: Instant) {
        let b = now.nanoseconds / Self.bucketNanoseconds
        if b > bucket {
            if b - bucket >= Int64(Self.bucketsPerSecond) {
                for i in buckets.indices { buckets[i] = 0 }
                secondCount = 0
            } else {
                var k = bucket + 1
                while k <= b {
                    let i = Int(k % Int64(Self.bucketsPerSecond))
                    secondCount -= buckets[i]
                    buckets[i] = 0
                    k += 1
                }
            }
            bucket = b
        }
        let s = now.nanoseconds / 1_000_000_000
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
