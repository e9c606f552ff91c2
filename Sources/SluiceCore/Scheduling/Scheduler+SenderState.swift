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

/// A sender's pacing, bounds and round robin of campaign queues.
struct SenderState: Sendable {
    let id: SenderID
    var pacer: Pacer
    var control: RateController
    var paused: Bool
    var inFlight: Int = 0
    /// A cold sender's first message is on the wire alone (`probeColdSenders`).
    var probing = false
    /// When the sender last dispatched; nil before its first message.
    var lastDispatch: Instant?
    /// Not due before this (`Scheduler.hold`, the messaging limit); `.zero`: not held.
    var heldUntil: Instant = .zero
    /// Messages across `rotation`.
    var queued: Int = 0
    /// Bumped on every reschedule: older heap entries are stale.
    var generation: UInt64 = 0
    /// Live campaigns in round-robin order.
    var rotation: [CampaignQueue] = []
    /// Position in `rotation` of the campaign served next.
    var cursor: Int = 0
    /// `rotation` index by campaign.
    var position: [CampaignID: Int] = [:]
    /// Cursors of campaigns that left the round robin (empty and exhausted), kept so a
    /// campaign that gets more intake pages in after them and never from the start.
    var retiredAfter: [CampaignID: MessageID] = [:]

    init(id: SenderID, pacer: Pacer, control: RateController, paused: Bool) {
        self.id = id
        self.pacer = pacer
        self.control = control
        self.paused = paused
    }

    /// The campaign's `rotation` index, joining the round robin if needed (at the end,
    /// i.e. just before the campaign served next comes round again).
    mutating func queueIndex(_ campaign: CampaignID, createExhausted: Bool) -> Int {
        if let j = position[campaign] { return j }
        precondition(rotation.count < Scheduler.campaignsPerSenderMax, "too many campaigns for one sender")
        let after = retiredAfter.removeValue(forKey: campaign)
        let j = rotation.count
        rotation.append(CampaignQueue(campaign: campaign, after: after, exhausted: createExhausted))
        position[campaign] = j
        return j
    }

    mutating func append(_ message: MessageRecord, createExhausted: Bool) {
        precondition(message.sender == id, "message for another sender")
        let j = queueIndex(message.campaign, createExhausted: createExhausted)
        rotation[j].messages.append(message)
        if let after = rotation[j].after {
            rotation[j].after = max(after, message.id)
        } else {
            rotation[j].after = message.id
        }
        queued += 1
    }

    mutating func prepend(_ message: MessageRecord) {
        precondition(message.sender == id, "message for another sender")
        let j = queueIndex(message.campaign, createExhausted: true)
        rotation[j].messages.prepend(message)
        // The paging cursor is left alone: a requeued or due message may be older than
        // queued messages of its campaign that were never paged in.
        queued += 1
    }

    mutating func setExhausted(campaign: CampaignID, _ exhausted: Bool) {
        let j = queueIndex(campaign, createExhausted: exhausted)
        rotation[j].exhausted = exhausted
        if exhausted && rotation[j].messages.isEmpty { retire(j) }
    }

    /// Takes `count` messages round robin across campaigns, one per campaign per turn.
    mutating func take(_ count: Int, into batch: inout [MessageRecord]) {
        precondition(count >= 0 && count <= queued, "taking more than queued")
        var remaining = count
        var retiring = false
        while remaining > 0 {
            // Bounded: `queued > 0` guarantees a non-empty queue within one lap.
            var lap = 0
            while rotation[cursor].messages.isEmpty {
                cursor += 1
                if cursor == rotation.count { cursor = 0 }
                lap += 1
                assert(lap <= rotation.count, "queued count out of step with the queues")
            }
            let message = rotation[cursor].messages.removeFirst()
            batch.append(message)
            if rotation[cursor].messages.isEmpty && rotation[cursor].exhausted { retiring = true }
            cursor += 1
            if cursor == rotation.count { cursor = 0 }
            remaining -= 1
        }
        queued -= count
        if retiring { retireEmptyExhausted() }
    }

    private mutating func retireEmptyExhausted() {
        var j = rotation.count - 1
        while j >= 0 {
            if rotation[j].messages.isEmpty && rotation[j].exhausted { retire(j) }
            j -= 1
        }
    }

    /// Removes `rotation[j]` (empty), keeping the round-robin order of the others.
    private mutating func retire(_ j: Int) {
        assert(rotation[j].messages.isEmpty)
        let queue = rotation.remove(at: j)
        position[queue.campaign] = nil
        if let after = queue.after { retiredAfter[queue.campaign] = after }
        if j < cursor { cursor -= 1 }
        if cursor >= rotation.count { cursor = 0 }
        for k in j..<rotation.count { position[rotation[k].campaign] = k }
    }
}
