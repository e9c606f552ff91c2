import Testing
@testable import SluiceCore

/// Runs a pacer whose messages leave `delay` after admission and are reported as they
/// leave, as the dispatcher's transport does. Returns admission and departure instants.
private func simulateDepartures(
    _ pacer: inout Pacer, seconds: Int64, seed: UInt64, delay: (inout SplitMix64) -> Int64
) -> (admissions: [Int64], departures: [Int64]) {
    var rng = SplitMix64(seed: seed)
    var admissions: [Int64] = []
    var departures: [Int64] = []
    // Admitted, not yet reported: (admission number, departure instant).
    var inFlight: [(admission: UInt64, at: Int64)] = []
    var now: Int64 = 0
    let end = seconds * nanosecondsPerSecond
    while now < end {
        inFlight.sort { $0.at < $1.at }
        while let first = inFlight.first, first.at <= now {
            pacer.departed(admission: first.admission, at: Instant(nanoseconds: first.at))
            inFlight.removeFirst()
        }
        while true {
            let number = pacer.admissionsTotal
            guard pacer.tryAdmit(now: Instant(nanoseconds: now)) else { break }
            let at = now + delay(&rng)
            admissions.append(now)
            departures.append(at)
            inFlight.append((number, at))
        }
        let eligible = pacer.nextEligible(now: Instant(nanoseconds: now))
        let nextReport = inFlight.map(\.at).min() ?? .max
        let wake = min(eligible == .never ? .max : eligible.nanoseconds, nextReport)
        // A loop that wakes up to 200 µs late.
        now = max(now + 1, wake == .max ? end : wake + Int64.random(in: 0...200_000, using: &rng))
    }
    return (admissions, departures.sorted())
}

@Suite("Pacer departures")
struct PacerDepartureTests {
    static let tiers: [Double] = [20, 80, 250, 1000]
    static let margin = 0.008

    /// Mostly prompt, one message in ten held up to 30 ms between admission and the wire.
    static func delay(_ rng: inout SplitMix64) -> Int64 {
        rng.next() % 10 == 0 ? Int64.random(in: 0...30_000_000, using: &rng) : Int64.random(in: 0...800_000, using: &rng)
    }

    /// The window the departures must respect: the grid's second less the allowance.
    static var guardedWindow: Int64 {
        Int64((1 + margin) * 1e9) - Pacer.departureAllowanceNanoseconds
    }

    @Test("late departures never crowd a window on the wire", arguments: tiers)
    func lateDeparturesKeepTheWindow(tier: Double) {
        var pacer = Pacer(messagesPerSecond: tier, safetyMargin: Self.margin, tracksDepartures: true, now: .zero)
        let run = simulateDepartures(&pacer, seconds: 20, seed: 7, delay: Self.delay)
        #expect(maxWindowCount(run.departures, width: Self.guardedWindow) <= Int(tier))
        // Held-up messages cost little: the grid keeps most of the time.
        let gridRate = tier / (1 + Self.margin)
        #expect(Double(run.admissions.count) >= 0.97 * gridRate * 20)
    }

    /// A busy machine holds the sending loop 10–30 ms now and then (measured at the
    /// endpoint in `tuning/RESULTS.md`): the grid resumes where it was, so such a stall
    /// costs no slot, and the window guard still counts every second by departure.
    @Test("a loop held 25 ms once a second loses no slot and crowds no window", arguments: [250.0, 1000.0])
    func stallsAreCaughtUp(tier: Double) {
        var pacer = Pacer(messagesPerSecond: tier, safetyMargin: Self.margin, tracksDepartures: true, now: .zero)
        var rng = SplitMix64(seed: 11)
        var departures: [Int64] = []
        var now: Int64 = 0
        let end = 20 * nanosecondsPerSecond
        var nextStall = nanosecondsPerSecond / 2
        while now < end {
            while true {
                let number = pacer.admissionsTotal
                guard pacer.tryAdmit(now: Instant(nanoseconds: now)) else { break }
                // Leaves within 300 µs, and is reported as it leaves.
                let at = now + Int64.random(in: 0...300_000, using: &rng)
                pacer.departed(admission: number, at: Instant(nanoseconds: at))
                departures.append(at)
            }
            var wake = pacer.nextEligible(now: Instant(nanoseconds: now)).nanoseconds
            if wake >= nextStall {
                wake = nextStall + 25_000_000
                nextStall += nanosecondsPerSecond
            }
            now = max(now + 1, wake)
        }
        departures.sort()
        #expect(maxWindowCount(departures, width: Self.guardedWindow) <= Int(tier))
        // 25 ms lost every second would be 2.5 % of the rate.
        let gridRate = tier / (1 + Self.margin)
        #expect(Double(departures.count) >= 0.995 * gridRate * 20)
    }

    @Test("without departure reports the same delays do crowd a window", arguments: [250.0, 1000.0])
    func admissionsAloneDoNotKeepTheWindow(tier: Double) {
        var pacer = Pacer(messagesPerSecond: tier, safetyMargin: Self.margin, tracksDepartures: false, now: .zero)
        let run = simulateDepartures(&pacer, seconds: 20, seed: 7, delay: Self.delay)
        #expect(maxWindowCount(run.departures, width: Self.guardedWindow) > Int(tier))
    }

    @Test func anUnreportedDepartureHoldsTheSlotARateLater() {
        var pacer = Pacer(messagesPerSecond: 10, safetyMargin: 0.01, tracksDepartures: true, now: .zero)
        var t: Int64 = 0
        for _ in 0..<10 {
            t = pacer.nextEligible(now: Instant(nanoseconds: t)).nanoseconds
            let admitted1 = pacer.tryAdmit(now: Instant(nanoseconds: t))
            #expect(admitted1)
        }
        // Every message but the first has left.
        for number in 1..<UInt64(10) { pacer.departed(admission: number, at: Instant(nanoseconds: t)) }
        #expect(pacer.pendingDepartures == 1)
        let later = Instant.seconds(5)
        #expect(pacer.nextEligible(now: later) == .never)
        let admitted2 = pacer.tryAdmit(now: later)
        #expect(!admitted2)
        // It left at 5 s: the eleventh may go one guarded window after that.
        let sooner3 = pacer.departed(admission: 0, at: later)
        #expect(sooner3)
        let window = Int64(1.01e9) - Pacer.departureAllowanceNanoseconds
        #expect(pacer.nextEligible(now: later) == later + window)
        let admitted4 = pacer.tryAdmit(now: later + (window - 1))
        #expect(!admitted4)
        let admitted5 = pacer.tryAdmit(now: later + window)
        #expect(admitted5)
    }

    @Test func repeatedOrStaleReportsChangeNothing() {
        var pacer = Pacer(messagesPerSecond: 2, safetyMargin: 0.01, tracksDepartures: true, now: .zero)
        let admitted6 = pacer.tryAdmit(now: .zero)
        #expect(admitted6)
        let admitted7 = pacer.tryAdmit(now: .seconds(0.6))
        #expect(admitted7)
        // The oldest of a full ring: its report may let the next one go sooner.
        let sooner8 = pacer.departed(admission: 0, at: .seconds(0.1))
        #expect(sooner8)
        let sooner9 = pacer.departed(admission: 1, at: .seconds(0.6))
        #expect(!sooner9)
        // A second report for the same message cannot move its stamp later.
        pacer.departed(admission: 0, at: .seconds(0.9))
        let window = Int64(1.01e9) - Pacer.departureAllowanceNanoseconds
        #expect(pacer.nextEligible(now: .seconds(0.7)) == .seconds(0.1) + window)
        // Numbers never admitted, or no longer in the ring, are ignored.
        let sooner10 = pacer.departed(admission: 5, at: .seconds(3))
        #expect(!sooner10)
        #expect(pacer.pendingDepartures == 0)
    }

    @Test func withoutTrackingReportsAreIgnored() {
        var pacer = Pacer(messagesPerSecond: 1, safetyMargin: 0.01, now: .zero)
        let admitted6 = pacer.tryAdmit(now: .zero)
        #expect(admitted6)
        #expect(pacer.pendingDepartures == 0)
        let sooner11 = pacer.departed(admission: 0, at: .seconds(0.5))
        #expect(!sooner11)
        #expect(pacer.nextEligible(now: .zero) == Instant(nanoseconds: Int64(1.01e9)))
    }
}
