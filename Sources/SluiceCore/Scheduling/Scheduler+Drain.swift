extension Scheduler {
    /// Removes every paged-in message that waits for a slot (graceful shutdown: they go
    /// back to the journal's queue). In-flight counts are untouched.
    public mutating func drainQueued(into out: inout [MessageRecord]) {
        for i in senders.indices where senders[i].queued > 0 {
            senders[i].take(senders[i].queued, into: &out)
        }
    }
}
