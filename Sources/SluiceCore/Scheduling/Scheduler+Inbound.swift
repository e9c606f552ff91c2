extension Scheduler {
    /// `count` incoming messages for the sender at `now`: its paced rate leaves room for
    /// them at once when they raise its reserve (see `InboundReserve`), and `tick` lowers
    /// the reserve again when they stop.
    public mutating func noteInbound(sender: SenderID, count: Int, now: Instant) {
        guard let i = senderIndex[sender], count > 0 else { return }
        if senders[i].inbound == nil {
            senders[i].inbound = InboundReserve(now: now)
            metered += 1
        }
        senders[i].inbound!.record(count: count, now: now)
        if refreshInboundReserve(i, now: now) { purgeStaleTop() }
    }

    /// The rate the sender leaves free for incoming messages (0 when it has none); nil
    /// for an unknown sender.
    public func inboundReserve(sender: SenderID) -> Double? {
        senderIndex[sender].map { senders[$0].inboundReserve }
    }

    /// Re-reads the sender's reserve; true when its paced rate changed. Drops the meter
    /// once nothing came in for its hold.
    mutating func refreshInboundReserve(_ i: Int, now: Instant) -> Bool {
        guard var meter = senders[i].inbound else { return false }
        let reserve = meter.messagesPerSecond(now: now)
        if meter.isIdle(now: now) {
            senders[i].inbound = nil
            metered -= 1
        } else {
            senders[i].inbound = meter
        }
        guard reserve != senders[i].inboundReserve else { return false }
        let before = senders[i].pacedRate
        senders[i].inboundReserve = reserve
        guard senders[i].pacedRate != before else { return false }
        applyEffectiveRate(i, now: now)
        return true
    }
}
