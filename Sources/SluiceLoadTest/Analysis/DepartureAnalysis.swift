import Foundation
import SluiceCore

/// The dispatcher's departure record and the mock's refusal record of one run, when the
/// harness started both: what lets a 130429 be told apart from a pacing fault.
///
/// An endpoint counts arrivals; the dispatcher controls departures. A request held
/// between our write and the endpoint's stamp (the kernel, the mock's event loop on a
/// busy machine, the network) arrives late and shares an arrival window with requests
/// that left a full second after it: the endpoint then counts tier + 1 although no second
/// of departures held more than the tier.
public struct DepartureInput: Sendable, Equatable {
    /// Departure instants (wall-clock ns, the clock the mock stamps with) by message id,
    /// oldest first; a message sent again has one per send.
    public var departures: [String: [Int64]]
    /// The record wrapped and holds departures only from this instant; nil: the whole run.
    public var coveredFromNanoseconds: Int64?
    /// Sends the mock refused over the tier, with the arrival stamp it judged them by.
    public var refusals: [EndpointArrival]

    /// Creates the input from departures by message id (each list sorted ascending).
    public init(departures: [String: [Int64]], coveredFromNanoseconds: Int64?, refusals: [EndpointArrival]) {
        self.departures = departures
        self.coveredFromNanoseconds = coveredFromNanoseconds
        self.refusals = refusals
    }

    /// Creates the input from `(wall ns, message id)` entries in any order.
    public init(entries: [(wallNanoseconds: Int64, id: UInt64)], coveredFromNanoseconds: Int64?, refusals: [EndpointArrival]) {
        var departures: [String: [Int64]] = [:]
        for entry in entries { departures[String(entry.id), default: []].append(entry.wallNanoseconds) }
        for key in departures.keys { departures[key]!.sort() }
        self.departures = departures
        self.coveredFromNanoseconds = coveredFromNanoseconds
        self.refusals = refusals
    }
}

/// One sender's requests as they left the dispatcher, lined up with the endpoint's record.
public struct SenderDepartures: Sendable, Equatable, Codable {
    /// Requests that left for this sender's messages, sends again included.
    public var departures: Int
    /// Most departures in any sliding second: the dispatcher's own bound, at most the tier.
    public var maxInOneSecond: Int
    /// Departure to arrival stamp, in ms: median, p99 and the longest.
    public var transitP50Milliseconds: Double
    public var transitP99Milliseconds: Double
    public var transitMaxMilliseconds: Double
    /// Over-tier 130429s whose request left with at most the tier in the second before it:
    /// the endpoint's count was pushed over by requests held in transit.
    public var refusedAfterTransitDelay: Int
    /// Over-tier 130429s whose request left with more than the tier in the second before it.
    public var refusedOverTierAtDeparture: Int
    /// Over-tier 130429s the records cannot place (no message id, or before the record's span).
    public var refusedUnplaced: Int
    /// The longest transit among the arrivals that filled a refused request's window
    /// although they had left before that window began; nil without such refusals.
    public var heldInTransitMaxMilliseconds: Double?

    enum CodingKeys: String, CodingKey {
        case departures
        case maxInOneSecond = "max_in_1s"
        case transitP50Milliseconds = "transit_p50_ms"
        case transitP99Milliseconds = "transit_p99_ms"
        case transitMaxMilliseconds = "transit_max_ms"
        case refusedAfterTransitDelay = "refused_after_transit_delay"
        case refusedOverTierAtDeparture = "refused_over_tier_at_departure"
        case refusedUnplaced = "refused_unplaced"
        case heldInTransitMaxMilliseconds = "held_in_transit_max_ms"
    }
}

/// Lines up one sender's departures with its arrivals and refusals. Pure.
///
/// ```swift
/// let d = DepartureAnalysis.analyze(tier: 80, arrivals: mine, input: input, phoneNumberID: "1065900000")
/// d.maxInOneSecond              // ≤ 80: the pacer held its bound where it controls it
/// d.refusedAfterTransitDelay    // 130429s that only the time after departure explains
/// ```
public enum DepartureAnalysis {
    /// An arrival is matched to the latest departure of its message at most this much
    /// after its stamp (the two stamps are read on one clock, on either side of a write).
    public static let stampSkewNanosecondsMax: Int64 = 50_000_000
    static let windowNanoseconds: Int64 = 1_000_000_000

    /// `arrivals` are this sender's (accepted sends); its refusals are taken from `input`.
    public static func analyze(tier: Int, arrivals: [EndpointArrival], input: DepartureInput, phoneNumberID: String) -> SenderDepartures {
        let refusals = input.refusals.filter { $0.phoneNumberID == phoneNumberID }
        var ids = Set(arrivals.compactMap(\.callback))
        for refusal in refusals { if let callback = refusal.callback { ids.insert(callback) } }
        var times: [Int64] = []
        for id in ids { times.append(contentsOf: input.departures[id] ?? []) }
        times.sort()

        var transit: [Int64] = []
        transit.reserveCapacity(arrivals.count)
        for arrival in arrivals {
            if let left = departure(of: arrival, in: input) { transit.append(arrival.timeNanoseconds - left) }
        }
        transit.sort()

        let sorted = arrivals.sorted { $0.timeNanoseconds < $1.timeNanoseconds }
        let arrivalTimes = sorted.map(\.timeNanoseconds)
        var afterTransit = 0
        var overTier = 0
        var unplaced = 0
        var heldMax: Int64?
        for refusal in refusals {
            guard let left = departure(of: refusal, in: input),
                input.coveredFromNanoseconds.map({ left - windowNanoseconds >= $0 }) ?? true
            else {
                unplaced += 1
                continue
            }
            // The sender's departures in (left - 1 s, left], this one included.
            let sent = upperBound(times, left) - upperBound(times, left - windowNanoseconds)
            if sent > tier {
                overTier += 1
                continue
            }
            afterTransit += 1
            // What the endpoint counted in its window (t - 1 s, t] that had left before it.
            let windowStart = refusal.timeNanoseconds - windowNanoseconds
            for i in upperBound(arrivalTimes, windowStart)..<upperBound(arrivalTimes, refusal.timeNanoseconds) {
                let arrival = sorted[i]
                if let sentAt = departure(of: arrival, in: input), sentAt <= windowStart {
                    heldMax = max(heldMax ?? 0, arrival.timeNanoseconds - sentAt)
                }
            }
        }
        func milliseconds(_ ns: Int64) -> Double { Double(ns) / 1e6 }
        func percentile(_ p: Double) -> Double {
            transit.isEmpty ? 0 : milliseconds(transit[min(transit.count - 1, Int(p * Double(transit.count - 1)))])
        }
        return SenderDepartures(
            departures: times.count, maxInOneSecond: ArrivalWindow.maxCount(sortedTimes: times),
            transitP50Milliseconds: percentile(0.5), transitP99Milliseconds: percentile(0.99),
            transitMaxMilliseconds: transit.last.map(milliseconds) ?? 0,
            refusedAfterTransitDelay: afterTransit, refusedOverTierAtDeparture: overTier, refusedUnplaced: unplaced,
            heldInTransitMaxMilliseconds: heldMax.map(milliseconds))
    }

    /// The departure that carried the request stamped at the endpoint (a message sent again
    /// leaves again): the latest at most ``stampSkewNanosecondsMax`` after the stamp.
    static func departure(of arrival: EndpointArrival, in input: DepartureInput) -> Int64? {
        guard let callback = arrival.callback, let times = input.departures[callback] else { return nil }
        let index = upperBound(times, arrival.timeNanoseconds + stampSkewNanosecondsMax)
        return index > 0 ? times[index - 1] : nil
    }

    /// The first index whose element is greater than `value` (`sorted` ascending).
    static func upperBound(_ sorted: [Int64], _ value: Int64) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] <= value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
