import CLMDB
import Foundation
import SluiceCore

/// The durable message journal: one LMDB environment in a directory, one writer thread
/// that group-commits every mutation, and short read transactions from any thread.
///
///     let journal = try Journal(directory: "/var/lib/sluice/journal")
///     let report = try journal.recover(nowMilliseconds: now, inDoubtSettleMilliseconds: 60_000)
///     let receipt = try await journal.apply([.createCampaign(sender: s, message: body,
///                                                            createdMilliseconds: now, recipients: chunk)])
///     let batch = try journal.queuedMessages(sender: s, campaign: c, after: nil, limit: 500)
///     journal.close()
///
/// Nothing is acknowledged (the `apply` completion) before its transaction committed.
public final class Journal: @unchecked Sendable {
    /// The journal's directory.
    public let directory: String
    let configuration: JournalConfiguration
    let environment: Environment
    let tables: Tables
    /// Seals and opens the confidential fields of records (tokens, secrets, payloads).
    let cipher: RecordCipher
    /// The HMAC key of `contacts` keys (`ContactCodec`); nil when inspected without the key.
    let contactIndexKey: [UInt8]?
    /// The outbox is in schema version 1's layout: opened without the writer lock, not migrated.
    let outboxVersion1: Bool
    let gate = ReaderGate()
    let writer: JournalWriter
    /// Senders read since the writer's `committedSendersRevision` was `revision`.
    let senderCache = Locked<(revision: UInt64, records: [String: SenderRecord])>((0, [:]))
    private let closeLock = NSLock()
    private var isClosed = false
    /// The writer lock (`JournalLock`), nil when opened with `writerLock` false.
    private var lock: JournalLock?

    /// Opens the journal in `directory`, creating the directory and the journal if
    /// missing, and starts the writer thread. Refuses (without writing) a directory whose
    /// `data.mdb` is not a Sluice journal of this schema version. With `.keyFile`
    /// encryption, creates the key file when the journal holds nothing encrypted yet,
    /// and refuses a missing or wrong key otherwise.
    public init(directory: String, configuration: JournalConfiguration = .init()) throws(JournalError) {
        self.directory = directory
        self.configuration = configuration
        try Journal.prepareDirectory(directory)
        let lockFileExisted = FileManager.default.fileExists(atPath: directory + "/lock.mdb")
        let lock = try configuration.writerLock ? JournalLock(directory: directory) : nil
        let opened: (Environment, Tables, WriterState, RecordCipher, outboxVersion1: Bool)
        do {
            opened = try Journal.open(directory, configuration)
        } catch {
            // A directory that is not a journal is left as it was found: no lock files.
            if case .notAJournal = error, !lockFileExisted { unlink(directory + "/lock.mdb") }
            lock?.release(removingFile: lock?.created ?? false)
            throw error
        }
        let (env, tables, state, cipher, outboxVersion1) = opened
        self.outboxVersion1 = outboxVersion1
        self.lock = lock
        environment = env
        self.tables = tables
        self.cipher = cipher
        contactIndexKey = state.contactIndexKey
        writer = JournalWriter(environment: env, tables: tables, cipher: cipher, state: state, configuration: configuration, gate: gate, path: directory)
        writer.start()
    }

    deinit { close() }

    /// Commits everything queued, stops the writer and closes the environment (after the
    /// running reads end). Later calls fail with `JournalError.closed`. Idempotent.
    public func close() {
        closeLock.lock()
        defer { closeLock.unlock() }
        if isClosed { return }
        isClosed = true
        writer.stop()
        lock?.release()
        lock = nil
    }

    // MARK: Writes

    /// Queues `mutations` for the writer; `completion` runs on the writer thread after the
    /// transaction holding them committed (durably unless `durable` is false), or with the
    /// error that made this call fail. Other calls in the same transaction are unaffected
    /// by this call's failure. `completion` must not block (it holds up the writer) and
    /// must not call `recover`.
    public func apply(_ mutations: [JournalMutation], completion: @escaping @Sendable (Result<JournalReceipt, JournalError>) -> Void) {
        if cipher.isInspection { return completion(.failure(.readOnly(path: directory))) }
        writer.enqueue(mutations, completion: completion)
    }

    /// Applies `mutations` in one transaction and returns once it committed.
    public func apply(_ mutations: [JournalMutation]) async throws(JournalError) -> JournalReceipt {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<JournalReceipt, JournalError>, Never>) in
            apply(mutations) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    // MARK: Reads

    /// Runs `body` in a short read transaction, admitted by the reader gate.
    func read<T>(_ body: (borrowing Transaction) throws -> T) throws(JournalError) -> T {
        guard gate.enter() else { throw .closed(path: directory) }
        defer { gate.leave() }
        do {
            let txn = try environment.beginRead()
            do {
                let value = try body(txn)
                txn.abort()
                return value
            } catch {
                txn.abort()
                throw error
            }
        } catch {
            throw JournalError(any: error, path: directory)
        }
    }

    /// Map size, used bytes, entries per table and writer counters.
    public func statistics() throws(JournalError) -> JournalStatistics {
        let counters = writer.counters()
        return try read { txn in
            let info = try environment.info()
            let last = try txn.withCursor(tables.messages) { c in try c.last().map { MessageID(Key.id($0.key)) } }
            return JournalStatistics(
                mapSizeBytes: info.mapSizeBytes,
                usedBytes: (info.lastPage + 1) * info.pageSizeBytes,
                pageSizeBytes: info.pageSizeBytes,
                messages: try txn.entries(tables.messages),
                pending: try txn.entries(tables.pending),
                due: try txn.entries(tables.due),
                inFlight: try txn.entries(tables.inflight),
                campaigns: try txn.entries(tables.campaigns),
                senders: try txn.entries(tables.senders),
                subscriptions: try txn.entries(tables.subscriptions),
                outbox: try txn.entries(tables.outbox),
                lastMessageID: last,
                commits: counters.commits,
                applies: counters.applies,
                mapGrowths: counters.mapGrowths,
                fileBytes: Journal.dataFileBytes(directory) ?? 0)
        }
    }

    // MARK: Opening

    /// The environment with its map size settled, its tables, the writer's state and the cipher.
    private static func open(
        _ directory: String, _ configuration: JournalConfiguration
    ) throws(JournalError) -> (Environment, Tables, WriterState, RecordCipher, outboxVersion1: Bool) {
        var storedKey: [UInt8]?
        if case .keyFile(let path) = configuration.encryption { storedKey = try JournalKeyFile.load(path) }
        let fileBytes = Journal.dataFileBytes(directory)
        if fileBytes == 0 {
            // LMDB would make a new environment in it: an empty file where a journal was is
            // a loss to report, not a journal to start over (remove it to start a new one).
            throw .notAJournal(path: directory, reason: "data.mdb is empty (truncated?); remove it to start a new journal")
        }
        let env: Environment
        do {
            env = try Environment(directory: directory, mapSizeBytes: configuration.mapSizeBytes, noSync: !configuration.durable)
        } catch where error.code == MDB_INVALID || error.code == MDB_VERSION_MISMATCH {
            throw .notAJournal(path: directory, reason: "data.mdb is not an LMDB file of this version: \(error.message)")
        } catch {
            throw JournalError(error, path: directory)
        }
        do {
            // A file shorter than the pages its meta page counts was truncated: reading them
            // would fault (SIGBUS) rather than fail.
            let info = try env.info()
            if let fileBytes, fileBytes < (info.lastPage + 1) * info.pageSizeBytes {
                env.close()
                throw JournalError.notAJournal(
                    path: directory,
                    reason: "data.mdb is truncated: \(fileBytes) bytes, its meta page counts \((info.lastPage + 1) * info.pageSizeBytes)")
            }
            // The file remembers the largest map it had: keep that when it is larger.
            try env.setMapSize(0)
            if try env.info().mapSizeBytes < configuration.mapSizeBytes {
                try env.setMapSize(configuration.mapSizeBytes)
            }
        } catch let error as JournalError {
            throw error
        } catch {
            env.close()
            throw JournalError(any: error, path: directory)
        }
        do {
            let (tables, state, cipher, outboxVersion1) = try Journal.openTables(env, path: directory, encryption: configuration.encryption, storedKey: storedKey)
            // A reader without the writer lock may share the journal with an older build:
            // it leaves version 1 as it is (and reads both layouts).
            if outboxVersion1 && configuration.writerLock && !cipher.isInspection {
                _ = try Journal.migrateOutbox(env, tables, path: directory, mapSizeBytesMax: configuration.mapSizeBytesMax)
                return (env, tables, state, cipher, false)
            }
            return (env, tables, state, cipher, outboxVersion1)
        } catch {
            env.close()
            throw error
        }
    }

    /// Size of `<directory>/data.mdb`, nil when there is none.
    static func dataFileBytes(_ directory: String) -> Int? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/data.mdb") else { return nil }
        return (attributes[.size] as? NSNumber)?.intValue
    }

    private static func prepareDirectory(_ directory: String) throws(JournalError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { throw .directory(path: directory, reason: "a file, not a directory, is at this path") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .directory(path: directory, reason: "\(error.localizedDescription)")
        }
    }

    /// Creates the tables in an empty environment, or checks that an existing one is a
    /// Sluice journal of this schema. Nothing is written unless the environment was empty,
    /// is a Sluice journal that lacks a table in `Schema.added` (created empty), or is
    /// encrypted for the first time (the key check, and its senders and subscribers
    /// resealed). Then settles the key (`settleKey`).
    private static func openTables(
        _ env: Environment, path: String, encryption: JournalEncryption, storedKey: [UInt8]?
    ) throws(JournalError) -> (Tables, WriterState, RecordCipher, outboxVersion1: Bool) {
        do {
            let txn = try env.beginWrite()
            let isEmpty = try txn.entries(try txn.mainDatabase()) == 0
            var outboxVersion1 = false
            var opened: [String: Database] = [:]
            for name in Schema.all {
                let result = Result { () throws(LMDBError) -> Database? in try txn.openDatabase(name, create: isEmpty || Schema.added.contains(name)) }
                if case .failure(let error) = result, error.code == MDB_INCOMPATIBLE {
                    throw JournalError.notAJournal(path: path, reason: "'\(name)' is a key, not a table")
                }
                guard let db = try result.get() else { throw JournalError.notAJournal(path: path, reason: "no '\(name)' table") }
                opened[name] = db
            }
            let tables = Tables(
                meta: opened[Schema.meta]!, messages: opened[Schema.messages]!, pending: opened[Schema.pending]!,
                due: opened[Schema.due]!, inflight: opened[Schema.inflight]!, campaigns: opened[Schema.campaigns]!,
                senders: opened[Schema.senders]!, keys: opened[Schema.keys]!, idempotency: opened[Schema.idempotency]!,
                subscriptions: opened[Schema.subscriptions]!, outbox: opened[Schema.outbox]!, wamids: opened[Schema.wamids]!,
                inbound: opened[Schema.inbound]!, media: opened[Schema.media]!, mediaDue: opened[Schema.mediaDue]!,
                mediaBlobs: opened[Schema.mediaBlobs]!, contacts: opened[Schema.contacts]!, suppressed: opened[Schema.suppressed]!,
                mediaUploads: opened[Schema.mediaUploads]!)
            if isEmpty {
                try putMeta(txn, tables, Schema.metaMagicKey, Array(Schema.magic.utf8))
                try putMeta(txn, tables, Schema.metaVersionKey, withUnsafeBytes(of: Schema.version.bigEndian) { Array($0) })
            } else {
                let magic = try getMeta(txn, tables, Schema.metaMagicKey)
                guard let magic, magic == Array(Schema.magic.utf8) else {
                    throw JournalError.notAJournal(path: path, reason: "meta has no Sluice magic")
                }
                let version = try getMeta(txn, tables, Schema.metaVersionKey)
                guard let version, version.count == 4 else { throw JournalError.notAJournal(path: path, reason: "meta has no schema version") }
                let found = version.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }
                guard (1...Schema.version).contains(found) else { throw JournalError.schemaVersion(path: path, found: found, expected: Schema.version) }
                outboxVersion1 = found == 1
            }
            let cipher = try settleKey(txn, tables, path: path, encryption: encryption, storedKey: storedKey)
            var state = try WriterState.load(txn, tables, cipher, path: path)
            state.contactIndexKey = try ContactCodec.settleIndexKey(txn, tables, cipher, path: path)
            try txn.commit()
            return (tables, state, cipher, outboxVersion1)
        } catch {
            throw JournalError(any: error, path: path)
        }
    }

    /// The cipher for `encryption`, after checking it against the journal's key check.
    /// A journal encrypted for the first time gets its key file (when missing) and its key
    /// check, and its senders and subscribers — few records, holding the tokens and
    /// secrets — are rewritten sealed; older messages and campaigns stay readable as they
    /// are (format 1) and are sealed when next rewritten.
    private static func settleKey(
        _ txn: borrowing Transaction, _ tables: Tables, path: String, encryption: JournalEncryption, storedKey: [UInt8]?
    ) throws -> RecordCipher {
        let check = try getMeta(txn, tables, Schema.metaKeyCheckKey)
        switch encryption {
        case .plaintext:
            if check != nil { throw JournalError.keyRequired(path: path) }
            return RecordCipher(key: nil)
        case .inspectWithoutKey:
            return RecordCipher(key: nil, inspection: true)
        case .keyFile(let keyPath):
            if let check {
                guard let storedKey else { throw JournalError.keyMissing(path: path, keyFile: keyPath) }
                let cipher = RecordCipher(key: storedKey)
                guard cipher.verifies(keyCheck: check) else { throw JournalError.wrongKey(path: path, keyFile: keyPath) }
                return cipher
            }
            let cipher = RecordCipher(key: try storedKey ?? JournalKeyFile.create(keyPath))
            try reseal(txn, tables, cipher, path: path)
            try putMeta(txn, tables, Schema.metaKeyCheckKey, cipher.keyCheck())
            return cipher
        }
    }

    /// Rewrites every sender and subscriber record sealed under `cipher`.
    private static func reseal(_ txn: borrowing Transaction, _ tables: Tables, _ cipher: RecordCipher, path: String) throws {
        let clear = RecordCipher(key: nil)
        var senders: [SenderRecord] = []
        var subscriptions: [SubscriptionRecord] = []
        try txn.withCursor(tables.senders) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                let phone = String(decoding: key, as: UTF8.self)
                do { senders.append(try SenderCodec.read(phoneNumberID: phone, value, clear)) } catch {
                    throw JournalError(record: error, path: path, table: Schema.senders, key: phone)
                }
                entry = try c.next()
            }
        }
        try txn.withCursor(tables.subscriptions) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                let id = Key.id(key)
                do { subscriptions.append(try SubscriptionCodec.read(id: id, value, clear)) } catch {
                    throw JournalError(record: error, path: path, table: Schema.subscriptions, key: String(id))
                }
                entry = try c.next()
            }
        }
        try ContactCodec.resealIndexKey(txn, tables, from: clear, to: cipher, path: path)
        for s in senders {
            try Array(s.phoneNumberID.utf8).withUnsafeBytes { key in
                try txn.putReserving(tables.senders, key, count: SenderCodec.size(s, cipher), append: false) { SenderCodec.write(s, cipher, to: $0) }
            }
        }
        for s in subscriptions {
            try Key(id: s.id).withBytes { key in
                try txn.putReserving(tables.subscriptions, key, count: SubscriptionCodec.size(s, cipher), append: false) { SubscriptionCodec.write(s, cipher, to: $0) }
            }
        }
    }

    private static func putMeta(_ txn: borrowing Transaction, _ tables: Tables, _ key: String, _ value: [UInt8]) throws {
        try Array(key.utf8).withUnsafeBytes { k in try value.withUnsafeBytes { v in try txn.put(tables.meta, k, v) } }
    }

    private static func getMeta(_ txn: borrowing Transaction, _ tables: Tables, _ key: String) throws -> [UInt8]? {
        try Array(key.utf8).withUnsafeBytes { k in try txn.get(tables.meta, k).map { Array($0) } }
    }
}
