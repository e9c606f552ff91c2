import Foundation

/// How long the endpoint's status webhooks took to be acknowledged by the dispatcher, and,
/// for each resent message, whether its status was acknowledged before the resend (then
/// the resend is the dispatcher's fault: the status had settled it) or only after (the
/// webhook came after the in-doubt settle window: the window, not the dispatcher, decided).
public struct StatusLagReport: Sendable, Encodable, Equatable {
    /// Messages whose `delivered` status the dispatcher acknowledged.
    public var acknowledged = 0
    /// First arrival → first acknowledged `delivered`, over those messages.
    public var lagP50Milliseconds = 0.0
    public var lagP99Milliseconds = 0.0
    public var lagMaxMilliseconds = 0.0
    /// Duplicated messages whose status was acknowledged before their second arrival.
    public var duplicatesSettledBeforeResend = 0
    /// Duplicated messages whose status was acknowledged only after their second arrival,
    /// or never.
    public var duplicatesSettledAfterResend = 0

    enum CodingKeys: String, CodingKey {
        case acknowledged
        case lagP50Milliseconds = "lag_p50_ms"
        case lagP99Milliseconds = "lag_p99_ms"
        case lagMaxMilliseconds = "lag_max_ms"
        case duplicatesSettledBeforeResend = "duplicates_settled_before_resend"
        case duplicatesSettledAfterResend = "duplicates_settled_after_resend"
    }

    /// `arrivals`: the endpoint's record; `acknowledged`: its acknowledged `delivered`
    /// statuses, stamped with the acknowledgement (`GET /__mock/webhooks/delivered`).
    public init(arrivals: [EndpointArrival], acknowledged statuses: [EndpointArrival]) {
        var firstAck: [String: Int64] = [:]
        for s in statuses {
            let key = s.messageKey
            firstAck[key] = min(firstAck[key] ?? .max, s.timeNanoseconds)
        }
        var times: [String: [Int64]] = [:]
        for a in arrivals { times[a.messageKey, default: []].append(a.timeNanoseconds) }
        var lags: [Double] = []
        for (key, list) in times {
            let sorted = list.sorted()
            if let ack = firstAck[key] { lags.append(Double(ack - sorted[0]) / 1e6) }
            guard sorted.count > 1 else { continue }
            if let ack = firstAck[key], ack < sorted[1] {
                duplicatesSettledBeforeResend += 1
            } else {
                duplicatesSettledAfterResend += 1
            }
        }
        lags.sort()
        acknowledged = lags.count
        if !lags.isEmpty {
            lagP50Milliseconds = lags[(lags.count - 1) / 2]
            lagP99Milliseconds = lags[min(lags.count - 1, Int((Double(lags.count) * 0.99).rounded(.up)) - 1)]
            lagMaxMilliseconds = lags[lags.count - 1]
        }
    }
}
