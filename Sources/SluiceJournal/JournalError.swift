import SluiceCore

/// Why a journal operation failed. Each case names what to fix.
public enum JournalError: Error, Equatable, CustomStringConvertible {
    /// An LMDB call failed.
    case lmdb(call: String, code: Int32, message: String, path: String)
    /// The directory could not be created or used.
    case directory(path: String, reason: String)
    /// The directory holds something that is not a Sluice journal; it was not modified.
    case notAJournal(path: String, reason: String)
    /// A Sluice journal written with another schema version.
    case schemaVersion(path: String, found: UInt32, expected: UInt32)
    /// A stored record could not be decoded.
    case corruptRecord(path: String, table: String, key: String)
    /// A record's sealed section did not authenticate under the journal key: it was
    /// altered, or sealed under another key.
    case undecryptableRecord(path: String, table: String, key: String)
    /// The key file cannot be used (permissions wider than 0600, wrong size, unreadable,
    /// or it could not be created).
    case keyFile(path: String, reason: String)
    /// The journal holds encrypted records and its key file is missing: a new key would
    /// make them unreadable, so none is created.
    case keyMissing(path: String, keyFile: String)
    /// The key file does not open this journal's records.
    case wrongKey(path: String, keyFile: String)
    /// The journal holds encrypted records and was opened without a key.
    case keyRequired(path: String)
    /// Opened for inspection without its key: the journal takes no writes.
    case readOnly(path: String)
    /// The map reached `mapSizeBytesMax`.
    case mapFull(path: String, mapSizeBytes: Int, mapSizeBytesMax: Int)
    /// Too many records are waiting for the writer (`queuedRecordsMax`).
    case queueFull(queuedRecordsMax: Int)
    /// One `apply` call carries more records than `applyRecordsMax`.
    case tooManyRecords(count: Int, applyRecordsMax: Int)
    /// A mutation names a sender the journal does not hold.
    case unknownSender(SenderID)
    /// A mutation names a campaign the journal does not hold.
    case unknownCampaign(CampaignID)
    /// `deleteSender` for a sender that still has live work: `what` says which.
    case senderBusy(phoneNumberID: String, what: String)
    /// `putSender` with an id that another phone number (or this one, differently) holds.
    case senderIDConflict(SenderID, phoneNumberID: String)
    /// `createAPIKey` with an id the journal already holds.
    case apiKeyExists(id: String)
    /// `completeCampaign` or `cancelCampaign` on a campaign in a state that forbids it.
    case campaignState(CampaignID, state: CampaignState, expected: String)
    /// `putIdempotency` for a key that holds a live record.
    case idempotencyKeyExists(scope: String, key: String)
    /// `createSubscription` when `subscriptionsMax` subscribers exist.
    case tooManySubscriptions(subscriptionsMax: Int)
    /// A field that cannot be stored (too long, empty, too many parameters).
    case invalidField(field: String, reason: String)
    /// The journal was closed.
    case closed(path: String)
    /// Another process holds the journal for writing (its `sluice.lock`): a running
    /// `sluice serve`, or a compaction.
    case locked(path: String)

    /// The disk or the map is full: a write may succeed once space is freed.
    public var isStorageFull: Bool {
        switch self {
        case .mapFull: true
        // ENOSPC, EDQUOT: the data file could not grow; EIO: LMDB's answer to a short
        // write, which is how a full disk shows at commit.
        case let .lmdb(_, code, _, _): code == 28 || code == 122 || code == 5
        default: false
        }
    }

    /// A failure of the store, not of what was written: the same write may succeed later.
    public var isTransient: Bool {
        switch self {
        case .lmdb, .mapFull, .queueFull: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case let .lmdb(call, code, message, path):
            "journal \(path): \(call) failed: \(message) (LMDB error \(code))"
        case let .directory(path, reason):
            "journal \(path): cannot use the directory: \(reason)"
        case let .notAJournal(path, reason):
            "journal \(path): not a Sluice journal (\(reason)); refusing to open it, nothing was changed"
        case let .schemaVersion(path, found, expected):
            "journal \(path): schema version \(found), this build reads version \(expected)"
        case let .corruptRecord(path, table, key):
            "journal \(path): corrupt record in table '\(table)' at key \(key)"
        case let .undecryptableRecord(path, table, key):
            "journal \(path): record in table '\(table)' at key \(key) does not decrypt under the journal key (altered, or sealed under another key)"
        case let .keyFile(path, reason):
            "journal key file \(path): \(reason)"
        case let .keyMissing(path, keyFile):
            "journal \(path) holds encrypted records but its key file \(keyFile) is missing; restore it from the backup of the data directory (a new key would make the records unreadable, so none was created)"
        case let .wrongKey(path, keyFile):
            "journal \(path): the key in \(keyFile) is not the key this journal was encrypted with; restore the right key file"
        case let .keyRequired(path):
            "journal \(path) holds encrypted records: open it with its key file"
        case let .readOnly(path):
            "journal \(path) was opened without its key for inspection and takes no writes"
        case let .mapFull(path, size, max):
            "journal \(path): map full at \(size) bytes and mapSizeBytesMax is \(max)"
        case let .queueFull(max):
            "journal writer queue full (\(max) records waiting): retry later"
        case let .tooManyRecords(count, max):
            "one apply carries \(count) records, more than applyRecordsMax (\(max)): split it"
        case let .unknownSender(id):
            "unknown sender \(id)"
        case let .unknownCampaign(id):
            "unknown campaign \(id)"
        case let .senderBusy(phone, what):
            "sender '\(phone)' still has \(what); it can be deleted once that work has ended"
        case let .senderIDConflict(id, phone):
            "sender id \(id) conflicts with the id the journal holds for phone number id '\(phone)'"
        case let .apiKeyExists(id):
            "API key id '\(id)' already exists"
        case let .campaignState(id, state, expected):
            "campaign \(id) is \(state), expected \(expected)"
        case let .idempotencyKeyExists(scope, key):
            "idempotency key '\(key)' of \(scope) already holds an answer"
        case let .tooManySubscriptions(max):
            "\(max) subscriptions exist; delete one first"
        case let .invalidField(field, reason):
            "invalid \(field): \(reason)"
        case let .closed(path):
            "journal \(path) is closed"
        case let .locked(path):
            "journal \(path) is in use by another process (a running `sluice serve`, or a compaction): it holds \(path)/\(JournalLock.fileName); stop it first"
        }
    }
}

extension JournalError {
    init(_ error: LMDBError, path: String) {
        self = .lmdb(call: error.call, code: error.code, message: error.message, path: path)
    }

    /// A record that did not decode: corrupt, or undecryptable.
    init(record error: any Error, path: String, table: String, key: String) {
        if let short = error as? ByteReader.Short, short.undecryptable {
            self = .undecryptableRecord(path: path, table: table, key: key)
        } else {
            self = .corruptRecord(path: path, table: table, key: key)
        }
    }

    /// Maps whatever the write path threw to the public error.
    init(any error: any Error, path: String) {
        switch error {
        case let e as JournalError: self = e
        case let e as LMDBError: self.init(e, path: path)
        default: self = .invalidField(field: "journal", reason: "\(error)")
        }
    }
}
