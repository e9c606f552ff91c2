import Testing
@testable import SluiceCore

@Suite("RateController")
struct RateControllerTests {
    let second = nanosecondsPerSecond

    @Test("a throttle after another halves the rate; throttles within a second count once")
    func decrease() {
        var control = RateController(tierMessagesPerSecond: 80, now: .zero)
        #expect(control.effectiveMessagesPerSecond == 80)
        let fell1 = control.throttled(now: .zero)
        #expect(!fell1)
        #expect(control.effectiveMessagesPerSecond == 80, "the first throttle is isolated")
        let fell2 = control.throttled(now: Instant(nanoseconds: second / 10))
        #expect(fell2)
        #expect(control.effectiveMessagesPerSecond == 40)
        let fell3 = control.throttled(now: Instant(nanoseconds: second / 2))
        #expect(!fell3)
        #expect(control.effectiveMessagesPerSecond == 40)
        let fell4 = control.throttled(now: Instant(nanoseconds: second + second / 10))
        #expect(fell4)
        #expect(control.effectiveMessagesPerSecond == 20)
    }

    @Test("isolated throttles, each more than 10 s after the last, cost no rate")
    func isolated() {
        var control = RateController(tierMessagesPerSecond: 250, now: .zero)
        for k in 0..<6 {
            let fell = control.throttled(now: Instant(nanoseconds: Int64(k) * (RateController.isolatedThrottleNanoseconds + 1)))
            #expect(!fell)
        }
        #expect(control.effectiveMessagesPerSecond == 250)
        // One within the window of the last halves.
        let at = Instant(nanoseconds: 5 * (RateController.isolatedThrottleNanoseconds + 1) + RateController.isolatedThrottleNanoseconds - 1)
        let fell5 = control.throttled(now: at)
        #expect(fell5)
        #expect(control.effectiveMessagesPerSecond == 125)
    }

    @Test("the floor is max(1, 5 % of tier)", arguments: [(80.0, 4.0), (1000.0, 50.0), (10.0, 1.0), (0.5, 0.5)])
    func floor(tier: Double, expected: Double) {
        var control = RateController(tierMessagesPerSecond: tier, now: .zero)
        for k in 0..<40 { control.throttled(now: Instant(nanoseconds: Int64(k) * 2 * second)) }
        #expect(control.effectiveMessagesPerSecond == expected)
        #expect(control.floorMessagesPerSecond == expected)
    }

    @Test("recovery climbs back to the tier without throttles, +5 % of tier per second")
    func recovery() {
        var control = RateController(tierMessagesPerSecond: 1000, now: .zero)
        control.throttled(now: .zero)
        control.throttled(now: .zero)
        #expect(control.effectiveMessagesPerSecond == 500)
        // Within the first second: no change.
        var now = Instant(nanoseconds: second - 1)
        let early = control.advance(now: now)
        #expect(!early && control.effectiveMessagesPerSecond == 500)
        var changes = 0
        var previous = control.effectiveMessagesPerSecond
        // Call it every 10 ms, as a loop would.
        while now < Instant(nanoseconds: 20 * second) {
            now = now + 10_000_000
            if control.advance(now: now) {
                changes += 1
                #expect(control.effectiveMessagesPerSecond > previous)
            } else {
                #expect(control.effectiveMessagesPerSecond == previous)
            }
            previous = control.effectiveMessagesPerSecond
            #expect(previous <= 1000)
            // Never faster than 5 % of the tier per elapsed second.
            #expect(previous <= 500 + 50 * Double(now.nanoseconds / second))
        }
        #expect(control.effectiveMessagesPerSecond == 1000)
        // (1000 - 500) / 50 = 10 steps.
        #expect(changes == 10)
        let after = control.advance(now: now + second)
        #expect(!after)
    }

    @Test("a throttle during recovery restarts the wait")
    func throttleDuringRecovery() {
        var control = RateController(tierMessagesPerSecond: 100, now: .zero)
        control.throttled(now: .zero)
        control.throttled(now: .zero)
        _ = control.advance(now: Instant(nanoseconds: 3 * second))
        #expect(control.effectiveMessagesPerSecond == 65)
        control.throttled(now: Instant(nanoseconds: 3 * second + 1))
        #expect(control.effectiveMessagesPerSecond == 32.5)
        let changed = control.advance(now: Instant(nanoseconds: 4 * second))
        #expect(!changed)
    }

    @Test("a tier change applies at once and keeps a reduction's proportion")
    func setTier() {
        var control = RateController(tierMessagesPerSecond: 80, now: .zero)
        control.setTier(1000, now: .zero)
        #expect(control.effectiveMessagesPerSecond == 1000)
        control.throttled(now: .zero)
        control.throttled(now: .zero)
        control.setTier(80, now: .zero)
        #expect(control.tierMessagesPerSecond == 80)
        #expect(control.effectiveMessagesPerSecond == 40)
    }
}
