import Testing
@testable import SluiceCore

@Suite("Scheduler")
struct SchedulerTests {
    let second = nanosecondsPerSecond
    let s1 = SenderID(1)

    func ids(_ batch: [MessageRecord]) -> [UInt64] { batch.map(\.id.rawValue) }

    @Test("campaigns of one sender are served round robin")
    func roundRobin() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        // Campaign 10: ids 1-3, campaign 20: ids 4-6, campaign 30: ids 7-9.
        let messages = (1...9).map { (n: Int) -> MessageRecord in message(UInt64(n), campaign: UInt64((n - 1) / 3 + 1) * 10, sender: 1) }
        scheduler.enqueue(messages, now: .zero)
        var dispatched: [MessageRecord] = []
        var now = Instant.zero
        while dispatched.count < 9 && now < Instant(nanoseconds: second) {
            scheduler.nextBatch(now: now, into: &dispatched)
            now = scheduler.nextWakeup(now: now) ?? now + 1_000_000
        }
        #expect(ids(dispatched) == [1, 4, 7, 2, 5, 8, 3, 6, 9])

        // Within one batch too (a burst admits all at once).
        var burst = Scheduler()
        burst.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 9, paused: false, now: .zero)
        burst.enqueue(messages, now: .zero)
        var batch: [MessageRecord] = []
        burst.nextBatch(now: .zero, into: &batch)
        #expect(ids(batch) == [1, 4, 7, 2, 5, 8, 3, 6, 9])
    }

    @Test("a campaign that joins later enters the rotation, and a drained one leaves it")
    func rotationChanges() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        scheduler.enqueue([message(1, campaign: 1, sender: 1), message(2, campaign: 2, sender: 1), message(3, campaign: 2, sender: 1), message(4, campaign: 2, sender: 1)], now: .zero)
        var out: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &out)  // 1 (campaign 1 drains and leaves)
        scheduler.enqueue([message(5, campaign: 3, sender: 1), message(6, campaign: 3, sender: 1)], now: .zero)
        var now = Instant.zero
        while out.count < 6 && now < Instant(nanoseconds: second) {
            now = scheduler.nextWakeup(now: now) ?? now + 1_000_000
            scheduler.nextBatch(now: now, into: &out)
        }
        #expect(ids(out) == [1, 2, 5, 3, 6, 4])
    }

    @Test("the in-flight bound holds until completions")
    func inFlightBound() {
        var configuration = SchedulerConfiguration()
        configuration.inFlightPerSenderMax = 5
        var scheduler = Scheduler(configuration: configuration)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        scheduler.enqueue((1...20).map { message(UInt64($0), campaign: 1, sender: 1) }, now: .zero)
        var out: [MessageRecord] = []
        var now = Instant.zero
        for _ in 0..<1000 {
            scheduler.nextBatch(now: now, into: &out)
            now = now + 1_000_000
        }
        #expect(out.count == 5)
        #expect(scheduler.inFlightCount(sender: s1) == 5)
        #expect(scheduler.nextWakeup(now: now) == nil)
        scheduler.completed(sender: s1, count: 2)
        #expect(scheduler.nextWakeup(now: now) == now)
        scheduler.nextBatch(now: now, into: &out)
        now = now + 1_000_000_0
        scheduler.nextBatch(now: now, into: &out)
        #expect(out.count == 7)
        #expect(scheduler.inFlightCount(sender: s1) == 5)
        #expect(scheduler.queuedCount(sender: s1) == 13)
    }

    @Test("the total in-flight bound is shared by every sender and holds until completions")
    func totalInFlightBound() {
        var configuration = SchedulerConfiguration()
        configuration.inFlightTotalMax = 6
        var scheduler = Scheduler(configuration: configuration)
        let s2 = SenderID(2)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 10, paused: false, now: .zero)
        scheduler.upsertSender(s2, tierMessagesPerSecond: 1000, burst: 10, paused: false, now: .zero)
        scheduler.enqueue((1...10).map { message(UInt64($0), campaign: 1, sender: 1) }, now: .zero)
        scheduler.enqueue((11...20).map { message(UInt64($0), campaign: 2, sender: 2) }, now: .zero)
        var out: [MessageRecord] = []
        var now = Instant.zero
        for _ in 0..<100 {
            scheduler.nextBatch(now: now, into: &out)
            now = now + 10_000_000
        }
        #expect(out.count == 6)
        #expect(scheduler.inFlightTotal == 6)
        #expect(scheduler.inFlightCount(sender: s1) + scheduler.inFlightCount(sender: s2) == 6)
        // At the bound nothing becomes ready by time alone.
        #expect(scheduler.nextWakeup(now: now) == nil)

        // A completion of either sender frees room for whichever is due.
        let done = scheduler.inFlightCount(sender: s2) > 0 ? s2 : s1
        scheduler.completed(sender: done, count: 1)
        #expect(scheduler.inFlightTotal == 5)
        #expect(scheduler.nextWakeup(now: now) == now)
        scheduler.nextBatch(now: now, into: &out)
        #expect(out.count == 7)
        #expect(scheduler.inFlightTotal == 6)
        #expect(scheduler.nextWakeup(now: now) == nil)

        // Draining every completion lets the rest go, never more than 6 at once.
        var rounds = 0
        while out.count < 20 && rounds < 1000 {
            rounds += 1
            for sender in [s1, s2] { scheduler.completed(sender: sender, count: scheduler.inFlightCount(sender: sender)) }
            #expect(scheduler.inFlightTotal == 0)
            let before = out.count
            now = now + 10_000_000
            scheduler.nextBatch(now: now, into: &out)
            #expect(out.count - before <= 6)
            #expect(scheduler.inFlightTotal == out.count - before)
        }
        #expect(Set(ids(out)) == Set(1...20))
    }

    @Test("a cold sender sends one message alone and paces the next ones from its completion")
    func coldSenderProbe() {
        var configuration = SchedulerConfiguration()
        configuration.probeColdSenders = true
        configuration.coldAfterNanoseconds = 5 * second
        var scheduler = Scheduler(configuration: configuration)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 20, burst: 5, paused: false, now: .zero)
        scheduler.enqueue((1...40).map { message(UInt64($0), campaign: 1, sender: 1) }, now: .zero)
        var out: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &out)
        #expect(ids(out) == [1], "the burst waits for the probe")
        #expect(scheduler.nextWakeup(now: .zero) == nil, "nothing is due while the probe is on the wire")
        scheduler.nextBatch(now: Instant(nanoseconds: 30_000_000), into: &out)
        #expect(out.count == 1)

        // The probe took 30 ms (a handshake); the rest may go from its completion on.
        let completedAt = Instant(nanoseconds: 30_000_000)
        scheduler.completed(sender: s1, count: 1, now: completedAt)
        #expect(scheduler.nextWakeup(now: completedAt) == completedAt)
        var now = completedAt
        var sendTimes: [Int64] = [completedAt.nanoseconds]
        while out.count < 40 && now < Instant(nanoseconds: 10 * second) {
            let before = out.count
            scheduler.nextBatch(now: now, into: &out)
            for _ in before..<out.count { sendTimes.append(now.nanoseconds) }
            if out.count > before { scheduler.completed(sender: s1, count: out.count - before, now: now) }
            now = scheduler.nextWakeup(now: now) ?? now + 1_000_000
        }
        #expect(out.count == 40)
        // Counting the probe at its completion, no second holds more than the tier.
        #expect(maxWindowCount(sendTimes) <= 20)

        // Busy again within coldAfter: no new probe. Idle past it: a new one.
        scheduler.enqueue((41...50).map { message(UInt64($0), campaign: 1, sender: 1) }, now: now)
        now = now + second
        let busyBefore = out.count
        scheduler.nextBatch(now: now, into: &out)
        #expect(out.count - busyBefore == 5, "a warm sender keeps its burst")
        scheduler.completed(sender: s1, count: 5, now: now)
        now = now + 6 * second
        let coldBefore = out.count
        scheduler.nextBatch(now: now, into: &out)
        #expect(out.count - coldBefore == 1, "idle past coldAfter: one probe")
    }

    @Test("with departure reports a cold sender's probe ends when it left, not when its answer came")
    func coldSenderProbeEndsAtDeparture() {
        var configuration = SchedulerConfiguration()
        configuration.probeColdSenders = true
        configuration.tracksDepartures = true
        var scheduler = Scheduler(configuration: configuration)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 100, burst: 1, paused: false, now: .zero)
        scheduler.enqueue((1...10).map { message(UInt64($0), campaign: 1, sender: 1) }, now: .zero)
        var out: [MessageRecord] = []
        var admissions: [UInt64] = []
        scheduler.nextBatch(now: .zero, into: &out, admissions: &admissions)
        #expect(ids(out) == [1])
        #expect(scheduler.nextWakeup(now: .zero) == nil, "nothing is due while the probe waits for its connection")
        // Its connection was ready after 30 ms; the answer comes 400 ms later.
        let left = Instant(nanoseconds: 30_000_000)
        scheduler.departed(sender: s1, admission: admissions[0], at: left)
        let next = scheduler.nextWakeup(now: left)
        #expect(next != nil && next! >= left + 10_000_000 && next! < left + 11_000_000, "the next one a pacing interval after the probe left: \(String(describing: next))")
        scheduler.completed(sender: s1, count: 1, now: Instant(nanoseconds: 430_000_000))
        #expect(scheduler.inFlightCount(sender: s1) == 0)
    }

    @Test("a batch holds several senders, at most batchMax messages")
    func multipleSenders() {
        var configuration = SchedulerConfiguration()
        configuration.batchMax = 25
        var scheduler = Scheduler(configuration: configuration)
        for s in 1...3 {
            scheduler.upsertSender(SenderID(UInt32(s)), tierMessagesPerSecond: 1000, burst: 10, paused: false, now: .zero)
            scheduler.enqueue((1...20).map { message(UInt64(s * 100 + $0), campaign: UInt64(s), sender: UInt32(s)) }, now: .zero)
        }
        var batch: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &batch)
        #expect(batch.count == 25)
        #expect(Set(batch.map(\.sender)).count == 3)
        // The rest is still due now.
        #expect(scheduler.nextWakeup(now: .zero) == .zero)
        batch.removeAll()
        scheduler.nextBatch(now: .zero, into: &batch)
        #expect(batch.count == 5)
    }

    @Test("a paused sender dispatches nothing until resumed")
    func paused() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 80, burst: 1, paused: true, now: .zero)
        scheduler.upsertSender(SenderID(2), tierMessagesPerSecond: 80, burst: 1, paused: false, now: .zero)
        scheduler.enqueue((1...10).map { message(UInt64($0), campaign: 1, sender: 1) }, now: .zero)
        var out: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &out)
        #expect(out.isEmpty)
        #expect(scheduler.nextWakeup(now: .zero) == nil)
        scheduler.resume(s1, now: .zero)
        scheduler.nextBatch(now: .zero, into: &out)
        #expect(out.count == 1)
        scheduler.pause(s1)
        scheduler.nextBatch(now: Instant.seconds(5), into: &out)
        #expect(out.count == 1)
        #expect(scheduler.nextWakeup(now: .zero) == nil)
        #expect(scheduler.refillRequests().isEmpty)
    }

    @Test("a throttled sender's effective rate halves, and it sends at that rate")
    func throttled() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 80, burst: 1, paused: false, now: .zero)
        scheduler.enqueue((1...500).map { message(UInt64($0), campaign: 1, sender: 1) }, now: .zero)
        // Refusals are few at first (jitter), then 5 % of a second's worth at the tier: 4.
        for k in 1...4 {
            scheduler.throttled(sender: s1, now: .zero)
            #expect(scheduler.effectiveRate(sender: s1) == (k < 4 ? 80 : 40), "after \(k) refusal(s)")
        }
        var out: [MessageRecord] = []
        var now = Instant.zero
        while now < Instant(nanoseconds: second) {
            scheduler.nextBatch(now: now, into: &out)
            scheduler.completed(sender: s1, count: scheduler.inFlightCount(sender: s1))
            now = scheduler.nextWakeup(now: now)! + 100_000
        }
        #expect(out.count <= 40 && out.count >= 39)
        // Recovery through tick.
        scheduler.tick(now: Instant.seconds(30))
        #expect(scheduler.effectiveRate(sender: s1) == 80)
    }

    @Test("an at-most-once campaign pages in thinly: thinStaging of sending time, shared by the sender's campaigns")
    func thinStaging() {
        var configuration = SchedulerConfiguration()
        configuration.stagingNanoseconds = 1_000_000_000
        var scheduler = Scheduler(configuration: configuration)
        let thin = CampaignID(7)
        let fat = CampaignID(8)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 250, burst: 1, paused: false, now: .zero)
        scheduler.stageThinly(sender: s1, campaign: thin)
        scheduler.noteMoreAvailable(sender: s1, campaign: thin)
        // 250 msg/s × 0.1 s.
        #expect(scheduler.refillRequests() == [.init(sender: s1, campaign: thin, after: nil, limit: 25)])
        scheduler.noteMoreAvailable(sender: s1, campaign: fat)
        // Two campaigns share the sender: 13 each for the thin one, the full page for the other.
        #expect(scheduler.refillRequests() == [
            .init(sender: s1, campaign: thin, after: nil, limit: 13),
            .init(sender: s1, campaign: fat, after: nil, limit: configuration.pageSize),
        ])
        scheduler.refilled(sender: s1, campaign: thin, messages: (1...13).map { message($0, campaign: 7, sender: 1) }, exhausted: false, now: .zero)
        #expect(scheduler.refillRequests() == [.init(sender: s1, campaign: fat, after: nil, limit: configuration.pageSize)])
        var out: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &out)
        #expect(out.count == 1)
        #expect(scheduler.refillRequests().first { $0.campaign == thin } == .init(sender: s1, campaign: thin, after: MessageID(13), limit: 13))
        // A slow sender still pages at least thinPageMin (10 msg/s × 0.1 s is 1).
        var slow = Scheduler(configuration: configuration)
        slow.upsertSender(s1, tierMessagesPerSecond: 10, burst: 1, paused: false, now: .zero)
        slow.stageThinly(sender: s1, campaign: thin)
        slow.noteMoreAvailable(sender: s1, campaign: thin)
        #expect(slow.refillRequests() == [.init(sender: s1, campaign: thin, after: nil, limit: configuration.thinPageMin)])
    }

    @Test("refill requests below the low watermark carry the cursor, and stop when exhausted")
    func refill() {
        var configuration = SchedulerConfiguration()
        configuration.queueLowWatermark = 4
        var scheduler = Scheduler(configuration: configuration)
        let c = CampaignID(7)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        #expect(scheduler.refillRequests().isEmpty)
        scheduler.noteMoreAvailable(sender: s1, campaign: c)
        #expect(scheduler.refillRequests() == [.init(sender: s1, campaign: c, after: nil, limit: configuration.pageSize)])
        scheduler.refilled(sender: s1, campaign: c, messages: (1...3).map { message($0, campaign: 7, sender: 1) }, exhausted: false, now: .zero)
        #expect(scheduler.refillRequests() == [.init(sender: s1, campaign: c, after: MessageID(3), limit: configuration.pageSize)])
        scheduler.refilled(sender: s1, campaign: c, messages: (4...10).map { message($0, campaign: 7, sender: 1) }, exhausted: false, now: .zero)
        #expect(scheduler.refillRequests().isEmpty)
        var out: [MessageRecord] = []
        var now = Instant.zero
        while scheduler.queuedCount(sender: s1) >= 4 {
            scheduler.nextBatch(now: now, into: &out)
            now = now + 1_000_000
        }
        #expect(scheduler.refillRequests() == [.init(sender: s1, campaign: c, after: MessageID(10), limit: configuration.pageSize)])
        scheduler.refilled(sender: s1, campaign: c, messages: [], exhausted: true, now: now)
        #expect(scheduler.refillRequests().isEmpty)
        while scheduler.queuedCount(sender: s1) > 0 {
            scheduler.nextBatch(now: now, into: &out)
            now = now + 1_000_000
        }
        #expect(ids(out) == Array(1...10))
        #expect(scheduler.nextWakeup(now: now) == nil)
        // New intake: the drained campaign pages in after its cursor, not from the start.
        scheduler.noteMoreAvailable(sender: s1, campaign: c)
        #expect(scheduler.refillRequests() == [.init(sender: s1, campaign: c, after: MessageID(10), limit: configuration.pageSize)])
    }

    @Test("a requeued message goes first")
    func requeueFront() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        scheduler.enqueue((1...3).map { message(UInt64($0), campaign: 1, sender: 1) }, now: .zero)
        var out: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &out)
        scheduler.completed(sender: s1, count: 1)
        scheduler.requeueFront(out[0])
        #expect(scheduler.queuedCount(sender: s1) == 3)
        out.removeAll()
        // After idling a second the pacer restarts its grid: one now, the rest a slot apart.
        for step in 0..<3 {
            scheduler.nextBatch(now: Instant.seconds(1) + Int64(step) * 10_000_000, into: &out)
        }
        #expect(ids(out) == [1, 2, 3])
    }

    @Test("nextWakeup is the pacer's next eligible instant")
    func nextWakeup() {
        var scheduler = Scheduler()
        let start = Instant.seconds(3)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 80, burst: 1, paused: false, now: start)
        #expect(scheduler.nextWakeup(now: start) == nil)
        scheduler.enqueue((1...10).map { message(UInt64($0), campaign: 1, sender: 1) }, now: start)
        #expect(scheduler.nextWakeup(now: start) == start)
        var out: [MessageRecord] = []
        scheduler.nextBatch(now: start, into: &out)
        #expect(out.count == 1)
        var reference = Pacer(messagesPerSecond: 80, now: start)
        _ = reference.tryAdmit(now: start)
        let expected = reference.nextEligible(now: start)
        #expect(expected > start)
        #expect(scheduler.nextWakeup(now: start) == expected)
        // Independently: one interval of 1.005 / 80 s later.
        #expect(expected - start == 12_562_500)
        let later = expected + 3_000_000
        #expect(scheduler.nextWakeup(now: later) == later)
    }

    @Test("60 s, senders at 20/80/250/1000: no window over tier, ≥ 99 % of tier sustained")
    func sustainedManySenders() {
        let tiers: [UInt32: Double] = [1: 20, 2: 80, 3: 250, 4: 1000]
        var scheduler = Scheduler()
        var nextID: [UInt32: UInt64] = [:]
        for (s, tier) in tiers {
            scheduler.upsertSender(SenderID(s), tierMessagesPerSecond: tier, burst: 1, paused: false, now: .zero)
            for campaign in 1...2 { scheduler.noteMoreAvailable(sender: SenderID(s), campaign: CampaignID(UInt64(s) * 10 + UInt64(campaign))) }
            nextID[s] = 0
        }
        var wakes = WakeModel(seed: 99)
        var admissions: [UInt32: [Int64]] = [:]
        var now: Int64 = 0
        let end = 60 * second
        var batch: [MessageRecord] = []
        while now < end {
            let instant = Instant(nanoseconds: now)
            for request in scheduler.refillRequests() {
                // The journal always has more: a page of fresh ids after the cursor.
                let first = (request.after?.rawValue ?? 0) + 1
                let page = (first..<first + UInt64(scheduler.configuration.pageSize)).map {
                    message($0, campaign: request.campaign.rawValue, sender: request.sender.rawValue)
                }
                scheduler.refilled(sender: request.sender, campaign: request.campaign, messages: page, exhausted: false, now: instant)
            }
            scheduler.tick(now: instant)
            batch.removeAll(keepingCapacity: true)
            scheduler.nextBatch(now: instant, into: &batch)
            var perSender: [SenderID: Int] = [:]
            for m in batch {
                admissions[m.sender.rawValue, default: []].append(now)
                perSender[m.sender, default: 0] += 1
            }
            for (s, n) in perSender { scheduler.completed(sender: s, count: n) }
            let wake = scheduler.nextWakeup(now: instant)!.nanoseconds
            now = wakes.nextWake(now: now, eligible: wake)
        }
        for (s, tier) in tiers {
            let instants = admissions[s] ?? []
            #expect(maxWindowCount(instants) <= Int(tier), "sender \(s)")
            #expect(Double(instants.count) >= 0.99 * tier * 60, "sender \(s): \(instants.count)")
            // Both campaigns got their turn.
            #expect(scheduler.queuedCount(sender: SenderID(s)) > 0)
        }
    }

    @Test("a fast sender keeps its staging time paged in, shared by its campaigns")
    func stagingScalesWithRate() {
        var configuration = SchedulerConfiguration()
        configuration.queueLowWatermark = 32
        configuration.pageSize = 64
        configuration.stagingNanoseconds = second / 2
        var scheduler = Scheduler(configuration: configuration)
        let slow = SenderID(2)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        scheduler.upsertSender(slow, tierMessagesPerSecond: 20, burst: 1, paused: false, now: .zero)
        scheduler.noteMoreAvailable(sender: s1, campaign: CampaignID(1))
        scheduler.noteMoreAvailable(sender: slow, campaign: CampaignID(3))
        // Half a second at 1000 msg/s; the slow sender keeps the plain watermark and page.
        var requests = scheduler.refillRequests().sorted { $0.campaign.rawValue < $1.campaign.rawValue }
        #expect(requests.map(\.limit) == [500, 64])
        scheduler.refilled(sender: s1, campaign: CampaignID(1), messages: (1...499).map { message($0, campaign: 1, sender: 1) }, exhausted: false, now: .zero)
        #expect(scheduler.refillRequests().contains { $0.sender == s1 })
        scheduler.refilled(sender: s1, campaign: CampaignID(1), messages: [message(500, campaign: 1, sender: 1)], exhausted: false, now: .zero)
        #expect(!scheduler.refillRequests().contains { $0.sender == s1 })
        // A second campaign halves each one's share.
        scheduler.noteMoreAvailable(sender: s1, campaign: CampaignID(2))
        requests = scheduler.refillRequests().filter { $0.sender == s1 }
        #expect(requests.map(\.campaign) == [CampaignID(2)])
        #expect(requests.map(\.limit) == [250])
    }

    @Test("admission numbers follow each sender's pacer, and an unreported departure holds the sender")
    func departuresHoldTheWindow() {
        var configuration = SchedulerConfiguration()
        configuration.tracksDepartures = true
        configuration.safetyMargin = 0.01
        var scheduler = Scheduler(configuration: configuration)
        scheduler.upsertSender(s1, tierMessagesPerSecond: 2, burst: 1, paused: false, now: .zero)
        scheduler.enqueue((1...3).map { message($0, campaign: 1, sender: 1) }, now: .zero)
        var batch: [MessageRecord] = []
        var admissions: [UInt64] = []
        scheduler.nextBatch(now: .zero, into: &batch, admissions: &admissions)
        let next = scheduler.nextWakeup(now: .zero)!
        scheduler.nextBatch(now: next, into: &batch, admissions: &admissions)
        #expect(ids(batch) == [1, 2])
        #expect(admissions == [0, 1])
        scheduler.completed(sender: s1, count: 2, now: next)
        // The first has not been reported as departed: nothing becomes ready by time alone.
        scheduler.departed(sender: s1, admission: 1, at: next)
        #expect(scheduler.nextWakeup(now: .seconds(3)) == nil)
        scheduler.nextBatch(now: .seconds(3), into: &batch, admissions: &admissions)
        #expect(batch.count == 2)
        // It left at 3 s: the third may go one guarded window later.
        scheduler.departed(sender: s1, admission: 0, at: .seconds(3))
        let window = Int64(1.01e9) - Pacer.departureAllowanceNanoseconds
        #expect(scheduler.nextWakeup(now: .seconds(3)) == .seconds(3) + window)
        scheduler.nextBatch(now: .seconds(3) + window, into: &batch, admissions: &admissions)
        #expect(ids(batch) == [1, 2, 3])
        #expect(admissions == [0, 1, 2])
    }
}
