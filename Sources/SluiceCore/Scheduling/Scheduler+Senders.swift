import HeapModule

extension Scheduler {
    /// Keeps the sender from dispatching before `until` (its queue stays): its heap key is
    /// `max(pacer's next eligible instant, until)`, so its pacing slots are not spent on
    /// messages that could not go anyway (the messaging limit). A later `hold` replaces
    /// the earlier one; `hold(_, until: now)` ends it.
    public mutating func hold(_ sender: SenderID, until: Instant) {
        guard let i = senderIndex[sender] else { preconditionFailure("unknown sender \(sender)") }
        senders[i].heldUntil = until
        // No `now` here: the pacer's latest instant is a valid lower bound for the key.
        reschedule(i, now: senders[i].pacer.lastSeen)
        purgeStaleTop()
    }

    /// When the sender is held until (`.zero` when it never was); nil for an unknown sender.
    public func heldUntil(sender: SenderID) -> Instant? {
        senderIndex[sender].map { senders[$0].heldUntil }
    }

    /// Whether the scheduler knows the sender.
    public func hasSender(_ sender: SenderID) -> Bool { senderIndex[sender] != nil }

    /// Forgets a sender (deleted). Only for a sender with nothing queued and nothing in
    /// flight: the engine removes it after the journal confirmed it has no live work.
    /// Rare (an operator's act), so it costs O(senders): the last sender moves into the
    /// freed slot and the heap is rebuilt, leaving no entry that names a moved slot.
    public mutating func removeSender(_ sender: SenderID, now: Instant) {
        guard let i = senderIndex[sender] else { return }
        precondition(senders[i].queued == 0 && senders[i].side == 0 && senders[i].inFlight == 0, "removing sender \(sender) with work queued or in flight")
        senderIndex[sender] = nil
        if senders[i].inbound != nil { metered -= 1 }
        let last = senders.count - 1
        if i != last {
            senders.swapAt(i, last)
            senderIndex[senders[i].id] = i
        }
        senders.removeLast()
        heap = Heap()
        for j in senders.indices { reschedule(j, now: now) }
        purgeStaleTop()
    }
}
