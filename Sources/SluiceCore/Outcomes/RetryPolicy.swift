/// Backoff for retried sends: exponential with full jitter, bounded attempts.
///
/// The delay before retry `n` (`n` = attempts so far, ≥ 1) is uniform in
/// `[0, min(delayMillisecondsMax, delayMillisecondsBase · 2^(n-1))]` ("full jitter":
/// retries of a failed batch spread over the whole envelope instead of coming back
/// together). A pair-limit error (131056) waits `4^n` seconds instead, capped at
/// `delayMillisecondsMax`.
///
/// ```swift
/// var rng = SystemRandomNumberGenerator()
/// let wait = RetryPolicy().delayMilliseconds(attempt: 3, using: &rng)   // 0...4000
/// ```
public struct RetryPolicy: Sendable, Equatable {
    /// Sends that may use an attempt; the last transient failure fails the message.
    public var attemptsMax: Int
    /// Envelope of the first retry.
    public var delayMillisecondsBase: Int64
    /// Bound on every delay, pair limit included.
    public var delayMillisecondsMax: Int64
    /// Base of the pair-limit backoff, `pairLimitDelayMillisecondsBase · 4^(n-1)` = 4^n s.
    public var pairLimitDelayMillisecondsBase: Int64

    /// Bound on `attemptsMax` (attempts are stored as `UInt16`).
    public static let attemptsMaxLimit: Int = 100

    public init(
        attemptsMax: Int = 6, delayMillisecondsBase: Int64 = 1_000, delayMillisecondsMax: Int64 = 300_000,
        pairLimitDelayMillisecondsBase: Int64 = 4_000
    ) {
        precondition(attemptsMax >= 1 && attemptsMax <= Self.attemptsMaxLimit, "attemptsMax out of range")
        precondition(delayMillisecondsBase >= 1 && delayMillisecondsBase <= delayMillisecondsMax, "delay base out of range")
        precondition(pairLimitDelayMillisecondsBase >= 1, "pair-limit base out of range")
        self.attemptsMax = attemptsMax
        self.delayMillisecondsBase = delayMillisecondsBase
        self.delayMillisecondsMax = delayMillisecondsMax
        self.pairLimitDelayMillisecondsBase = pairLimitDelayMillisecondsBase
    }

    /// The jitter envelope of retry `attempt`: `min(max, base · 2^(attempt-1))`.
    public func envelopeMilliseconds(attempt: Int) -> Int64 {
        precondition(attempt >= 1, "attempt counts from 1")
        return Self.grow(delayMillisecondsBase, factor: 2, times: attempt - 1, cap: delayMillisecondsMax)
    }

    /// A random delay in `[0, envelopeMilliseconds(attempt:)]`.
    public func delayMilliseconds(attempt: Int, using rng: inout some RandomNumberGenerator) -> Int64 {
        let envelope = envelopeMilliseconds(attempt: attempt)
        let delay = Int64.random(in: 0...envelope, using: &rng)
        assert(delay >= 0 && delay <= delayMillisecondsMax)
        return delay
    }

    /// The pair-limit delay after `attempt` attempts: 4^attempt seconds, capped.
    public func pairLimitDelayMilliseconds(attempt: Int) -> Int64 {
        precondition(attempt >= 1, "attempt counts from 1")
        return Self.grow(pairLimitDelayMillisecondsBase, factor: 4, times: attempt - 1, cap: delayMillisecondsMax)
    }

    /// `min(cap, base · factor^times)` without overflow; a loop bounded by `times`.
    static func grow(_ base: Int64, factor: Int64, times: Int, cap: Int64) -> Int64 {
        var value = min(base, cap)
        var remaining = times
        while remaining > 0 && value < cap {
            value = value > cap / factor ? cap : min(cap, value * factor)
            remaining -= 1
        }
        return value
    }
}
