import Testing
@testable import SluiceCore

/// Drives a pacer like the dispatcher loop does: admit all that may go, sleep until the
/// next eligible instant, wake late (or early) by the wake model. Returns the admission
/// instants (sorted, one per message).
func simulate(
    _ pacer: inout Pacer, from start: Int64, until end: Int64, wakes: inout WakeModel,
    onWake: (inout Pacer, Int64) -> Void = { _, _ in }
) -> [Int64] {
    var admissions: [Int64] = []
    var now = start
    while now < end {
        onWake(&pacer, now)
        let admitted = pacer.admit(upTo: Int.max, now: Instant(nanoseconds: now))
        for _ in 0..<admitted { admissions.append(now) }
        let eligible = pacer.nextEligible(now: Instant(nanoseconds: now)).nanoseconds
        #expect(eligible >= now)
        if admitted > 0 || eligible <= now {
            // Right after admitting, nothing more may go at the same instant.
            #expect(eligible > now || admitted == 0)
        }
        now = wakes.nextWake(now: now, eligible: eligible)
    }
    return admissions
}

/// Most messages any pacer may send in `seconds` without a window over the tier.
func ideal(tier: Double, seconds: Int64) -> Double {
    // A fractional tier allows ⌊tier⌋ per window: the disjoint seconds cap the total.
    tier.rounded(.down) * Double(seconds)
}

@Suite("Pacer")
struct PacerTests {
    static let tiers: [Double] = [1, 20, 33.3, 80, 250, 500, 1000]
    static let durationSeconds: Int64 = 60

    @Test("no window over tier, ≥ 99.9 % sustained without margin", arguments: tiers)
    func sustainedWithoutMargin(tier: Double) {
        var pacer = Pacer(messagesPerSecond: tier, safetyMargin: 0, now: .zero)
        var wakes = WakeModel(seed: 0xC0FFEE ^ UInt64(tier * 10))
        let end = Self.durationSeconds * nanosecondsPerSecond
        let admissions = simulate(&pacer, from: 0, until: end, wakes: &wakes)
        #expect(maxWindowCount(admissions) <= Int(tier.rounded(.down)))
        let fraction = Double(admissions.count) / ideal(tier: tier, seconds: Self.durationSeconds)
        #expect(fraction >= 0.999, "tier \(tier): \(admissions.count) admitted, \(fraction)")
    }

    @Test("no window over tier, ≥ 99.4 % sustained with the default margin", arguments: tiers)
    func sustainedWithDefaultMargin(tier: Double) {
        var pacer = Pacer(messagesPerSecond: tier, now: .zero)
        var wakes = WakeModel(seed: 0xBEEF ^ UInt64(tier * 10))
        let end = Self.durationSeconds * nanosecondsPerSecond
        let admissions = simulate(&pacer, from: 0, until: end, wakes: &wakes)
        #expect(maxWindowCount(admissions) <= Int(tier.rounded(.down)))
        // The margin also holds against a clock 0.5 % slow: windows of 1.005 s.
        #expect(maxWindowCount(admissions, width: 1_005_000_000) <= Int(tier.rounded(.down)))
        let fraction = Double(admissions.count) / ideal(tier: tier, seconds: Self.durationSeconds)
        #expect(fraction >= 0.994, "tier \(tier): \(admissions.count) admitted, \(fraction)")
    }

    @Test("late wakes are caught up: a loop waking 500 µs late still sends at the tier")
    func lateWakeCatchUp() {
        // Every wake exactly 500 µs after the eligible instant: plain GCRA
        // (TAT = max(TAT, now) + T) would send 1000 / 1.5 ≈ 667 msg/s at a 1000 tier.
        var pacer = Pacer(messagesPerSecond: 1000, safetyMargin: 0, now: .zero)
        var now: Int64 = 0
        var admissions: [Int64] = []
        while now < 10 * nanosecondsPerSecond {
            for _ in 0..<pacer.admit(upTo: Int.max, now: Instant(nanoseconds: now)) { admissions.append(now) }
            now = pacer.nextEligible(now: Instant(nanoseconds: now)).nanoseconds + 500_000
        }
        #expect(admissions.count >= 9_990)
        #expect(maxWindowCount(admissions) <= 1000)
    }

    @Test("an idle sender gets about one message plus the catch-up at once", arguments: [20.0, 80, 1000])
    func idleBurstIsBounded(tier: Double) {
        var pacer = Pacer(messagesPerSecond: tier, now: .zero)
        let first = pacer.tryAdmit(now: .zero)
        #expect(first)
        let later = Instant.seconds(30)
        let admitted = pacer.admit(upTo: Int.max, now: later)
        let interval = (1e9 * (1 + Pacer.defaultSafetyMargin) / tier).rounded(.up)
        let catchUp = min(Double(Pacer.catchUpNanosecondsMax), Double(Pacer.catchUpIntervalsMax) * interval)
        #expect(admitted >= 1)
        #expect(Double(admitted) <= 1 + (catchUp / interval).rounded(.down))
        #expect(admitted <= 1 + Int(Pacer.catchUpIntervalsMax))
    }

    @Test("a clock stepping back 2 s pauses admission and breaks no window", arguments: [80.0, 1000])
    func clockStepsBackwards(tier: Double) {
        var pacer = Pacer(messagesPerSecond: tier, now: .zero)
        var wakes = WakeModel(seed: 42)
        // Real time always advances; the clock the pacer reads jumps 2 s back at 10 s.
        let stepAt = 10 * nanosecondsPerSecond
        let end = 20 * nanosecondsPerSecond
        var admissions: [Int64] = []
        var real: Int64 = 0
        var eligibleReal: Int64 = 0
        while real < end {
            let offset: Int64 = real >= stepAt ? -2 * nanosecondsPerSecond : 0
            let reading = Instant(nanoseconds: real + offset)
            for _ in 0..<pacer.admit(upTo: Int.max, now: reading) { admissions.append(real) }
            eligibleReal = pacer.nextEligible(now: reading).nanoseconds - offset
            real = wakes.nextWake(now: real, eligible: min(eligibleReal, real + 1_000_000))
        }
        #expect(maxWindowCount(admissions) <= Int(tier))
        let afterResume = admissions.filter { $0 >= stepAt + 3 * nanosecondsPerSecond }.count
        #expect(Double(afterResume) >= 0.99 * tier * 7 / 1.005 - 1)
    }

    @Test("burst > 1 never exceeds the tier in a window", arguments: [2, 10, 100])
    func burstKeepsWindowBound(burst: Int) {
        for tier in [20.0, 80, 1000] {
            var pacer = Pacer(messagesPerSecond: tier, burst: burst, now: .zero)
            var wakes = WakeModel(seed: UInt64(burst) &* 7919 ^ UInt64(tier))
            let admissions = simulate(&pacer, from: 0, until: 30 * nanosecondsPerSecond, wakes: &wakes)
            #expect(maxWindowCount(admissions) <= Int(tier))
            // Idle gaps let the burst refill: every 3 s, 1.5 s of silence.
            var gapped = Pacer(messagesPerSecond: tier, burst: burst, now: .zero)
            var gappedAdmissions: [Int64] = []
            var now: Int64 = 0
            while now < 30 * nanosecondsPerSecond {
                let phase = now % (3 * nanosecondsPerSecond)
                if phase < 1_500_000_000 {
                    for _ in 0..<gapped.admit(upTo: Int.max, now: Instant(nanoseconds: now)) { gappedAdmissions.append(now) }
                }
                now += 100_000
            }
            #expect(maxWindowCount(gappedAdmissions) <= Int(tier))
            // The burst is really used: some instant admits more than catch-up alone allows.
            var perInstant: [Int64: Int] = [:]
            for t in gappedAdmissions { perInstant[t, default: 0] += 1 }
            #expect((perInstant.values.max() ?? 0) >= min(burst, Int(tier)))
        }
    }

    @Test("tier change mid-run takes effect at once and keeps the window bound", arguments: [(80.0, 1000.0), (1000.0, 80.0)])
    func tierChange(from old: Double, to new: Double) {
        var pacer = Pacer(messagesPerSecond: old, now: .zero)
        var wakes = WakeModel(seed: UInt64(old) << 16 | UInt64(new))
        let change = 10 * nanosecondsPerSecond
        var changed = false
        let admissions = simulate(&pacer, from: 0, until: 20 * nanosecondsPerSecond, wakes: &wakes) { pacer, now in
            if !changed && now >= change {
                pacer.setRate(messagesPerSecond: new, now: Instant(nanoseconds: now))
                changed = true
            }
        }
        #expect(changed)
        #expect(maxWindowCount(admissions) <= Int(max(old, new)))
        // Any window wholly after the change holds at most the new tier.
        let after = admissions.filter { $0 >= change }
        #expect(maxWindowCount(after) <= Int(new))
        // The second after the change sends at the new rate (an increase at once; a
        // decrease bounded by the new tier over the trailing second).
        let firstSecond = after.filter { $0 < after[0] + nanosecondsPerSecond }.count
        #expect(Double(firstSecond) >= 0.97 * new / 1.005 - 1)
        #expect(firstSecond <= Int(new))
        let secondBefore = admissions.filter { $0 >= change - nanosecondsPerSecond && $0 < change }.count
        #expect(Double(secondBefore) >= 0.97 * old / 1.005 - 1)
    }

    @Test("after 1000 → 80, at most 80 more in the trailing second")
    func decreaseCountsTrailingSecond() {
        var pacer = Pacer(messagesPerSecond: 1000, safetyMargin: 0, now: .zero)
        var now: Int64 = 0
        // Saturate at 1000 msg/s for 2 s.
        while now < 2 * nanosecondsPerSecond {
            _ = pacer.admit(upTo: Int.max, now: Instant(nanoseconds: now))
            now += 100_000
        }
        pacer.setRate(messagesPerSecond: 80, now: Instant(nanoseconds: now))
        var more = 0
        let until = now + nanosecondsPerSecond
        while now < until {
            more += pacer.admit(upTo: Int.max, now: Instant(nanoseconds: now))
            now += 100_000
        }
        // The trailing second [2 s, 3 s) held ≥ ~0 old admissions; the guard bounds it by 80.
        #expect(more <= 80)
    }

    @Test("nextEligible is now when a message may go, and exactly the next slot otherwise")
    func nextEligibleExact() {
        var pacer = Pacer(messagesPerSecond: 80, now: .zero)
        #expect(pacer.nextEligible(now: .zero) == .zero)
        let first = pacer.tryAdmit(now: .zero)
        let second = pacer.tryAdmit(now: .zero)
        #expect(first && !second)
        let interval = Int64((1e9 * 1.005 / 80).rounded(.up))
        let next = pacer.nextEligible(now: .zero)
        #expect(next.nanoseconds == interval)
        let early = pacer.tryAdmit(now: Instant(nanoseconds: interval - 1))
        let onTime = pacer.tryAdmit(now: next)
        #expect(!early && onTime)
    }

    @Test("admit(upTo:) respects its bound")
    func admitUpTo() {
        var pacer = Pacer(messagesPerSecond: 100, burst: 50, now: .zero)
        let none = pacer.admit(upTo: 0, now: .zero)
        let seven = pacer.admit(upTo: 7, now: .zero)
        // A burst of 50 at an idle start: the rest of the burst, no more.
        let rest = pacer.admit(upTo: 1000, now: .zero)
        #expect(none == 0 && seven == 7 && rest == 50 - 7)
    }
}
