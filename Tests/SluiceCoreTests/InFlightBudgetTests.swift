import Testing
@testable import SluiceCore

@Suite("In-flight budget")
struct InFlightBudgetTests {
    let ms: Int64 = 1_000_000

    @Test("buckets are ordered and about 9 % wide: every latency lies in its bucket")
    func buckets() {
        var previous = -1
        var micros: Int64 = 8
        while micros < 100_000_000 {
            let ns = micros * 1_000
            let b = InFlightBudget.bucket(ns)
            #expect(b >= previous, "bucket order at \(micros) µs")
            previous = b
            #expect(InFlightBudget.lowerEdge(b) <= ns && ns < InFlightBudget.lowerEdge(b + 1), "\(micros) µs in bucket \(b)")
            #expect(Double(InFlightBudget.lowerEdge(b + 1)) <= Double(InFlightBudget.lowerEdge(b)) * 1.13)
            micros = micros * 21 / 20 + 1
        }
    }

    @Test("with nothing measured the assumed latency sizes the bound")
    func assumed() {
        let budget = InFlightBudget(now: .zero)
        #expect(budget.latencyNanoseconds == InFlightBudget.latencyAssumedNanoseconds)
        #expect(budget.limit(messagesPerSecond: 80, min: 16, max: 8192) == 120)
        #expect(budget.limit(messagesPerSecond: 1, min: 16, max: 8192) == 16)
        #expect(budget.limit(messagesPerSecond: 1000, min: 16, max: 1000) == 1000)
    }

    @Test("the bound is rate × p99 × headroom, and follows the latency up at once and down within two windows")
    func followsLatency() {
        var budget = InFlightBudget(now: .zero)
        var now = Instant.zero
        for k in 0..<1000 { budget.record(latencyNanoseconds: (150 + Int64(k % 50)) * ms, now: now) }
        let first = budget.refresh(now: now)
        #expect(first)
        // p99 of 150…199 ms: 199 ms, reported as the upper edge of its bucket.
        #expect(budget.latencyNanoseconds >= 199 * ms && budget.latencyNanoseconds <= 218 * ms)
        let at200 = budget.limit(messagesPerSecond: 1000, min: 16, max: 8192)
        #expect(at200 >= 299 && at200 <= 327)

        // A spike: 3 % of answers take 2 s. The next refresh (100 ms on) sees it.
        now = now + 50 * ms
        for _ in 0..<30 { budget.record(latencyNanoseconds: 2_000 * ms, now: now) }
        let early = budget.refresh(now: now)
        #expect(!early, "refreshed again within refreshNanoseconds")
        now = now + 50 * ms
        let spiked = budget.refresh(now: now)
        #expect(spiked)
        #expect(budget.latencyNanoseconds >= 2_000 * ms && budget.latencyNanoseconds <= 2_200 * ms)

        // Then fast answers only: the slow ones are forgotten once two windows have passed.
        var gotFast: Instant?
        while now < Instant(nanoseconds: 3 * InFlightBudget.windowNanoseconds) {
            now = now + 100 * ms
            for _ in 0..<100 { budget.record(latencyNanoseconds: 20 * ms, now: now) }
            budget.refresh(now: now)
            if gotFast == nil && budget.latencyNanoseconds < 25 * ms { gotFast = now }
        }
        #expect((gotFast ?? .never).nanoseconds <= 2 * InFlightBudget.windowNanoseconds + 200 * ms, "fast again at \(String(describing: gotFast))")
        #expect(budget.limit(messagesPerSecond: 1000, min: 16, max: 8192) <= 33)
    }

    @Test("an idle endpoint keeps the last estimate")
    func idleKeeps() {
        var budget = InFlightBudget(now: .zero)
        for _ in 0..<100 { budget.record(latencyNanoseconds: 300 * ms, now: .zero) }
        budget.refresh(now: .zero)
        let estimate = budget.latencyNanoseconds
        let changed = budget.refresh(now: Instant(nanoseconds: 60 * 1_000 * ms))
        #expect(!changed)
        #expect(budget.latencyNanoseconds == estimate)
    }
}

/// A sender driven against a simulated endpoint whose answer time changes over time,
/// on a manual clock: every message dispatched at `t` leaves at `t` and is answered at
/// `t + latency(t)`.
struct DistantEndpointRun {
    var dispatched: [Int64] = []
    var inFlightMax = 0
    var limits: [Int] = []

    init(scheduler: inout Scheduler, sender: SenderID, messages: Int, seconds: Int64, latency: (Int64) -> Int64) {
        let end = seconds * nanosecondsPerSecond
        scheduler.enqueue((1...messages).map { message(UInt64($0), campaign: 1, sender: sender.rawValue) }, now: .zero)
        // Pending answers, ordered by time (binary insertion).
        var answers: [(at: Int64, sentAt: Int64)] = []
        var now: Int64 = 0
        var batch: [MessageRecord] = []
        var admissions: [UInt64] = []
        while now < end {
            var answered = 0
            while let first = answers.first, first.at <= now {
                answers.removeFirst()
                scheduler.answered(latencyNanoseconds: first.at - first.sentAt, now: Instant(nanoseconds: now))
                answered += 1
            }
            if answered > 0 { scheduler.completed(sender: sender, count: answered, now: Instant(nanoseconds: now)) }
            scheduler.tick(now: Instant(nanoseconds: now))
            batch.removeAll(keepingCapacity: true)
            admissions.removeAll(keepingCapacity: true)
            scheduler.nextBatch(now: Instant(nanoseconds: now), into: &batch, admissions: &admissions)
            for admission in admissions {
                scheduler.departed(sender: sender, admission: admission, at: Instant(nanoseconds: now))
                dispatched.append(now)
                let at = now + latency(now)
                var lo = 0
                var hi = answers.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if answers[mid].at <= at { lo = mid + 1 } else { hi = mid }
                }
                answers.insert((at, now), at: lo)
            }
            inFlightMax = max(inFlightMax, scheduler.inFlightCount(sender: sender))
            if let limit = scheduler.inFlightLimit(sender: sender), limits.last != limit { limits.append(limit) }
            let wake = scheduler.nextWakeup(now: Instant(nanoseconds: now))?.nanoseconds ?? .max
            let next = min(wake, answers.first?.at ?? .max, end)
            now = max(now + 1, next)
        }
    }

    func count(from: Int64, to: Int64) -> Int { dispatched.filter { $0 >= from && $0 < to }.count }
}

@Suite("Scheduler at distance")
struct SchedulerDistanceTests {
    let s1 = SenderID(1)
    let second = nanosecondsPerSecond

    func scheduler(sized: Bool) -> Scheduler {
        var configuration = SchedulerConfiguration()
        configuration.tracksDepartures = true
        configuration.safetyMargin = 0.008
        configuration.sizesInFlightFromLatency = sized
        configuration.inFlightPerSenderMax = sized ? 8192 : 256
        var scheduler = Scheduler(configuration: configuration)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        return scheduler
    }

    @Test("at 500 ms a tier-1000 sender holds its tier with a latency-sized bound, and not with a fixed 256")
    func holdsTierAtHalfASecond() {
        var sized = scheduler(sized: true)
        let run = DistantEndpointRun(scheduler: &sized, sender: s1, messages: 12_000, seconds: 10) { _ in 500_000_000 }
        // Seconds 2–10: at tier (less the 0.8 % margin).
        let steady = run.count(from: 2 * second, to: 10 * second)
        #expect(Double(steady) >= 0.99 * 8_000, "\(steady) sent in 8 s at 500 ms")
        #expect(maxWindowCount(run.dispatched) <= 1000)
        // Little's law: about 500 in flight, the bound 1.5 × that.
        #expect(run.inFlightMax >= 480 && run.inFlightMax <= 830, "in flight \(run.inFlightMax)")

        var fixed = scheduler(sized: false)
        let capped = DistantEndpointRun(scheduler: &fixed, sender: s1, messages: 12_000, seconds: 10) { _ in 500_000_000 }
        #expect(capped.count(from: 2 * second, to: 10 * second) <= 256 * 2 * 8 + 10, "a fixed bound of 256 caps 500 ms at 512 msg/s")
    }

    @Test("when a 2 s latency spike clears, the backlog of answers does not become a burst")
    func spikeClears() {
        var sized = scheduler(sized: true)
        // 100 ms, then 2 s for messages sent in [4 s, 5 s), then 100 ms again.
        let run = DistantEndpointRun(scheduler: &sized, sender: s1, messages: 20_000, seconds: 14) { t in
            t >= 4 * nanosecondsPerSecond && t < 5 * nanosecondsPerSecond ? 2_000_000_000 : 100_000_000
        }
        #expect(maxWindowCount(run.dispatched) <= 1000, "more than the tier in a sliding second")
        // No burst in any 50 ms either: the grid restarts rather than catching up.
        #expect(maxWindowCount(run.dispatched, width: 50_000_000) <= 51 + Int(Pacer.catchUpIntervalsMax))
        // The bound grew with the spike (the answers after it measured 2 s) and held the
        // in-flight count; sending is back at tier once the spike's answers are in.
        #expect(run.limits.contains { $0 >= 2_000 }, "bounds seen: \(run.limits)")
        #expect(run.inFlightMax <= 8192)
        let after = run.count(from: 9 * second, to: 14 * second)
        #expect(Double(after) >= 0.99 * 5_000, "\(after) sent in the 5 s after the spike")
    }
}
