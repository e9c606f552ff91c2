import DequeModule
import HeapModule

/// Limits and paging sizes of a `Scheduler`.
public struct SchedulerConfiguration: Sendable, Equatable {
    /// Most requests one sender may have outstanding at the transport. With
    /// `sizesInFlightFromLatency` each sender's bound follows its rate and the endpoint's
    /// latency (`InFlightBudget`) between `inFlightPerSenderMin` and this.
    public var inFlightPerSenderMax: Int = 256
    /// Least of a sender's latency-sized bound.
    public var inFlightPerSenderMin: Int = 16
    /// Size each sender's bound by Little's law from measured answer times (`answered`),
    /// instead of the fixed `inFlightPerSenderMax`.
    public var sizesInFlightFromLatency: Bool = false
    /// Requests all senders together may have outstanding: what the transport's
    /// connections carry. More would queue inside the transport and leave in bursts.
    public var inFlightTotalMax: Int = .max
    /// Messages per `nextBatch` call.
    public var batchMax: Int = 1024
    /// A campaign queue shorter than this asks the engine to page in more.
    public var queueLowWatermark: Int = 256
    /// Messages the engine should read per refill.
    public var pageSize: Int = 1024
    /// Sending time to keep paged in per sender, at its current rate: a campaign queue
    /// asks for more below `max(queueLowWatermark, rate × staging / campaigns)`, so a
    /// slow refill (a journal commit held up by the disk) does not run a fast sender dry.
    public var stagingNanoseconds: Int64 = 0
    /// Staging of a campaign marked with `stageThinly` (at-most-once delivery): what is
    /// paged in is journaled `in_flight`, and after a crash every `in_flight` message of
    /// such a campaign ends `unknown`, sent or not. So it pages in only this much sending
    /// time, in pages of that size, at least `thinPageMin`.
    public var thinStagingNanoseconds: Int64 = 100_000_000
    public var thinPageMin: Int = 4
    /// The pacers' safety margin.
    public var safetyMargin: Double = Pacer.defaultSafetyMargin
    /// A sender that is cold (no message yet, or none for `coldAfterNanoseconds`) sends one
    /// message alone and paces the next ones from when it left (`departed`) or, without
    /// departure reports, from when it completed. Its first request
    /// may wait for a TCP and TLS handshake that later ones skip; without the probe the
    /// endpoint would see the first message late and the next ones squeezed up to it.
    public var probeColdSenders: Bool = false
    /// Idle time after which a sender counts as cold again (keep-alive connections may
    /// have closed).
    public var coldAfterNanoseconds: Int64 = 5_000_000_000
    /// The pacers' window guard counts when messages left (`departed`), reported by the
    /// engine, rather than when they were admitted (see `Pacer`).
    public var tracksDepartures: Bool = false

    public init() {}
}

/// Decides which queued messages may go now: per sender a `Pacer` (at the
/// `RateController`'s effective rate), an in-flight bound and a pause flag; per sender,
/// its campaigns are served round robin. Pure: the engine pages messages in, calls
/// `nextBatch(now:into:)`, sleeps until `nextWakeup(now:)`, and reports completions.
///
/// Finding ready senders: a min-heap of next-eligible instants with lazy invalidation
/// (each sender has a generation; an entry whose generation is not the sender's current
/// one, or whose sender is not ready, is skipped when it surfaces). A call costs
/// `O(k log n)` for the `k` senders that are due, not `O(n)` over every sender, so many
/// senders at 1000 msg/s each stay cheap. The heap's top is always valid after a
/// mutating call, so `nextWakeup` is exact and O(1).
///
/// ```swift
/// var scheduler = Scheduler(configuration: SchedulerConfiguration())
/// scheduler.upsertSender(sender, tierMessagesPerSecond: 80, burst: 1, paused: false, now: now)
/// scheduler.enqueue(page, now: now)
/// var batch: [MessageRecord] = []
/// scheduler.nextBatch(now: now, into: &batch)      // hand `batch` to the transport
/// let wake = scheduler.nextWakeup(now: now)        // sleep until then (nil: until an event)
/// ```
public struct Scheduler: Sendable {
    /// Bound on the number of senders.
    public static let sendersMax: Int = 100_000
    /// Bound on live campaigns per sender (round-robin members).
    public static let campaignsPerSenderMax: Int = 10_000
    /// The least rate a sender is paced at however much of its tier incoming messages take.
    public static let pacedRateMin: Double = 1

    /// What the engine should page in: messages of `campaign` after `after` (exclusive).
    public struct RefillRequest: Sendable, Equatable {
        public var sender: SenderID
        public var campaign: CampaignID
        public var after: MessageID?
        /// How many to read: at least `pageSize`, more for a fast sender.
        public var limit: Int
        public init(sender: SenderID, campaign: CampaignID, after: MessageID?, limit: Int) {
            self.sender = sender
            self.campaign = campaign
            self.after = after
            self.limit = limit
        }
    }

    public let configuration: SchedulerConfiguration

    var senders: [SenderState] = []
    var senderIndex: [SenderID: Int] = [:]
    /// Senders with an inbound meter (`tick` looks at them only when there are some).
    var metered = 0
    var heap = Heap<HeapEntry>()
    /// Messages dispatched and not yet `completed`, over all senders.
    public private(set) var inFlightTotal = 0
    /// The endpoint's answer times, and the senders' in-flight bounds sized from them.
    public internal(set) var budget = InFlightBudget(now: .zero)

    public init(configuration: SchedulerConfiguration = SchedulerConfiguration()) {
        precondition(configuration.inFlightPerSenderMax >= 1, "inFlightPerSenderMax must be ≥ 1")
        precondition(configuration.inFlightPerSenderMin >= 1, "inFlightPerSenderMin must be ≥ 1")
        precondition(configuration.inFlightTotalMax >= 1, "inFlightTotalMax must be ≥ 1")
        precondition(configuration.batchMax >= 1, "batchMax must be ≥ 1")
        precondition(configuration.queueLowWatermark >= 0 && configuration.pageSize >= 1, "paging sizes out of range")
        self.configuration = configuration
    }

    // MARK: - Senders

    /// Adds a sender or updates its tier, burst and pause flag; a tier change applies at once.
    public mutating func upsertSender(_ id: SenderID, tierMessagesPerSecond: Double, burst: Int, paused: Bool, now: Instant) {
        if let i = senderIndex[id] {
            senders[i].control.setTier(tierMessagesPerSecond, now: now)
            senders[i].pacer.setRate(messagesPerSecond: senders[i].pacedRate, burst: burst, now: now)
            senders[i].paused = paused
            senders[i].inFlightLimit = inFlightLimit(senders[i].pacer.messagesPerSecond)
            reschedule(i, now: now)
        } else {
            precondition(senders.count < Self.sendersMax, "too many senders")
            let state = SenderState(
                id: id,
                pacer: Pacer(
                    messagesPerSecond: tierMessagesPerSecond, burst: burst, safetyMargin: configuration.safetyMargin,
                    tracksDepartures: configuration.tracksDepartures, now: now),
                control: RateController(tierMessagesPerSecond: tierMessagesPerSecond, now: now),
                paused: paused, inFlightLimit: inFlightLimit(tierMessagesPerSecond))
            senderIndex[id] = senders.count
            senders.append(state)
        }
        purgeStaleTop()
    }

    /// Stops dispatching for the sender; queued messages stay.
    public mutating func pause(_ id: SenderID) {
        let i = index(id)
        senders[i].paused = true
        senders[i].generation &+= 1
        purgeStaleTop()
    }

    /// In a cluster: whether this node holds the sender's number. An unowned sender takes
    /// no slot and reads no page, whatever its pause; its queued messages stay.
    public mutating func setOwned(_ id: SenderID, _ owned: Bool, now: Instant) {
        let i = index(id)
        guard senders[i].unowned == owned else { return }
        senders[i].unowned = !owned
        if owned {
            reschedule(i, now: now)
        } else {
            senders[i].generation &+= 1
        }
        purgeStaleTop()
    }

    /// Whether the sender's number is this node's (always, outside a cluster); nil for an
    /// unknown sender.
    public func isOwned(sender: SenderID) -> Bool? {
        guard let i = senderIndex[sender] else { return nil }
        return !senders[i].unowned
    }

    /// Resumes dispatching for the sender.
    public mutating func resume(_ id: SenderID, now: Instant) {
        let i = index(id)
        senders[i].paused = false
        reschedule(i, now: now)
        purgeStaleTop()
    }

    /// Appends messages to their (sender, campaign) queues; a new campaign joins its
    /// sender's round robin (as exhausted: call `noteMoreAvailable` if the journal holds
    /// more of it). The sender must be known.
    public mutating func enqueue(_ messages: [MessageRecord], now: Instant) {
        var touched: [(index: Int, wasReady: Bool)] = []
        var lastSender: SenderID?
        var lastIndex = 0
        for message in messages {
            if message.sender != lastSender {
                lastIndex = index(message.sender)
                lastSender = message.sender
                if !touched.contains(where: { $0.index == lastIndex }) { touched.append((lastIndex, isReady(lastIndex))) }
            }
            senders[lastIndex].append(message, createExhausted: true)
        }
        // A sender that was ready keeps its (still exact) heap entry.
        for (i, wasReady) in touched where !wasReady { reschedule(i, now: now) }
        purgeStaleTop()
    }

    /// Puts a message back at the front of its campaign queue (throttled or paused before
    /// it was sent). Its in-flight slot is released separately with `completed`.
    public mutating func requeueFront(_ message: MessageRecord) {
        let i = index(message.sender)
        let wasReady = isReady(i)
        senders[i].prepend(message)
        // No `now` here: the pacer's latest instant is a valid lower bound for the key.
        if !wasReady { reschedule(i, now: senders[i].pacer.lastSeen) }
        purgeStaleTop()
    }

    // MARK: - Dispatch

    /// Appends every message that may go now, at most `batchMax`: per due sender, as many
    /// as its pacer admits within its in-flight room, taken round robin across its
    /// campaigns, while the total in flight stays within `inFlightTotalMax`. Increments
    /// the senders' in-flight counts.
    public mutating func nextBatch(now: Instant, into batch: inout [MessageRecord]) {
        var admissions: [UInt64] = []
        nextBatch(now: now, into: &batch, admissions: &admissions)
    }

    /// `nextBatch(now:into:)`, also appending each message's admission number at its
    /// sender's pacer, for `departed(sender:admission:at:)`.
    public mutating func nextBatch(now: Instant, into batch: inout [MessageRecord], admissions: inout [UInt64]) {
        var side: [SideAdmission] = []
        nextBatch(now: now, into: &batch, admissions: &admissions, side: &side)
    }

    /// `nextBatch(now:into:admissions:)`, also appending the side requests
    /// (`enqueueSide`) that got a slot: each sender's go before its messages.
    public mutating func nextBatch(now: Instant, into batch: inout [MessageRecord], admissions: inout [UInt64], side: inout [SideAdmission]) {
        let batchMax = min(configuration.batchMax, configuration.inFlightTotalMax - inFlightTotal)
        var added = 0
        while added < batchMax, let top = heap.min, top.instant <= now {
            heap.removeMin()
            guard isValid(top) else { continue }
            let i = top.sender
            let room = senders[i].inFlightLimit - senders[i].inFlight
            var wanted = min(room, senders[i].queued + senders[i].side, batchMax - added)
            assert(wanted > 0, "a valid heap entry belongs to a ready sender")
            let cold = configuration.probeColdSenders && isCold(i, now: now)
            if cold { wanted = 1 }
            let first = senders[i].pacer.admissionsTotal
            let admitted = senders[i].pacer.admit(upTo: wanted, now: now)
            let sideTaken = min(admitted, senders[i].side)
            for k in 0..<UInt64(sideTaken) { side.append(SideAdmission(sender: senders[i].id, admission: first &+ k)) }
            for k in UInt64(sideTaken)..<UInt64(admitted) { admissions.append(first &+ k) }
            if admitted > 0 {
                senders[i].lastDispatch = now
                if cold { senders[i].probing = true }
            }
            senders[i].side -= sideTaken
            senders[i].take(admitted - sideTaken, into: &batch)
            senders[i].inFlight += admitted
            inFlightTotal += admitted
            added += admitted
            assert(senders[i].inFlight <= senders[i].inFlightLimit)
            reschedule(i, now: now)
        }
        purgeStaleTop()
    }

    /// The earliest instant a sender with queued work and in-flight room may send (`now`
    /// when one may send now); nil when nothing becomes ready by time alone, which
    /// includes the total in-flight bound being reached (a completion ends that).
    public func nextWakeup(now: Instant) -> Instant? {
        guard inFlightTotal < configuration.inFlightTotalMax, let top = heap.min else { return nil }
        assert(isValid(top), "the heap top is kept valid")
        // `never`: every ready sender waits for a departure report (an event).
        return top.instant == .never ? nil : max(now, top.instant)
    }

    /// Releases `count` in-flight slots of the sender (its sends finished, whatever the
    /// outcome) at `now`; a cold sender's probe ends and its pacing restarts from `now`.
    public mutating func completed(sender: SenderID, count: Int, now: Instant? = nil) {
        let i = index(sender)
        precondition(count >= 0 && count <= senders[i].inFlight, "completed more than in flight")
        let wasBlocked = senders[i].inFlight >= senders[i].inFlightLimit || senders[i].probing
        senders[i].inFlight -= count
        inFlightTotal -= count
        senders[i].control.answered(count: count, now: now ?? senders[i].pacer.lastSeen)
        if senders[i].probing && count > 0 {
            senders[i].probing = false
            let at = now ?? senders[i].pacer.lastSeen
            senders[i].pacer.delayLastAdmission(to: at)
            senders[i].lastDispatch = at
        }
        if wasBlocked && count > 0 {
            reschedule(i, now: senders[i].pacer.lastSeen)
            purgeStaleTop()
        }
    }

    /// The message of `admission` (from `nextBatch`) left at `instant`, or will never leave.
    /// A cold sender's probe ends here, once its connection was ready: pacing restarts
    /// from then, without waiting for the answer (a whole endpoint latency at distance).
    public mutating func departed(sender: SenderID, admission: UInt64, at instant: Instant) {
        let i = index(sender)
        if senders[i].probing {
            // The probe is the only admission since the sender went cold: its slot moves to
            // when it left, and the grid with it.
            senders[i].probing = false
            senders[i].pacer.delayLastAdmission(to: instant)
            senders[i].lastDispatch = instant
            reschedule(i, now: instant)
            purgeStaleTop()
        } else if senders[i].pacer.departed(admission: admission, at: instant) {
            reschedule(i, now: instant)
            purgeStaleTop()
        }
    }

    /// A throttle from WhatsApp: the sender's effective rate decreases (AIMD) at once.
    /// A few refusals among many answers do not lower the rate (see `RateController`).
    /// The sender does not pause for them either: at distance their answers come a whole
    /// latency after the endpoint refused, so a pause would only lose sending time.
    public mutating func throttled(sender: SenderID, now: Instant) {
        let i = index(sender)
        if senders[i].control.throttled(now: now) { applyEffectiveRate(i, now: now) }
        purgeStaleTop()
    }

    /// AIMD recovery for every throttled sender. Cheap (one comparison per sender that
    /// is not reduced); call it each loop.
    /// Also re-sizes the in-flight bounds when the latency estimate moved (at most every
    /// `InFlightBudget.refreshNanoseconds`).
    public mutating func tick(now: Instant) {
        var changed = false
        for i in senders.indices where senders[i].control.isReduced {
            if senders[i].control.advance(now: now) {
                applyEffectiveRate(i, now: now)
                changed = true
            }
        }
        if metered > 0 {
            for i in senders.indices where senders[i].inbound != nil {
                if refreshInboundReserve(i, now: now) { changed = true }
            }
        }
        if configuration.sizesInFlightFromLatency && budget.refresh(now: now) {
            for i in senders.indices { resizeInFlight(i, now: now) }
            changed = true
        }
        if changed { purgeStaleTop() }
    }

    // MARK: - Queries

    /// Messages queued (paged in, not dispatched) for the sender.
    public func queuedCount(sender: SenderID) -> Int { senders[index(sender)].queued }

    /// Messages dispatched and not yet `completed` for the sender.
    public func inFlightCount(sender: SenderID) -> Int { senders[index(sender)].inFlight }

    /// The rate the sender is paced at now (its tier unless throttled or receiving); nil
    /// for an unknown sender.
    public func effectiveRate(sender: SenderID) -> Double? {
        guard let i = senderIndex[sender] else { return nil }
        return senders[i].pacedRate
    }

    /// Whether the sender is paused; nil for an unknown sender.
    public func isPaused(sender: SenderID) -> Bool? {
        guard let i = senderIndex[sender] else { return nil }
        return senders[i].paused
    }

    // MARK: - Internals

    func index(_ id: SenderID) -> Int {
        guard let i = senderIndex[id] else { preconditionFailure("unknown sender \(id)") }
        return i
    }

    mutating func applyEffectiveRate(_ i: Int, now: Instant) {
        let rate = senders[i].pacedRate
        guard rate != senders[i].pacer.messagesPerSecond else { return }
        senders[i].pacer.setRate(messagesPerSecond: rate, now: now)
        senders[i].inFlightLimit = inFlightLimit(rate)
        reschedule(i, now: now)
    }

    func isReady(_ i: Int) -> Bool {
        let s = senders[i]
        return !s.halted && !s.probing && (s.queued > 0 || s.side > 0) && s.inFlight < s.inFlightLimit
    }

    /// Nothing in flight, and nothing dispatched yet or for `coldAfterNanoseconds`.
    private func isCold(_ i: Int, now: Instant) -> Bool {
        guard senders[i].inFlight == 0 else { return false }
        guard let last = senders[i].lastDispatch else { return true }
        return now.nanoseconds - last.nanoseconds >= configuration.coldAfterNanoseconds
    }

    private func isValid(_ entry: HeapEntry) -> Bool {
        senders[entry.sender].generation == entry.generation && isReady(entry.sender)
    }

    /// Invalidates the sender's heap entry and, when it is ready, pushes a fresh one at
    /// its pacer's next eligible instant.
    mutating func reschedule(_ i: Int, now: Instant) {
        senders[i].generation &+= 1
        guard isReady(i) else { return }
        let due = max(senders[i].pacer.nextEligible(now: now), senders[i].heldUntil)
        heap.insert(HeapEntry(instant: due, sender: i, generation: senders[i].generation))
    }

    /// Pops invalid entries off the top so that `heap.min` is always a ready sender's
    /// current entry. Stale entries below the top surface and go later; there are at
    /// most as many as state changes since, and each is popped once.
    mutating func purgeStaleTop() {
        while let top = heap.min, !isValid(top) { heap.removeMin() }
    }
}

/// A sender's due instant in the scheduler's heap.
struct HeapEntry: Comparable, Sendable {
    var instant: Instant
    var sender: Int
    var generation: UInt64

    static func < (a: Self, b: Self) -> Bool {
        a.instant != b.instant ? a.instant < b.instant : a.sender < b.sender
    }
    static func == (a: Self, b: Self) -> Bool {
        a.instant == b.instant && a.sender == b.sender && a.generation == b.generation
    }
}
