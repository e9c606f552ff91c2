import Foundation
import SluiceCore

/// Judges one sender's pacing from the endpoint's record, as WhatsApp would: the most
/// arrivals in any sliding second against the tier, the mean rate against the tier, and
/// whether every accepted message arrived exactly once.
///
/// ```swift
/// let result = PacingAnalysis.analyze(sender: plan, accepted: 1600, acceptedAtNanoseconds: t0, arrivals: mine)
/// result.passed   // false when a window held more than the tier (or the mock answered a
///                 // 130429 that the departure record does not place in transit), the mean
///                 // fell under 97 %, or a message was lost
/// ```
public enum PacingAnalysis {
    /// A sender whose mean rate is below this fraction of its tier fails.
    public static let meanFractionOfTierMin = 0.97
    /// Longest per-second series kept for a chart, in seconds.
    public static let perSecondBucketsMax = 3_600

    /// Analyzes `arrivals` (this sender's, any order) for a campaign of `accepted`
    /// messages accepted at `acceptedAtNanoseconds`. Without `judgeMean` (ceiling runs, which
    /// offer more than the dispatcher sends) a low mean is reported but is no violation.
    /// `inbound`: when the mock posted incoming messages to this number (sorted; nil: the
    /// run had none). WhatsApp counts them toward the tier, so sends and incoming messages
    /// together are judged against it, and the mean against what the dispatcher's inbound
    /// reserve leaves (`InboundReserve.reserve(peak:)` of the most incoming in a second).
    public static func analyze(
        sender: SenderPlan, accepted: Int, acceptedAtNanoseconds: Int64, arrivals: [EndpointArrival], throttled130429: Int = 0,
        departures: SenderDepartures? = nil, judgeMean: Bool = true, inbound: [Int64]? = nil
    ) -> SenderPacing {
        let times = arrivals.map(\.timeNanoseconds).sorted()
        let distinct = Set(arrivals.map(\.messageKey)).count
        let peak = ArrivalWindow.maxCount(sortedTimes: times)
        let mean = ArrivalWindow.meanRate(sortedTimes: times)
        let tier = Double(sender.tier)

        var violations: [String] = []
        if peak > sender.tier {
            violations.append("\(peak) arrivals in one sliding second, over the tier of \(sender.tier)")
        }
        var share: InboundShare?
        var meanTarget = tier
        if let inbound, let first = times.first, let last = times.last {
            let during = inbound.filter { $0 >= first && $0 <= last }
            let inboundPeak = ArrivalWindow.maxCount(sortedTimes: during)
            let both = ArrivalWindow.maxCount(sortedTimes: (times + during).sorted())
            let left = max(1, tier - InboundReserve.reserve(peak: inboundPeak))
            let over = sendsOverTier(sends: times, inbound: during, tier: sender.tier)
            share = InboundShare(
                incoming: during.count, maxInOneSecond: inboundPeak, maxInOneSecondWithSends: both, sendsOverTier: over, leftMessagesPerSecond: left)
            meanTarget = left
            // An incoming message may land in a full second (nobody can refuse a customer);
            // a send may not.
            if over > 0 && peak <= sender.tier {
                violations.append("\(over) send(s) arrived in a sliding second that sends and incoming messages had already filled to the tier of \(sender.tier)")
            }
        }
        // A mock that enforces tiers rejects the excess, so the record never shows it: its
        // 130429 count is the over-tier signal then, unless the departure record shows the
        // request left within the tier and only its time in transit put it over.
        let afterTransit = min(throttled130429, departures?.refusedAfterTransitDelay ?? 0)
        if throttled130429 > afterTransit {
            violations.append("\(throttled130429 - afterTransit) × error 130429: the endpoint saw more than the tier in a sliding second and rejected the excess")
        }
        if let departures {
            if departures.maxInOneSecond > sender.tier {
                violations.append("\(departures.maxInOneSecond) requests left the dispatcher in one sliding second, over the tier of \(sender.tier)")
            }
            let allowed = transitRefusalsAllowed(accepted: accepted)
            if afterTransit > allowed {
                violations.append(
                    "\(afterTransit) × error 130429 after requests were held in transit (up to \(format1(departures.heldInTransitMaxMilliseconds ?? 0)) ms), more than the \(allowed) the pacing margin's share of \(accepted) messages allows")
            }
        }
        // A mean needs two arrivals; a one-message campaign cannot be judged on rate.
        if judgeMean && accepted >= 2 {
            let fraction = (mean ?? 0) / meanTarget
            if fraction < meanFractionOfTierMin {
                let of = share == nil ? "the tier" : "what incoming messages leave of the tier (\(format1(meanTarget)) msg/s)"
                violations.append(
                    "mean \(format1(mean ?? 0)) msg/s is \(format1(100 * fraction)) % of \(of), under \(format1(100 * meanFractionOfTierMin)) %")
            }
        }
        let lost = max(0, accepted - distinct)
        if lost > 0 { violations.append("\(lost) of \(accepted) accepted messages never arrived") }

        return SenderPacing(
            phoneNumberID: sender.phoneNumberID, tier: sender.tier, accepted: accepted,
            arrivals: arrivals.count, distinctMessages: distinct, duplicates: arrivals.count - distinct, lost: lost,
            maxInOneSecond: peak, meanRate: mean ?? 0, meanFractionOfTier: (mean ?? 0) / tier,
            throttled130429: throttled130429, departures: departures, inbound: share,
            arrivalsPerSecond: perSecond(sortedTimes: times, originNanoseconds: min(acceptedAtNanoseconds, times.first ?? acceptedAtNanoseconds)),
            violations: violations)
    }

    /// Sends that arrived when the second up to and including them held more than `tier`
    /// sends and incoming messages (all sorted): what WhatsApp refuses with 130429.
    static func sendsOverTier(sends: [Int64], inbound: [Int64], tier: Int) -> Int {
        // Merged, incoming first at equal instants.
        var events: [(t: Int64, send: Bool)] = []
        events.reserveCapacity(sends.count + inbound.count)
        var i = 0, j = 0
        while i < sends.count || j < inbound.count {
            if j < inbound.count && (i == sends.count || inbound[j] <= sends[i]) {
                events.append((inbound[j], false)); j += 1
            } else {
                events.append((sends[i], true)); i += 1
            }
        }
        var over = 0
        var start = 0
        for end in events.indices {
            while events[end].t - events[start].t >= 1_000_000_000 { start += 1 }
            if events[end].send && end - start + 1 > tier { over += 1 }
        }
        return over
    }

    /// Over-tier refusals from time in transit that a run may show: the pacing margin's
    /// share of the messages. Each costs one send slot again; past this share a wider
    /// margin would cost less than the repeats, and the delay is worth a look.
    public static func transitRefusalsAllowed(accepted: Int) -> Int {
        Int((Double(accepted) * Pacer.defaultSafetyMargin).rounded(.up))
    }

    /// Arrivals in consecutive whole seconds `[origin + k s, origin + (k+1) s)`; arrivals
    /// before the origin count in second 0. The analysis starts the series at the campaign's
    /// acceptance or its first arrival, whichever is earlier (sending may start before the
    /// 202 reaches the harness), so no bucket spans more than a second.
    public static func perSecond(sortedTimes times: [Int64], originNanoseconds origin: Int64) -> [Int] {
        guard let last = times.last else { return [] }
        let buckets = min(perSecondBucketsMax, Int(max(0, last - origin) / 1_000_000_000) + 1)
        var counts = [Int](repeating: 0, count: buckets)
        for t in times {
            let k = Int(max(0, t - origin) / 1_000_000_000)
            if k < buckets { counts[k] += 1 }
        }
        return counts
    }
}

/// One sender's pacing as the endpoint saw it.
public struct SenderPacing: Sendable, Equatable, Codable {
    public var phoneNumberID: String
    /// Messages per second.
    public var tier: Int
    /// Messages the dispatcher accepted for this sender's campaign.
    public var accepted: Int
    /// Sends that reached the endpoint, duplicates included.
    public var arrivals: Int
    /// Different messages among them.
    public var distinctMessages: Int
    /// Arrivals of a message already seen (same callback data).
    public var duplicates: Int
    /// Accepted messages that never arrived.
    public var lost: Int
    /// Most arrivals in any sliding 1-s window.
    public var maxInOneSecond: Int
    /// Arrivals per second between the first and the last arrival.
    public var meanRate: Double
    /// `meanRate / tier`.
    public var meanFractionOfTier: Double
    /// Error 130429 answers the endpoint gave this sender (0 when the mock does not report them).
    public var throttled130429: Int
    /// The dispatcher's departures lined up with the endpoint's record; nil when the harness
    /// did not start both (or an older report).
    public var departures: SenderDepartures?
    /// Incoming messages to the number during the campaign; nil when the run had none.
    public var inbound: InboundShare?
    /// Arrivals in each second from the campaign's acceptance (or its first arrival, if earlier), for the chart.
    public var arrivalsPerSecond: [Int]
    /// Why this sender failed; empty when it passed.
    public var violations: [String]

    /// No window over the tier, no 130429, the mean at least 97 % of it, nothing lost.
    public var passed: Bool { violations.isEmpty }

    enum CodingKeys: String, CodingKey {
        case phoneNumberID = "phone_number_id"
        case tier = "tier_mps"
        case accepted, arrivals
        case distinctMessages = "distinct_messages"
        case duplicates, lost
        case maxInOneSecond = "max_in_1s"
        case meanRate = "mean_mps"
        case meanFractionOfTier = "mean_of_tier"
        case throttled130429 = "errors_130429"
        case departures, inbound
        case arrivalsPerSecond = "arrivals_per_second"
        case violations
    }
}

/// A number's incoming messages during its campaign: WhatsApp counts them toward the tier.
public struct InboundShare: Sendable, Equatable, Codable {
    /// Incoming messages the mock posted between the campaign's first and last arrival.
    public var incoming: Int
    /// Most of them in one sliding second.
    public var maxInOneSecond: Int
    /// Most sends and incoming messages together in one sliding second.
    public var maxInOneSecondWithSends: Int
    /// Sends that arrived when that second was already full: what WhatsApp refuses.
    public var sendsOverTier: Int
    /// The tier less the dispatcher's inbound reserve for that peak: the mean is judged against it.
    public var leftMessagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case incoming
        case maxInOneSecond = "max_in_1s"
        case maxInOneSecondWithSends = "max_in_1s_with_sends"
        case sendsOverTier = "sends_over_tier"
        case leftMessagesPerSecond = "left_mps"
    }
}
