/// A point on a monotonic clock, in nanoseconds from an arbitrary origin. The pure core
/// never reads a clock: every decision takes `now` as a parameter.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)
    /// Later than any real instant: "not by time alone".
    public static let never = Instant(nanoseconds: .max)
    public static func seconds(_ s: Double) -> Instant { Instant(nanoseconds: Int64(s * 1e9)) }
    public static func milliseconds(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Self, nanoseconds: Int64) -> Self { Instant(nanoseconds: a.nanoseconds &+ nanoseconds) }
    public static func - (a: Self, b: Self) -> Int64 { a.nanoseconds &- b.nanoseconds }
    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

/// Where the engine reads time. Monotonic time drives pacing; wall time (milliseconds
/// since 1970) is what the journal stores, so that retry times survive a restart.
public protocol Clock: Sendable {
    func now() -> Instant
    func wallMilliseconds() -> Int64
}
