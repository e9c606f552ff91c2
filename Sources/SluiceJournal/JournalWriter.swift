import Foundation
import SluiceCore

/// What the writer knows beyond the tables. A value: a failed caller's changes are undone
/// by restoring the copy taken before it, a failed batch by not keeping the new one.
struct WriterState {
    var nextMessageID: UInt64
    var nextCampaignID: UInt64
    var nextSenderID: UInt32
    var senderIDs: [String: SenderID]
    var senderPhones: [SenderID: String]
    /// Campaigns touched by the current transaction, written once each before commit.
    var campaigns: [CampaignID: CampaignRecord] = [:]
    /// Subscribers and the next event id (JournalWriter+Outbox.swift).
    var outbox = OutboxState()
    /// The HMAC key of `contacts` keys; nil only when opened for inspection without the key.
    var contactIndexKey: [UInt8]?
    /// Senders that enforce the customer service window.
    var windowEnforced: Set<SenderID> = []
    /// Whether each campaign's message is free-form (not a template): read once, it never changes.
    var freeForm: [CampaignID: Bool] = [:]
    /// Whether each sender's number has any suppressed contact; absent: not looked up
    /// since it last changed.
    var numbersWithSuppressions: [SenderID: Bool] = [:]
    /// Bumped by every sender write or deletion; published after its commit.
    var sendersRevision: UInt64 = 0

    static func load(_ txn: borrowing Transaction, _ tables: Tables, _ cipher: RecordCipher, path: String) throws -> WriterState {
        // Ids start at 1 and are never reused: next = last key + 1.
        let lastMessage = try txn.withCursor(tables.messages) { c in try c.last().map { Key.id($0.key) } } ?? 0
        let lastCampaign = try txn.withCursor(tables.campaigns) { c in try c.last().map { Key.id($0.key) } } ?? 0
        // Discarded messages leave a floor, so that their ids are not given out again.
        let floor = try Array(Schema.metaNextMessageIDKey.utf8).withUnsafeBytes { k in
            try txn.get(tables.meta, k).flatMap { $0.count == 8 ? UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) : nil }
        } ?? 0
        let campaignFloor = try Array(Schema.metaNextCampaignIDKey.utf8).withUnsafeBytes { k in
            try txn.get(tables.meta, k).flatMap { $0.count == 8 ? UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) : nil }
        } ?? 0
        var state = WriterState(
            nextMessageID: max(lastMessage + 1, floor), nextCampaignID: max(lastCampaign + 1, campaignFloor), nextSenderID: 1,
            senderIDs: [:], senderPhones: [:])
        try txn.withCursor(tables.senders) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                let phone = String(decoding: key, as: UTF8.self)
                guard let id = try? SenderCodec.readID(value) else {
                    throw JournalError.corruptRecord(path: path, table: Schema.senders, key: phone)
                }
                state.senderIDs[phone] = id
                state.senderPhones[id] = phone
                if SenderCodec.enforcesWindow(value) { state.windowEnforced.insert(id) }
                state.nextSenderID = max(state.nextSenderID, id.rawValue + 1)
                entry = try c.next()
            }
        }
        state.outbox = try OutboxState.load(txn, tables, cipher, path: path)
        return state
    }
}

/// The one thread that owns every write transaction. Producers enqueue; the thread takes
/// everything queued (up to `commitMutationsMax` records), applies it in one transaction,
/// commits, then runs the completions: group commit.
final class JournalWriter: @unchecked Sendable {
    typealias Completion = @Sendable (Result<JournalReceipt, JournalError>) -> Void

    enum Job {
        case apply([JournalMutation], records: Int, Completion)
        case recover(nowMilliseconds: Int64, settleMilliseconds: Int64, departures: DepartureEvidence?, @Sendable (Result<RecoveryReport, JournalError>) -> Void)
    }

    /// `WriterState.sendersRevision` of the last commit: readers' cached senders are
    /// good while it holds.
    let committedSendersRevision = Locked<UInt64>(0)
    /// The next event id after the last commit: it moves when a commit added outbox
    /// events, which subscriber deliveries wait for.
    let committedNextEventID = Locked<UInt64>(0)

    struct Counters {
        var commits: UInt64 = 0
        var applies: UInt64 = 0
        var mapGrowths = 0
    }

    let environment: Environment
    let tables: Tables
    let cipher: RecordCipher
    let configuration: JournalConfiguration
    let gate: ReaderGate
    let path: String

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var queuedRecords = 0
    private var stopping = false
    private var counts = Counters()
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?

    // Owned by the writer thread.
    var state: WriterState
    /// Reused buffer for rewriting message records.
    var scratch: [UInt8] = []

    init(
        environment: Environment, tables: Tables, cipher: RecordCipher, state: WriterState, configuration: JournalConfiguration,
        gate: ReaderGate, path: String
    ) {
        self.environment = environment
        self.tables = tables
        self.cipher = cipher
        self.state = state
        self.configuration = configuration
        self.gate = gate
        self.path = path
        scratch.reserveCapacity(4096)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "sluice-journal-writer"
        self.thread = thread
        thread.start()
    }

    /// Lets the writer drain the queue and close the environment, and waits for that,
    /// unless called on the writer thread itself (from a completion), where waiting
    /// would never end: the thread then closes the environment once its loop exits.
    func stop() {
        condition.lock()
        let wasRunning = !stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if wasRunning && Thread.current !== thread { finished.wait() }
    }

    func counters() -> Counters {
        condition.lock()
        defer { condition.unlock() }
        return counts
    }

    // MARK: Producers

    func enqueue(_ mutations: [JournalMutation], completion: @escaping Completion) {
        var records = 0
        for m in mutations { records += m.recordCount }
        if records > configuration.applyRecordsMax {
            completion(.failure(.tooManyRecords(count: records, applyRecordsMax: configuration.applyRecordsMax)))
            return
        }
        condition.lock()
        if stopping {
            condition.unlock()
            completion(.failure(.closed(path: path)))
            return
        }
        // An empty queue always admits, so that one large call can never be refused forever.
        if queuedRecords > 0 && queuedRecords + records > configuration.queuedRecordsMax {
            condition.unlock()
            completion(.failure(.queueFull(queuedRecordsMax: configuration.queuedRecordsMax)))
            return
        }
        queue.append(.apply(mutations, records: records, completion))
        queuedRecords += records
        condition.signal()
        condition.unlock()
    }

    func enqueueRecovery(nowMilliseconds: Int64, settleMilliseconds: Int64, departures: DepartureEvidence?, completion: @escaping @Sendable (Result<RecoveryReport, JournalError>) -> Void) {
        condition.lock()
        if stopping {
            condition.unlock()
            completion(.failure(.closed(path: path)))
            return
        }
        queue.append(.recover(nowMilliseconds: nowMilliseconds, settleMilliseconds: settleMilliseconds, departures: departures, completion))
        condition.signal()
        condition.unlock()
    }

    // MARK: The writer thread

    private func run() {
        while let jobs = nextJobs() {
            if case let .recover(now, settle, departures, completion) = jobs[0] {
                assert(jobs.count == 1)
                completion(runRecovery(nowMilliseconds: now, settleMilliseconds: settle, departures: departures))
                continue
            }
            var batch: [(mutations: [JournalMutation], completion: Completion)] = []
            batch.reserveCapacity(jobs.count)
            for case let .apply(mutations, _, completion) in jobs { batch.append((mutations, completion)) }
            let outcomes = process(batch.map(\.mutations))
            condition.lock()
            counts.applies += UInt64(batch.count)
            condition.unlock()
            // Completions after the commit, outside every lock.
            for (job, outcome) in zip(batch, outcomes) { job.completion(outcome) }
        }
        gate.exclusively(closing: true) { environment.close() }
        finished.signal()
    }

    /// Waits for work; takes a recovery alone, or applies up to `commitMutationsMax`
    /// records (at least one call). Nil when stopping and drained.
    private func nextJobs() -> [Job]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !stopping { condition.wait() }
        if queue.isEmpty { return nil }
        if case .recover = queue[0] { return [queue.removeFirst()] }
        var taken = 0
        var records = 0
        for job in queue {
            guard case let .apply(_, n, _) = job else { break }
            if taken > 0 && records + n > configuration.commitMutationsMax { break }
            taken += 1
            records += n
        }
        let jobs = Array(queue[0..<taken])
        queue.removeFirst(taken)
        queuedRecords -= records
        return jobs
    }

    /// Applies the calls in one transaction, growing the map and retrying the whole batch
    /// on `MDB_MAP_FULL`. One result per call.
    private func process(_ calls: [[JournalMutation]]) -> [Result<JournalReceipt, JournalError>] {
        while true {
            do {
                return try applyBatch(calls)
            } catch let error as LMDBError where error.isMapFull {
                if let failure = growMap() { return calls.map { _ in .failure(failure) } }
            } catch {
                let failure = JournalError(any: error, path: path)
                return calls.map { _ in .failure(failure) }
            }
        }
    }

    /// One write transaction. With several callers, each runs in a nested transaction so
    /// that a failing caller (unknown campaign, …) is rolled back alone; a single caller
    /// runs in the top transaction, which is simply aborted when it fails. Throws only
    /// what fails the whole batch (map full, commit failure).
    private func applyBatch(_ calls: [[JournalMutation]]) throws -> [Result<JournalReceipt, JournalError>] {
        var next = state
        let txn = try environment.beginWrite()
        var outcomes: [Result<JournalReceipt, JournalError>] = []
        outcomes.reserveCapacity(calls.count)
        if calls.count == 1 {
            do {
                outcomes.append(.success(JournalReceipt(results: try apply(calls[0], txn, &next))))
            } catch let error as LMDBError where error.isMapFull {
                throw error
            } catch {
                txn.abort()
                return [.failure(JournalError(any: error, path: path))]
            }
        } else {
            for mutations in calls {
                let saved = next
                do {
                    let child = try txn.beginChild()
                    let results = try apply(mutations, child, &next)
                    try child.commit()
                    outcomes.append(.success(JournalReceipt(results: results)))
                } catch let error as LMDBError where error.isMapFull {
                    throw error
                } catch {
                    next = saved
                    outcomes.append(.failure(JournalError(any: error, path: path)))
                }
            }
        }
        try flushCampaigns(txn, &next)
        try txn.commit()
        if next.outbox.nextEventID != state.outbox.nextEventID {
            let id = next.outbox.nextEventID
            committedNextEventID.withLock { $0 = id }
        }
        if next.sendersRevision != state.sendersRevision {
            let revision = next.sendersRevision
            committedSendersRevision.withLock { $0 = revision }
        }
        state = next
        condition.lock()
        counts.commits += 1
        condition.unlock()
        return outcomes
    }

    /// Doubles the map (up to the configured ceiling) with every reader held out. Returns
    /// the error to report when it cannot grow.
    func growMap() -> JournalError? {
        do {
            let current = try environment.info().mapSizeBytes
            guard current < configuration.mapSizeBytesMax else {
                return .mapFull(path: path, mapSizeBytes: current, mapSizeBytesMax: configuration.mapSizeBytesMax)
            }
            let grown = min(current.multipliedReportingOverflow(by: 2).overflow ? Int.max : current * 2, configuration.mapSizeBytesMax)
            try gate.exclusively { try environment.setMapSize(grown) }
            condition.lock()
            counts.mapGrowths += 1
            condition.unlock()
            return nil
        } catch {
            return JournalError(any: error, path: path)
        }
    }
}
