import SluiceCore

/// A snapshot of the journal's size and activity.
public struct JournalStatistics: Sendable, Equatable {
    /// Current map size (the most the file may grow to before the map is grown).
    public var mapSizeBytes: Int
    /// Pages in use × page size.
    public var usedBytes: Int
    public var pageSizeBytes: Int
    /// Entries per table.
    public var messages: Int
    public var pending: Int
    public var due: Int
    public var inFlight: Int
    public var campaigns: Int
    public var senders: Int
    public var subscriptions: Int
    /// Status events waiting for delivery, over every subscriber.
    public var outbox: Int
    /// The highest message id, nil when the journal holds no message.
    public var lastMessageID: MessageID?
    /// Write transactions committed since open (group commit: fewer than `applies`).
    public var commits: UInt64
    /// `apply` calls completed since open (successfully or not).
    public var applies: UInt64
    /// Times the map was doubled since open.
    public var mapGrowths: Int
    /// Size of `data.mdb` on disk (LMDB never shrinks it: `Journal.compact` does).
    public var fileBytes: Int
}

/// What `Journal.recover` found and did.
public struct RecoveryReport: Sendable, Equatable {
    /// Messages that were `in_flight` at the crash and are now `in_doubt`.
    public var inFlightToInDoubt: Int
    /// Messages that were `in_flight` at the crash but certainly never left (the
    /// departure record says so): back in `queued`, sent at once.
    public var inFlightToQueued: Int = 0
    /// Messages waiting in `queued`.
    public var queued: Int
    /// Messages waiting in `retry_at` or `in_doubt`.
    public var due: Int
    /// Messages per state across all campaigns.
    public var counts: StateCounts
    /// Work waiting per sender.
    public var senders: [SenderID: SenderBacklog]

    /// One sender's waiting work after recovery.
    public struct SenderBacklog: Sendable, Equatable {
        public var queued: Int
        public var due: Int
        public var earliestDueMilliseconds: Int64?
    }
}
