import Foundation

/// How long the mock waits before answering, in milliseconds.
public enum LatencyDistribution: Sendable, Equatable {
    /// Largest latency a distribution may name or produce; samples are clamped to it.
    public static let millisecondsMax: Double = 60_000
    /// The standard normal's 99th percentile: turns a p99 into a log-normal sigma.
    static let normalQuantile99 = 2.326_347_874_040_841

    /// Always `milliseconds`.
    case fixed(milliseconds: Double)
    /// Uniform between the two bounds (inclusive of the lower).
    case uniform(minMilliseconds: Double, maxMilliseconds: Double)
    /// Log-normal with this median and 99th percentile: most answers quick, a long tail slow.
    case longTail(medianMilliseconds: Double, p99Milliseconds: Double)

    /// No latency.
    public static let none = LatencyDistribution.fixed(milliseconds: 0)

    /// Parses `fixed:MS`, `uniform:MIN-MAX` or `long-tail:MEDIAN/P99` (milliseconds).
    public init(parsing text: String) throws(MockError) {
        let parts = text.split(separator: ":", maxSplits: 1)
        let numbers = parts.count == 2 ? parts[1].split(whereSeparator: { $0 == "-" || $0 == "/" }).map { Double($0) } : []
        switch (parts.first, numbers.count) {
        case ("fixed", 1) where numbers[0] != nil:
            self = .fixed(milliseconds: numbers[0]!)
        case ("uniform", 2) where numbers[0] != nil && numbers[1] != nil:
            self = .uniform(minMilliseconds: numbers[0]!, maxMilliseconds: numbers[1]!)
        case ("long-tail", 2) where numbers[0] != nil && numbers[1] != nil:
            self = .longTail(medianMilliseconds: numbers[0]!, p99Milliseconds: numbers[1]!)
        default:
            throw .invalidConfiguration("latency '\(text)' must be fixed:MS, uniform:MIN-MAX or long-tail:MEDIAN/P99")
        }
        try validate()
    }

    /// Throws when a bound is negative, out of order or above ``millisecondsMax``.
    public func validate() throws(MockError) {
        let range = 0...Self.millisecondsMax
        switch self {
        case .fixed(let ms):
            guard range.contains(ms) else { throw .invalidConfiguration("fixed latency \(ms) ms is outside 0...60000") }
        case .uniform(let low, let high):
            guard range.contains(low), range.contains(high), low <= high else {
                throw .invalidConfiguration("uniform latency needs 0 <= min_ms <= max_ms <= 60000, got \(low)...\(high)")
            }
        case .longTail(let median, let p99):
            guard median > 0, range.contains(p99), median <= p99 else {
                throw .invalidConfiguration("long-tail latency needs 0 < median_ms <= p99_ms <= 60000, got \(median)/\(p99)")
            }
        }
    }

    /// One latency in milliseconds, within 0...``millisecondsMax``.
    public func sample<G: RandomNumberGenerator>(using generator: inout G) -> Double {
        let value: Double
        switch self {
        case .fixed(let ms):
            value = ms
        case .uniform(let low, let high):
            value = low == high ? low : Double.random(in: low..<high, using: &generator)
        case .longTail(let median, let p99):
            let sigma = log(p99 / median) / Self.normalQuantile99
            value = median * exp(sigma * Self.standardNormal(using: &generator))
        }
        return min(max(value, 0), Self.millisecondsMax)
    }

    var isZero: Bool { self == .fixed(milliseconds: 0) }

    /// Box–Muller; one of the pair is enough here.
    private static func standardNormal<G: RandomNumberGenerator>(using generator: inout G) -> Double {
        // 1 - u keeps the logarithm's argument in (0, 1].
        let u1 = 1 - Double.random(in: 0..<1, using: &generator)
        let u2 = Double.random(in: 0..<1, using: &generator)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
