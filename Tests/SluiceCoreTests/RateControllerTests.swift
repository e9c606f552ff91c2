import Testing
@testable import SluiceCore

@Suite("RateController")
struct RateControllerTests {
    let second = nanosecondsPerSecond

    /// Refusals, each also an answer, until the rate falls (a storm): at most a window's
    /// worth at the tier.
    func storm(_ control: inout RateController, at now: Instant) {
        var fell = false
        for _ in 0..<Int(control.tierMessagesPerSecond) + 4 where !fell {
            control.answered(count: 1, now: now)
            fell = control.throttled(now: now)
        }
        #expect(fell, "a storm lowered the rate")
    }

    @Test("with no other answers, the third refusal halves a slow sender's rate; decreases come at most once a second")
    func decrease() {
        var control = RateController(tierMessagesPerSecond: 20, now: .zero)
        #expect(control.effectiveMessagesPerSecond == 20)
        var fell: [Bool] = []
        for ms in [0, 100, 200, 500, 900, 1_100, 1_250] {
            fell.append(control.throttled(now: Instant(nanoseconds: Int64(ms) * 1_000_000)))
        }
        // 0 and 100 ms: not yet; 200: the third, halves; 500 and 900: two more, and at
        // 1 100 the third again, but within a second of the decrease; 1 250: counts.
        #expect(fell == [false, false, true, false, false, false, true])
        #expect(control.effectiveMessagesPerSecond == 5)
    }

    @Test("runs of refusals among many answers, as jitter causes, cost no rate; a storm halves at once")
    func refusalShare() {
        var control = RateController(tierMessagesPerSecond: 250, now: .zero)
        for k in 0..<20 {
            // 250 answers a second, and every 1.1 s three refusals in a row (1.2 %).
            let base = Int64(k) * 1_100_000_000
            control.answered(count: 250, now: Instant(nanoseconds: base))
            for j in 0..<3 {
                control.answered(count: 1, now: Instant(nanoseconds: base + Int64(j) * 4_000_000))
                let fell = control.throttled(now: Instant(nanoseconds: base + Int64(j) * 4_000_000))
                #expect(!fell)
            }
        }
        #expect(control.effectiveMessagesPerSecond == 250)
        // A storm: every answer a refusal. Refusals reach 5 % of the two windows' answers
        // (up to 500 before the storm) within about 100 ms at 250 msg/s.
        let start = Int64(22_000_000_000)
        control.answered(count: 250, now: Instant(nanoseconds: start - 500_000_000))
        var refusedBeforeDecrease = 0
        for j in 0..<100 {
            let now = Instant(nanoseconds: start + Int64(j) * 4_000_000)
            control.answered(count: 1, now: now)
            refusedBeforeDecrease += 1
            if control.throttled(now: now) { break }
        }
        #expect(control.effectiveMessagesPerSecond == 125)
        #expect(refusedBeforeDecrease <= 30, "\(refusedBeforeDecrease) refusals before the storm lowered the rate")
        // A slow tier's window is the time 4 messages take: at 1 msg/s, 3 in 4 s halve.
        var slow = RateController(tierMessagesPerSecond: 1, now: .zero)
        let a = slow.throttled(now: .zero)
        let b = slow.throttled(now: Instant(nanoseconds: 1_500_000_000))
        let c = slow.throttled(now: Instant(nanoseconds: 3_000_000_000))
        #expect(!a && !b && c)
    }

    @Test("the floor is max(1, 5 % of tier)", arguments: [(80.0, 4.0), (1000.0, 50.0), (10.0, 1.0), (0.5, 0.5)])
    func floor(tier: Double, expected: Double) {
        var control = RateController(tierMessagesPerSecond: tier, now: .zero)
        for k in 0..<40 {
            storm(&control, at: Instant(nanoseconds: Int64(k) * 5 * second))
        }
        #expect(control.effectiveMessagesPerSecond == expected)
        #expect(control.floorMessagesPerSecond == expected)
    }

    @Test("recovery climbs back to the tier without throttles, +5 % of tier per second")
    func recovery() {
        var control = RateController(tierMessagesPerSecond: 1000, now: .zero)
        storm(&control, at: .zero)
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
        storm(&control, at: .zero)
        _ = control.advance(now: Instant(nanoseconds: 3 * second))
        #expect(control.effectiveMessagesPerSecond == 65)
        storm(&control, at: Instant(nanoseconds: 3 * second + 1))
        #expect(control.effectiveMessagesPerSecond == 32.5)
        let changed = control.advance(now: Instant(nanoseconds: 4 * second))
        #expect(!changed)
    }

    @Test("a tier change applies at once and keeps a reduction's proportion")
    func setTier() {
        var control = RateController(tierMessagesPerSecond: 80, now: .zero)
        control.setTier(1000, now: .zero)
        #expect(control.effectiveMessagesPerSecond == 1000)
        storm(&control, at: .zero)
        control.setTier(80, now: .zero)
        #expect(control.tierMessagesPerSecond == 80)
        #expect(control.effectiveMessagesPerSecond == 40)
    }
}
