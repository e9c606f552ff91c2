/// Each sender's last minutes, one sample a second: messages sent and sends throttled
/// (130429 and the other throttle codes) in that second, from the dispatcher's cumulative
/// counters (`SenderSnapshot.sent`, `.throttled`). A pure value: the sampler feeds it, the
/// dashboard's stream reads it, tests drive it with made-up counters.
///
/// ```swift
/// var history = SenderHistory()
/// history.record([.init(phoneNumberID: "1065", sent: 0, throttled: 0)], second: 100)
/// history.record([.init(phoneNumberID: "1065", sent: 80, throttled: 2)], second: 101)
/// history.samples("1065")  // sent [80], throttled [2], last second 101
/// ```
public struct SenderHistory: Sendable {
    /// Seconds kept per sender: ten minutes.
    public static let samplesMax = 600

    /// What one sender's counters read at one moment.
    public struct Counters: Sendable, Equatable {
        public var phoneNumberID: String
        public var sent: UInt64
        public var throttled: UInt64

        public init(phoneNumberID: String, sent: UInt64, throttled: UInt64) {
            self.phoneNumberID = phoneNumberID
            self.sent = sent
            self.throttled = throttled
        }
    }

    /// One sender's samples, oldest first; the last one is for `lastSecond`.
    public struct Samples: Sendable, Equatable {
        public var lastSecond: Int64
        public var sent: [Int]
        public var throttled: [Int]

        public init(lastSecond: Int64, sent: [Int], throttled: [Int]) {
            self.lastSecond = lastSecond
            self.sent = sent
            self.throttled = throttled
        }
    }

    /// A fixed ring of `samplesMax` seconds for one sender.
    struct Ring: Sendable {
        var sent = [Int](repeating: 0, count: SenderHistory.samplesMax)
        var throttled = [Int](repeating: 0, count: SenderHistory.samplesMax)
        /// Where the next sample goes.
        var next = 0
        var count = 0
        var lastSecond: Int64
        /// The counters at `lastSecond`, which the next sample is the difference from.
        var counters: Counters

        mutating func append(sent s: Int, throttled t: Int) {
            sent[next] = s
            throttled[next] = t
            next = (next + 1) % SenderHistory.samplesMax
            count = min(count + 1, SenderHistory.samplesMax)
        }

        var samples: Samples {
            let start = (next - count + SenderHistory.samplesMax) % SenderHistory.samplesMax
            let order = (0..<count).map { (start + $0) % SenderHistory.samplesMax }
            return Samples(lastSecond: lastSecond, sent: order.map { sent[$0] }, throttled: order.map { throttled[$0] })
        }
    }

    private var rings: [String: Ring] = [:]

    public init() {}

    /// Takes the counters read at `second` (wall-clock seconds). A sender seen for the
    /// first time starts its ring there (no sample: nothing to compare with); one no longer
    /// listed is forgotten. Seconds skipped since the last reading (a late sampler) are
    /// zeros, and the whole difference goes to `second`. A counter that went back (the
    /// sender was re-registered) counts from its new value.
    public mutating func record(_ readings: [Counters], second: Int64) {
        var seen = Set<String>()
        for reading in readings {
            seen.insert(reading.phoneNumberID)
            guard var ring = rings[reading.phoneNumberID] else {
                rings[reading.phoneNumberID] = Ring(lastSecond: second, counters: reading)
                continue
            }
            guard second > ring.lastSecond else { continue }
            let skipped = min(second - ring.lastSecond - 1, Int64(Self.samplesMax))
            for _ in 0..<skipped { ring.append(sent: 0, throttled: 0) }
            ring.append(
                sent: Self.difference(reading.sent, ring.counters.sent),
                throttled: Self.difference(reading.throttled, ring.counters.throttled))
            ring.lastSecond = second
            ring.counters = reading
            rings[reading.phoneNumberID] = ring
        }
        rings = rings.filter { seen.contains($0.key) }
    }

    /// The sender's samples, oldest first; nil for a sender not (yet) seen.
    public func samples(_ phoneNumberID: String) -> Samples? { rings[phoneNumberID]?.samples }

    static func difference(_ now: UInt64, _ before: UInt64) -> Int {
        now >= before ? Int(clamping: now - before) : Int(clamping: now)
    }
}
