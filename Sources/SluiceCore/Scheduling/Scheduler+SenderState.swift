import DequeModule

/// One campaign's paged-in messages and paging cursor.
struct CampaignQueue: Sendable {
    var campaign: CampaignID
    var messages: Deque<MessageRecord> = []
    /// The highest message id ever enqueued for the campaign (ids are monotonic).
    var after: MessageID?
    /// The journal had nothing after `after` at the last refill.
    var exhausted: Bool
}

/// Campaign queues of one priority, served round robin.
struct Rotation: Sendable {
    /// Live campaigns in round-robin order.
    var queues: [CampaignQueue] = []
    /// Position in `queues` of the campaign served next.
    var cursor: Int = 0
    /// `queues` index by campaign.
    var position: [CampaignID: Int] = [:]
    /// Messages across `queues`.
    var queued: Int = 0

    /// Takes `count` messages, one per campaign per turn. Returns the queues that became
    /// empty and exhausted, removed from the rotation.
    mutating func take(_ count: Int, into batch: inout [MessageRecord]) -> [CampaignQueue] {
        precondition(count >= 0 && count <= queued, "taking more than queued")
        var remaining = count
        var retiring = false
        while remaining > 0 {
            // Bounded: `queued > 0` guarantees a non-empty queue within one lap.
            var lap = 0
            while queues[cursor].messages.isEmpty {
                cursor += 1
                if cursor == queues.count { cursor = 0 }
                lap += 1
                assert(lap <= queues.count, "queued count out of step with the queues")
            }
            let message = queues[cursor].messages.removeFirst()
            batch.append(message)
            if queues[cursor].messages.isEmpty && queues[cursor].exhausted { retiring = true }
            cursor += 1
            if cursor == queues.count { cursor = 0 }
            remaining -= 1
        }
        queued -= count
        guard retiring else { return [] }
        var retired: [CampaignQueue] = []
        var j = queues.count - 1
        while j >= 0 {
            if queues[j].messages.isEmpty && queues[j].exhausted { retired.append(remove(j)) }
            j -= 1
        }
        return retired
    }

    /// Removes `queues[j]`, keeping the round-robin order of the others.
    mutating func remove(_ j: Int) -> CampaignQueue {
        let queue = queues.remove(at: j)
        queued -= queue.messages.count
        position[queue.campaign] = nil
        if j < cursor { cursor -= 1 }
        if cursor >= queues.count { cursor = 0 }
        for k in j..<queues.count { position[queues[k].campaign] = k }
        return queue
    }

    /// Appends a queue (it joins just before the campaign served next comes round again).
    mutating func insert(_ queue: CampaignQueue) -> Int {
        let j = queues.count
        queues.append(queue)
        position[queue.campaign] = j
        queued += queue.messages.count
        return j
    }
}

/// A sender's pacing, bounds and campaign queues: `transactional` campaigns round robin,
/// and `marketing` ones round robin when no transactional message waits.
struct SenderState: Sendable {
    let id: SenderID
    var pacer: Pacer
    var control: RateController
    var paused: Bool
    /// In a cluster: this node does not hold the number now (another node paces it, or
    /// its lease could not be renewed in time).
    var unowned = false
    /// Takes no slot and reads no page: paused, or not this node's.
    var halted: Bool { paused || unowned }
    var inFlight: Int = 0
    /// Most requests this sender may have outstanding now (see `InFlightBudget`).
    var inFlightLimit: Int
    /// A cold sender's first message is on the wire alone (`probeColdSenders`).
    var probing = false
    /// When the sender last dispatched; nil before its first message.
    var lastDispatch: Instant?
    /// Not due before this (`Scheduler.hold`, the messaging limit); `.zero`: not held.
    var heldUntil: Instant = .zero
    /// The number's incoming messages, while it has any (nil: none within the hold).
    var inbound: InboundReserve?
    /// The rate left free for them (`inbound`'s reserve when last applied).
    var inboundReserve: Double = 0
    /// Messages across the lanes.
    var queued: Int = 0
    /// Requests outside the campaigns (read receipts) waiting for a slot: they go first.
    var side: Int = 0
    /// Bumped on every reschedule: older heap entries are stale.
    var generation: UInt64 = 0
    /// One rotation per `CampaignPriority`, served in that order.
    var lanes: [Rotation] = Array(repeating: Rotation(), count: CampaignPriority.allCases.count)
    /// Campaigns not `marketing` (the default).
    var priorities: [CampaignID: CampaignPriority] = [:]
    /// Campaigns paged in `thinStagingNanoseconds` at a time.
    var thinlyStaged: Set<CampaignID> = []
    /// Cursors of campaigns that left the round robin (empty and exhausted), kept so a
    /// campaign that gets more intake pages in after them and never from the start.
    var retiredAfter: [CampaignID: MessageID] = [:]

    init(id: SenderID, pacer: Pacer, control: RateController, paused: Bool, inFlightLimit: Int) {
        self.id = id
        self.pacer = pacer
        self.control = control
        self.paused = paused
        self.inFlightLimit = inFlightLimit
    }

    var campaignCount: Int { lanes.reduce(0) { $0 + $1.queues.count } }

    /// The rate to pace at: the controller's, within what incoming messages leave of the
    /// tier, and at least `Scheduler.pacedRateMin`.
    var pacedRate: Double {
        let left = control.tierMessagesPerSecond - inboundReserve
        return max(min(Scheduler.pacedRateMin, control.tierMessagesPerSecond), min(control.effectiveMessagesPerSecond, left))
    }

    func lane(of campaign: CampaignID) -> Int { Int((priorities[campaign] ?? .marketing).rawValue) }

    /// The campaign's lane and queue index, joining its rotation if needed.
    mutating func queueIndex(_ campaign: CampaignID, createExhausted: Bool) -> (lane: Int, index: Int) {
        let l = lane(of: campaign)
        if let j = lanes[l].position[campaign] { return (l, j) }
        precondition(campaignCount < Scheduler.campaignsPerSenderMax, "too many campaigns for one sender")
        let after = retiredAfter.removeValue(forKey: campaign)
        return (l, lanes[l].insert(CampaignQueue(campaign: campaign, after: after, exhausted: createExhausted)))
    }

    mutating func append(_ message: MessageRecord, createExhausted: Bool) {
        precondition(message.sender == id, "message for another sender")
        let (l, j) = queueIndex(message.campaign, createExhausted: createExhausted)
        lanes[l].queues[j].messages.append(message)
        if let after = lanes[l].queues[j].after {
            lanes[l].queues[j].after = max(after, message.id)
        } else {
            lanes[l].queues[j].after = message.id
        }
        lanes[l].queued += 1
        queued += 1
    }

    mutating func prepend(_ message: MessageRecord) {
        precondition(message.sender == id, "message for another sender")
        let (l, j) = queueIndex(message.campaign, createExhausted: true)
        lanes[l].queues[j].messages.prepend(message)
        // The paging cursor is left alone: a requeued or due message may be older than
        // queued messages of its campaign that were never paged in.
        lanes[l].queued += 1
        queued += 1
    }

    mutating func setExhausted(campaign: CampaignID, _ exhausted: Bool) {
        let (l, j) = queueIndex(campaign, createExhausted: exhausted)
        lanes[l].queues[j].exhausted = exhausted
        if exhausted && lanes[l].queues[j].messages.isEmpty { retire(lanes[l].remove(j)) }
    }

    /// Takes `count` messages: from the transactional rotation first.
    mutating func take(_ count: Int, into batch: inout [MessageRecord]) {
        precondition(count >= 0 && count <= queued, "taking more than queued")
        var remaining = count
        for l in lanes.indices where remaining > 0 {
            let n = min(remaining, lanes[l].queued)
            guard n > 0 else { continue }
            for queue in lanes[l].take(n, into: &batch) { retire(queue) }
            remaining -= n
        }
        queued -= count
    }

    /// Takes the campaign's queue out of its rotation with its messages; it pages in from
    /// the start of the journal's queue when it comes back.
    mutating func removeQueue(_ campaign: CampaignID, into out: inout [MessageRecord]) {
        retiredAfter[campaign] = nil
        let l = lane(of: campaign)
        guard let j = lanes[l].position[campaign] else { return }
        let queue = lanes[l].remove(j)
        out.append(contentsOf: queue.messages)
        queued -= queue.messages.count
    }

    /// Moves the campaign's queue, if any, to the rotation of `priority`.
    mutating func setPriority(_ campaign: CampaignID, _ priority: CampaignPriority) {
        let from = lane(of: campaign)
        priorities[campaign] = priority == .marketing ? nil : priority
        let to = Int(priority.rawValue)
        guard from != to, let j = lanes[from].position[campaign] else { return }
        _ = lanes[to].insert(lanes[from].remove(j))
    }

    private mutating func retire(_ queue: CampaignQueue) {
        assert(queue.messages.isEmpty)
        if let after = queue.after { retiredAfter[queue.campaign] = after }
    }
}
