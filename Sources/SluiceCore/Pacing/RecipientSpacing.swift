import DequeModule

/// WhatsApp's pair limit, kept ahead of time: messages from one sender to the same
/// recipient go at least `spacing` apart. Remembers only the sends of the last `spacing`
/// (at most tier × spacing entries), oldest first, so memory stays bounded.
///
/// ```swift
/// var spacing = RecipientSpacing(spacingMilliseconds: 6_000)
/// spacing.admit("4915112345678", nowMilliseconds: t)          // nil: send now
/// spacing.admit("4915112345678", nowMilliseconds: t + 1_000)  // t + 6_000: wait until then
/// ```
public struct RecipientSpacing: Sendable {
    public let spacingMilliseconds: Int64
    private var last: [String: (at: Int64, message: UInt64)] = [:]
    private var order: Deque<(recipient: String, at: Int64)> = []

    public init(spacingMilliseconds: Int64) {
        precondition(spacingMilliseconds >= 0, "spacing must be ≥ 0")
        self.spacingMilliseconds = spacingMilliseconds
    }

    /// nil and the send is recorded when `recipient` may be sent to now; otherwise the
    /// earliest time it may (and nothing is recorded). A resend of the same message
    /// (after a throttle, a 5xx or a timeout) is not held back by its own earlier attempt.
    public mutating func admit(_ recipient: String, message: UInt64 = 0, nowMilliseconds now: Int64) -> Int64? {
        guard spacingMilliseconds > 0 else { return nil }
        forget(before: now - spacingMilliseconds)
        if let previous = last[recipient], previous.message != message || message == 0, now - previous.at < spacingMilliseconds {
            return previous.at + spacingMilliseconds
        }
        last[recipient] = (now, message)
        order.append((recipient, now))
        return nil
    }

    /// Recipients remembered (sent to within the spacing).
    public var count: Int { last.count }

    private mutating func forget(before cutoff: Int64) {
        while let first = order.first, first.at <= cutoff {
            order.removeFirst()
            if last[first.recipient]?.at == first.at { last.removeValue(forKey: first.recipient) }
        }
    }
}
