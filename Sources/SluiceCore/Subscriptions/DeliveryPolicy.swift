/// When a subscriber delivery that got no 2xx is tried again, and when it is given up.
///
/// Retry `n` (`n` failed attempts so far, ≥ 1) waits a random time in `[e/2, e]` with
/// `e = min(delayMillisecondsMax, delayMillisecondsBase · 2^(n-1))`: exponential, jittered
/// so that a subscriber coming back is not hit by every entry at once, and never zero.
/// An entry older than `retryPeriodMilliseconds`, or after `attemptsMax` failures, is dead.
///
/// ```swift
/// var rng = SystemRandomNumberGenerator()
/// let next = DeliveryPolicy().afterFailure(attempts: 3, eventMilliseconds: t0, nowMilliseconds: now, using: &rng)
/// ```
public struct DeliveryPolicy: Sendable, Equatable {
    public var delayMillisecondsBase: Int64
    public var delayMillisecondsMax: Int64
    /// How long an event is retried, from the status change (24 h).
    public var retryPeriodMilliseconds: Int64
    public var attemptsMax: UInt32

    public init(
        delayMillisecondsBase: Int64 = 1_000, delayMillisecondsMax: Int64 = 3_600_000,
        retryPeriodMilliseconds: Int64 = 24 * 3_600_000, attemptsMax: UInt32 = 100
    ) {
        precondition(delayMillisecondsBase >= 1 && delayMillisecondsBase <= delayMillisecondsMax, "delay base out of range")
        precondition(retryPeriodMilliseconds >= 0 && attemptsMax >= 1, "retry bounds out of range")
        self.delayMillisecondsBase = delayMillisecondsBase
        self.delayMillisecondsMax = delayMillisecondsMax
        self.retryPeriodMilliseconds = retryPeriodMilliseconds
        self.attemptsMax = attemptsMax
    }

    public enum Next: Sendable, Equatable {
        case retry(atMilliseconds: Int64)
        case dead
    }

    /// The envelope of retry `attempts`: `min(max, base · 2^(attempts-1))`.
    public func envelopeMilliseconds(attempts: UInt32) -> Int64 {
        precondition(attempts >= 1, "attempts count from 1")
        return RetryPolicy.grow(delayMillisecondsBase, factor: 2, times: Int(min(attempts, 64)) - 1, cap: delayMillisecondsMax)
    }

    /// After the `attempts`-th failure of an event journaled at `eventMilliseconds`.
    public func afterFailure(attempts: UInt32, eventMilliseconds: Int64, nowMilliseconds: Int64, using rng: inout some RandomNumberGenerator) -> Next {
        if attempts >= attemptsMax { return .dead }
        let envelope = envelopeMilliseconds(attempts: attempts)
        let at = nowMilliseconds + Int64.random(in: (envelope + 1) / 2...envelope, using: &rng)
        // The last retry falls at the end of the period at the latest, never after it.
        if nowMilliseconds - eventMilliseconds >= retryPeriodMilliseconds { return .dead }
        return .retry(atMilliseconds: min(at, eventMilliseconds + retryPeriodMilliseconds))
    }
}
