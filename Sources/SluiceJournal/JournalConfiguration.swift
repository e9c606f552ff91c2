/// How a `Journal` opens its LMDB environment and bounds its writer.
///
///     var configuration = JournalConfiguration()
///     configuration.encryption = .keyFile("/var/lib/sluice/journal.key")
///     configuration.durable = false   // tests only: no fsync per commit
///     let journal = try Journal(directory: "/var/lib/sluice/journal", configuration: configuration)
public struct JournalConfiguration: Sendable {
    /// Initial map size. Doubled on `MDB_MAP_FULL` up to `mapSizeBytesMax`; a journal that
    /// already grew larger keeps its size when reopened.
    public var mapSizeBytes: Int = 1 << 30
    /// Ceiling for map growth; a batch that does not fit fails with `JournalError.mapFull`.
    public var mapSizeBytesMax: Int = 1 << 40
    /// When false, commits do not fsync (`MDB_NOSYNC`): for tests and benchmarks only.
    public var durable: Bool = true
    /// Records per write transaction (a message, a transition, a sender or a campaign
    /// each count one). Several `apply` calls share a transaction up to this cap; one call
    /// larger than the cap gets a transaction of its own (calls are never split).
    public var commitMutationsMax: Int = 8192
    /// Records waiting for the writer. `apply` fails with `JournalError.queueFull` beyond it.
    public var queuedRecordsMax: Int = 1 << 20
    /// Records in one `apply` call; larger calls fail with `JournalError.tooManyRecords`
    /// (it bounds LMDB's dirty pages per transaction).
    public var applyRecordsMax: Int = 1 << 20
    /// Whether tokens, secrets and payloads are encrypted at rest. The engine always
    /// uses `.keyFile`; `.plaintext` is for tests and benchmarks of the journal alone.
    public var encryption: JournalEncryption = .plaintext
    /// Takes the exclusive writer lock (`<directory>/sluice.lock`, `flock`): a second
    /// process opening the journal with it fails with `JournalError.locked`. False only
    /// for inspecting a journal that a running server may hold (`sluice journal stats`,
    /// `check`): such a reader must not `apply`.
    public var writerLock: Bool = true

    public init() {}
}

/// Encryption at rest of the journal's confidential fields (`RecordCipher`).
public enum JournalEncryption: Sendable, Equatable {
    /// AES-256-GCM under the 32-byte key in this file. The file is created (mode 0600)
    /// when missing — unless the journal already holds encrypted records, which then
    /// refuses to open (`JournalError.keyMissing`) rather than lose them to a new key.
    case keyFile(String)
    /// Fields in the clear. Refused (`JournalError.keyRequired`) for an encrypted journal.
    case plaintext
    /// Reading without the key (`sluice journal` when the key file is not readable):
    /// metadata reads as stored, sealed fields as `<encrypted>`; every write is refused.
    case inspectWithoutKey
}
