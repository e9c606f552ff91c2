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
    let gate = ReaderGate()
    let writer: JournalWriter
    private let closeLock = NSLock()
    private var isClosed = false

    /// Opens the journal in `directory`, creating the directory and the journal if
    /// missing, and starts the writer thread. Refuses (without writing) a directory whose
    /// `data.mdb` is not a Sluice journal of this schema version.
    public init(directory: String, configuration: JournalConfiguration = .init()) throws(JournalError) {
        self.directory = directory
        self.configuration = configuration
        try Journal.prepareDirectory(directory)

        let env: Environment
        do {
            env = try Environment(directory: directory, mapSizeBytes: configuration.mapSizeBytes, noSync: !configuration.durable)
        } catch where error.code == MDB_INVALID || error.code == MDB_VERSION_MISMATCH {
            throw .notAJournal(path: directory, reason: "data.mdb is not an LMDB file of this version: \(error.message)")
        } catch {
            throw JournalError(error, path: directory)
        }
        do {
            // The file remembers the largest map it had: keep that when it is larger.
            try env.setMapSize(0)
            if try env.info().mapSizeBytes < configuration.mapSizeBytes {
                try env.setMapSize(configuration.mapSizeBytes)
            }
        } catch {
            throw JournalError(error, path: directory)
        }
        let (tables, state) = try Journal.openTables(env, path: directory)
        environment = env
        self.tables = tables
        writer = JournalWriter(environment: env, tables: tables, state: state, configuration: configuration, gate: gate, path: directory)
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
    }

    // MARK: Writes

    /// Queues `mutations` for the writer; `completion` runs on the writer thread after the
    /// transaction holding them committed (durably unless `durable` is false), or with the
    /// error that made this call fail. Other calls in the same transaction are unaffected
    /// by this call's failure. `completion` must not block (it holds up the writer) and
    /// must not call `recover`.
    public func apply(_ mutations: [JournalMutation], completion: @escaping @Sendable (Result<JournalReceipt, JournalError>) -> Void) {
        writer.enqueue(mutations, completion: completion)
    }

    /// Applies `mutations` in one transaction and returns once it committed.
    public func apply(_ mutations: [JournalMutation]) async throws(JournalError) -> JournalReceipt {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<JournalReceipt, JournalError>, Never>) in
            writer.enqueue(mutations) { continuation.resume(returning: $0) }
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
                mapGrowths: counters.mapGrowths)
        }
    }

    // MARK: Opening

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
    /// Sluice journal of this schema. Nothing is written unless the environment was empty
    /// or is a Sluice journal that lacks a table in `Schema.added` (created empty).
    private static func openTables(_ env: Environment, path: String) throws(JournalError) -> (Tables, WriterState) {
        do {
            let txn = try env.beginWrite()
            let isEmpty = try txn.entries(try txn.mainDatabase()) == 0
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
                subscriptions: opened[Schema.subscriptions]!, outbox: opened[Schema.outbox]!)
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
                guard found == Schema.version else { throw JournalError.schemaVersion(path: path, found: found, expected: Schema.version) }
            }
            let state = try WriterState.load(txn, tables, path: path)
            try txn.commit()
            return (tables, state)
        } catch {
            throw JournalError(any: error, path: path)
        }
    }

    private static func putMeta(_ txn: borrowing Transaction, _ tables: Tables, _ key: String, _ value: [UInt8]) throws {
        try Array(key.utf8).withUnsafeBytes { k in try value.withUnsafeBytes { v in try txn.put(tables.meta, k, v) } }
    }

    private static func getMeta(_ txn: borrowing Transaction, _ tables: Tables, _ key: String) throws -> [UInt8]? {
        try Array(key.utf8).withUnsafeBytes { k in try txn.get(tables.meta, k).map { Array($0) } }
    }
}
