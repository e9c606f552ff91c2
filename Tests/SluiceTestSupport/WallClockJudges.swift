import Foundation
import Testing

/// The tests that judge pacing or latency against the wall clock: the load-test suite and
/// the end-to-end pacing test. They need the real speed of the build and a machine not
/// busy with other tests, so `SLUICE_WALL_CLOCK_JUDGES=off` leaves them out: `scripts/test`
/// runs the rest in parallel that way and then these alone (it names them: keep its list
/// in step with the tests that use this), and sanitized builds (several times slower)
/// leave them out. Pacing itself is judged exactly, on a manual clock, in
/// `DispatchCoreTests`.
public enum WallClockJudges {
    public static var enabled: Bool { ProcessInfo.processInfo.environment["SLUICE_WALL_CLOCK_JUDGES"] != "off" }
    public static let reason: Comment = "judges pacing against the wall clock: run alone by scripts/test, not in sanitized builds"
}
