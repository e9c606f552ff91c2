import Histogram

/// Latency of each message from its campaign's acceptance to its arrival at the endpoint,
/// in two views:
///
/// - **behind schedule** (free of coordinated omission): a paced campaign means message
///   `n` of a sender at tier `T` should leave at `accepted + n / T`; its lateness is its
///   arrival minus that instant. A message that never arrived counts as late until the
///   end of the run, so a stall shows up in the percentiles instead of hiding behind the
///   messages that were never sent.
/// - **accepted → arrival**: the plain wait, dominated by the pacing itself (accepted → sent).
/// - **accepted → delivered** (runs with status webhooks): the campaign's acceptance to the
///   moment the dispatcher acknowledged the message's first `delivered` webhook; accepted
///   messages with no acknowledged `delivered` status are counted as undelivered.
///
/// ```swift
/// var latency = LatencyAnalysis.analyze(sender: plan, accepted: 1600, acceptedAtNanoseconds: t0,
///                                       arrivals: mine, endNanoseconds: tEnd)
/// LatencySummary(latency.behindSchedule).p99Milliseconds
/// ```
public enum LatencyAnalysis {
    /// Values are recorded in microseconds.
    public static let unitNanoseconds: Int64 = 1_000
    /// Largest lateness the histograms track, in microseconds (one hour); larger values are clamped.
    public static let valueMicrosecondsMax: UInt64 = 3_600_000_000

    /// An empty histogram with the harness's range and precision.
    public static func emptyHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: valueMicrosecondsMax, numberOfSignificantValueDigits: .three)
    }

    /// Measures one sender's campaign. Arrivals (and deliveries) whose recipient is not in
    /// the campaign are ignored; of duplicates only the first counts. `deliveries` are the
    /// acknowledged `delivered` webhooks of this sender, nil when the run had no webhooks.
    public static func analyze(
        sender: SenderPlan, accepted: Int, acceptedAtNanoseconds: Int64, arrivals: [EndpointArrival], endNanoseconds: Int64,
        deliveries: [EndpointArrival]? = nil
    ) -> LatencyMeasurement {
        precondition(accepted <= sender.messageCount, "accepted more than the plan submitted")
        let firstArrival = earliest(arrivals, of: sender, accepted: accepted)
        var measurement = LatencyMeasurement(behindSchedule: emptyHistogram(), acceptedToArrival: emptyHistogram())
        if let deliveries {
            var delivered = emptyHistogram()
            for time in earliest(deliveries, of: sender, accepted: accepted) {
                guard let time else {
                    measurement.undelivered += 1
                    continue
                }
                delivered.record(microseconds(time - acceptedAtNanoseconds))
            }
            measurement.acceptedToDelivered = delivered
        }
        let spacing = 1e9 / Double(sender.tier)
        for n in 0..<accepted {
            let intended = acceptedAtNanoseconds + Int64((Double(n) * spacing).rounded())
            guard let arrived = firstArrival[n] else {
                measurement.unsent += 1
                measurement.behindSchedule.record(microseconds(endNanoseconds - intended))
                continue
            }
            if arrived < intended { measurement.early += 1 }
            measurement.behindSchedule.record(microseconds(arrived - intended))
            measurement.acceptedToArrival.record(microseconds(arrived - acceptedAtNanoseconds))
        }
        return measurement
    }

    /// The earliest time of each of the first `accepted` messages of `sender` among `records`, by recipient.
    static func earliest(_ records: [EndpointArrival], of sender: SenderPlan, accepted: Int) -> [Int64?] {
        var first = [Int64?](repeating: nil, count: accepted)
        for record in records {
            guard let n = sender.index(ofRecipient: record.to), n < accepted else { continue }
            if let seen = first[n], seen <= record.timeNanoseconds { continue }
            first[n] = record.timeNanoseconds
        }
        return first
    }

    /// Nanoseconds to whole microseconds, clamped to `0...valueMicrosecondsMax`.
    static func microseconds(_ nanoseconds: Int64) -> UInt64 {
        guard nanoseconds > 0 else { return 0 }
        return min(UInt64(nanoseconds / unitNanoseconds), valueMicrosecondsMax)
    }
}

/// Both latency views of one sender (or, added together, of a whole run).
public struct LatencyMeasurement: Sendable {
    /// Arrival minus the message's slot on the tier's ideal schedule, in microseconds (0 when early).
    public var behindSchedule: Histogram<UInt64>
    /// Arrival minus the campaign's acceptance, in microseconds.
    public var acceptedToArrival: Histogram<UInt64>
    /// Accepted messages that never arrived (recorded in `behindSchedule` as late until the run's end).
    public var unsent = 0
    /// Messages that arrived before their slot (the dispatcher may start before the 202 reaches the harness).
    public var early = 0
    /// Accepted → the acknowledged `delivered` webhook, in microseconds; nil without webhooks.
    public var acceptedToDelivered: Histogram<UInt64>?
    /// Accepted messages with no acknowledged `delivered` webhook (0 without webhooks).
    public var undelivered = 0

    /// Creates a measurement from two histograms.
    public init(behindSchedule: Histogram<UInt64>, acceptedToArrival: Histogram<UInt64>) {
        self.behindSchedule = behindSchedule
        self.acceptedToArrival = acceptedToArrival
    }

    /// Adds another sender's measurement.
    public mutating func add(_ other: LatencyMeasurement) {
        behindSchedule.add(other.behindSchedule)
        acceptedToArrival.add(other.acceptedToArrival)
        unsent += other.unsent
        early += other.early
        if let theirs = other.acceptedToDelivered {
            if acceptedToDelivered == nil { acceptedToDelivered = theirs } else { acceptedToDelivered?.add(theirs) }
        }
        undelivered += other.undelivered
    }
}

/// Percentiles of a microsecond histogram, in milliseconds, plus the curve for a chart.
public struct LatencySummary: Sendable, Equatable, Codable {
    /// Percentiles the curve samples: denser towards the tail, as HdrHistogram plots do.
    public static let curvePercentiles: [Double] = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100]

    public var count: UInt64
    public var meanMilliseconds: Double
    public var p50Milliseconds: Double
    public var p90Milliseconds: Double
    public var p99Milliseconds: Double
    public var p999Milliseconds: Double
    public var maxMilliseconds: Double
    /// `curvePercentiles` with their values.
    public var curve: [PercentilePoint]

    /// Summarizes a histogram recorded in microseconds.
    public init(_ histogram: Histogram<UInt64>) {
        func ms(_ microseconds: UInt64) -> Double { Double(microseconds) / 1_000 }
        count = histogram.totalCount
        let empty = histogram.totalCount == 0
        meanMilliseconds = empty ? 0 : histogram.mean / 1_000
        p50Milliseconds = ms(histogram.valueAtPercentile(50))
        p90Milliseconds = ms(histogram.valueAtPercentile(90))
        p99Milliseconds = ms(histogram.valueAtPercentile(99))
        p999Milliseconds = ms(histogram.valueAtPercentile(99.9))
        maxMilliseconds = empty ? 0 : ms(histogram.max)
        // The 100th percentile is the max, so the curve ends where the table does.
        curve = empty ? [] : Self.curvePercentiles.map {
            PercentilePoint(percentile: $0, milliseconds: $0 >= 100 ? ms(histogram.max) : ms(histogram.valueAtPercentile($0)))
        }
    }

    enum CodingKeys: String, CodingKey {
        case count
        case meanMilliseconds = "mean_ms"
        case p50Milliseconds = "p50_ms"
        case p90Milliseconds = "p90_ms"
        case p99Milliseconds = "p99_ms"
        case p999Milliseconds = "p99_9_ms"
        case maxMilliseconds = "max_ms"
        case curve
    }
}

/// One point of a percentile curve.
public struct PercentilePoint: Sendable, Equatable, Codable {
    public var percentile: Double
    public var milliseconds: Double

    enum CodingKeys: String, CodingKey {
        case percentile
        case milliseconds = "ms"
    }
}
