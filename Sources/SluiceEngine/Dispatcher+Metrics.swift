import SluiceJournal

/// What `/metrics` and `/readyz` read: cheap, from any thread.
extension Dispatcher {
    /// Table sizes and the map's size and use.
    public func journalStatistics() throws -> JournalStatistics { try journal.statistics() }

    /// How late the dispatch loop woke for a send it had paced, worst case over the last
    /// ~200 ms, in seconds: the pacing lag.
    public func dispatchLagSeconds() -> Double { Double(loop.lagNanoseconds()) / 1e9 }

    /// The endpoint's answer time at p99 (from when a request left to its answer, recent
    /// seconds), which sizes how many sends each sender may have in flight; the assumed
    /// 1 s before any answer.
    public func endpointLatencySeconds() -> Double { Double(loop.latencyNanoseconds()) / 1e9 }

    /// Campaigns the dispatch loop holds in memory (as of its last snapshot, ~200 ms).
    public func campaignsHeld() -> Int { loop.campaignsHeld() }

    /// Whether the dispatch loop runs (false after shutdown began and finished).
    public var isDispatching: Bool { loop.isRunning() }
}
