/// In-flight bounds by Little's law: each sender's bound follows its paced rate and the
/// endpoint's measured answer time (`InFlightBudget`).
extension Scheduler {
    /// An answer came back `latencyNanoseconds` after its message was dispatched (any
    /// answer from the endpoint; not a request that never left). Sizes the in-flight
    /// bounds at the next `tick`.
    public mutating func answered(latencyNanoseconds: Int64, now: Instant) {
        budget.record(latencyNanoseconds: latencyNanoseconds, now: now)
    }

    /// The sender's in-flight bound now; nil for an unknown sender.
    public func inFlightLimit(sender: SenderID) -> Int? {
        guard let i = senderIndex[sender] else { return nil }
        return senders[i].inFlightLimit
    }

    /// A sender's in-flight bound at `messagesPerSecond`.
    func inFlightLimit(_ messagesPerSecond: Double) -> Int {
        let upper = configuration.inFlightPerSenderMax
        guard configuration.sizesInFlightFromLatency else { return upper }
        return budget.limit(messagesPerSecond: messagesPerSecond, min: min(configuration.inFlightPerSenderMin, upper), max: upper)
    }

    /// Applies a new latency estimate to the sender; one that was held by its old bound
    /// and is not any more becomes due.
    mutating func resizeInFlight(_ i: Int, now: Instant) {
        let limit = inFlightLimit(senders[i].pacer.messagesPerSecond)
        let old = senders[i].inFlightLimit
        guard limit != old else { return }
        senders[i].inFlightLimit = limit
        if senders[i].inFlight >= old && senders[i].inFlight < limit { reschedule(i, now: now) }
    }
}
