import SluiceCore
import SluiceEngine

/// The system clock with wall time moved forward on demand: a test of a deadline, an
/// expiry or a retention period jumps over it instead of sleeping through it, so a slow
/// or busy machine cannot make "not yet" come true by itself.
public final class ShiftedClock: Clock, Sendable {
    let base = SystemClock()
    let shift = Locked<Int64>(0)

    public init() {}

    public func now() -> Instant { base.now() }
    public func wallMilliseconds() -> Int64 { base.wallMilliseconds() + shift.withLock { $0 } }

    /// Moves wall time `milliseconds` ahead.
    public func advance(milliseconds: Int64) { shift.withLock { $0 += milliseconds } }

    /// Sets how far wall time is ahead of the system's.
    public func setShift(milliseconds: Int64) { shift.withLock { $0 = milliseconds } }
}
