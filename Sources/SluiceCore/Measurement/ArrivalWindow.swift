/// Judges pacing the way WhatsApp does, from arrival times at the endpoint.
public enum ArrivalWindow {
    /// The most arrivals in any half-open window `[t, t + windowNanoseconds)`.
    /// `times` must be sorted ascending.
    public static func maxCount(sortedTimes times: [Int64], windowNanoseconds: Int64 = 1_000_000_000) -> Int {
        var best = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= windowNanoseconds { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }

    /// Arrivals per second between the first and the last arrival; nil with fewer than two.
    /// `count - 1` intervals span that time, so a perfectly paced run reports its tier.
    public static func meanRate(sortedTimes times: [Int64]) -> Double? {
        guard times.count >= 2, let first = times.first, let last = times.last, last > first else { return nil }
        return Double(times.count - 1) / (Double(last - first) / 1e9)
    }
}

/// Named WhatsApp throughput tiers (messages per second per phone number); the same
/// names and values are in `tuning/tiers.toml`.
public enum RateTier: String, CaseIterable, Sendable {
    /// Numbers shared with the WhatsApp Business app.
    case coexistence
    /// The Cloud API default.
    case standard
    case elevated
    case high
    /// The upgraded Cloud API tier.
    case max

    public var messagesPerSecond: Double {
        switch self {
        case .coexistence: 20
        case .standard: 80
        case .elevated: 250
        case .high: 500
        case .max: 1000
        }
    }
}
