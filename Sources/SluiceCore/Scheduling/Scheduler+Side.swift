/// A side request's slot: its sender's pacing admission, for `departed`.
public struct SideAdmission: Sendable, Equatable {
    public var sender: SenderID
    public var admission: UInt64
}

extension Scheduler {
    /// A request outside the campaigns (a read receipt) waits for one of the sender's
    /// pacing slots, like a message, ahead of its queued messages; `nextBatch` hands its
    /// slot out in `side`, counted in flight until `completed`.
    public mutating func enqueueSide(sender: SenderID, now: Instant) {
        guard let i = senderIndex[sender] else { preconditionFailure("unknown sender \(sender)") }
        senders[i].side += 1
        reschedule(i, now: now)
        purgeStaleTop()
    }

    /// Withdraws up to `count` waiting side requests of the sender (given up on); returns
    /// how many were waiting and are withdrawn.
    @discardableResult
    public mutating func withdrawSide(sender: SenderID, count: Int, now: Instant) -> Int {
        guard let i = senderIndex[sender] else { return 0 }
        let n = min(count, senders[i].side)
        senders[i].side -= n
        reschedule(i, now: now)
        purgeStaleTop()
        return n
    }

    /// Side requests of the sender waiting for a slot; nil for an unknown sender.
    public func sideCount(sender: SenderID) -> Int? {
        senderIndex[sender].map { senders[$0].side }
    }
}
