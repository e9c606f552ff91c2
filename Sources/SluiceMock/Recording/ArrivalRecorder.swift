import Logging
import Synchronization
import SluiceCore

/// Thread-safe log of every send the mock accepted: in memory (bounded) and, while a
/// record file is attached, as NDJSON lines flushed at least every ``flushIntervalMilliseconds``.
///
/// ```swift
/// let arrivals = endpoint.recorder.snapshot()
/// let perSender = endpoint.recorder.counts()   // ["106540352242922": 1200, …]
/// ```
public final class ArrivalRecorder: Sendable {
    /// Arrivals kept in memory; later ones are still counted and written to the record file.
    public static let arrivalsInMemoryMax = 10_000_000
    /// Upper bound on how stale the record file may be.
    public static let flushIntervalMilliseconds = 50
    /// Pending record bytes above which the request that crosses it flushes inline.
    static let pendingBytesMax = 16 * 1024 * 1024
    /// Records per storage chunk: growth never copies the whole log under the lock.
    static let chunkCapacity = 65_536

    /// What is kept per arrival; the wamid is rebuilt from `sequence`.
    struct Record {
        var timeNanoseconds: Int64
        var sequence: UInt64
        var phoneNumberID: String
        var to: String
        var callbackData: String?
    }

    private struct State {
        var chunks: [[Record]] = []
        var storedCount = 0
        var totalCount = 0
        var perSender: [String: Int] = [:]
        var file: RecordFile?
        var pending: [UInt8] = []
    }

    private let state = Locked(State())
    private let nextSequence = Atomic<UInt64>(1)
    private let writeFailures = Atomic<Int>(0)
    /// Random per recorder, so wamids from different mock processes never collide.
    private let wamidPrefix: String
    private let logger: Logger

    init(logger: Logger) {
        let nonce = UInt64.random(in: 0...UInt64.max)
        let hex = String(nonce, radix: 16)
        self.wamidPrefix = "wamid.MOCK" + String(repeating: "0", count: 16 - hex.count) + hex + "."
        self.logger = logger
    }

    // MARK: Reading

    /// Number of arrivals accepted so far (including any beyond ``arrivalsInMemoryMax``).
    public var count: Int {
        state.withLock { $0.totalCount }
    }

    /// Arrivals accepted so far per `phone_number_id`.
    public func counts() -> [String: Int] {
        state.withLock { $0.perSender }
    }

    /// Every arrival held in memory, in the order they were recorded.
    public func snapshot() -> [Arrival] {
        arrivals(phoneNumberID: nil, offset: 0, limit: Self.arrivalsInMemoryMax)
    }

    /// Up to `limit` arrivals (after skipping `offset` matches), optionally for one sender.
    func arrivals(phoneNumberID: String?, offset: Int, limit: Int) -> [Arrival] {
        precondition(offset >= 0 && limit >= 0)
        let records: [Record] = state.withLock { state in
            var matched: [Record] = []
            var skipped = 0
            for chunk in state.chunks {
                for record in chunk where phoneNumberID == nil || record.phoneNumberID == phoneNumberID {
                    if skipped < offset {
                        skipped += 1
                        continue
                    }
                    if matched.count == limit { return matched }
                    matched.append(record)
                }
            }
            return matched
        }
        return records.map(arrival(from:))
    }

    // MARK: Recording

    /// Records one accepted send and returns the wamid to answer with.
    func record(timeNanoseconds: Int64, phoneNumberID: String, to: String, callbackData: String?) -> String {
        let sequence = nextSequence.wrappingAdd(1, ordering: .relaxed).oldValue
        let record = Record(
            timeNanoseconds: timeNanoseconds,
            sequence: sequence,
            phoneNumberID: phoneNumberID,
            to: to,
            callbackData: callbackData
        )
        let wamid = wamidPrefix + String(sequence)
        // Encode outside the lock; the critical section is only appends.
        var line: [UInt8] = []
        line.reserveCapacity(160 + (callbackData?.utf8.count ?? 0))
        Arrival(
            timeNanoseconds: timeNanoseconds,
            phoneNumberID: phoneNumberID,
            to: to,
            callbackData: callbackData,
            wamid: wamid
        ).appendJSONLine(to: &line)
        line.append(UInt8(ascii: "\n"))

        let mustFlush = state.withLock { state -> Bool in
            state.totalCount += 1
            state.perSender[phoneNumberID, default: 0] += 1
            if state.storedCount < Self.arrivalsInMemoryMax {
                if state.chunks.isEmpty || state.chunks[state.chunks.count - 1].count == Self.chunkCapacity {
                    var chunk: [Record] = []
                    chunk.reserveCapacity(Self.chunkCapacity)
                    state.chunks.append(chunk)
                }
                state.chunks[state.chunks.count - 1].append(record)
                state.storedCount += 1
            }
            guard state.file != nil else { return false }
            state.pending.append(contentsOf: line)
            return state.pending.count >= Self.pendingBytesMax
        }
        if mustFlush { flush() }
        return wamid
    }

    // MARK: Record file

    /// Opens `path` for appending and starts the periodic flusher; returns the flusher task.
    func attachRecordFile(path: String) throws(MockError) -> Task<Void, Never> {
        let file = try RecordFile(path: path)
        state.withLock { state in
            precondition(state.file == nil, "record file already attached")
            state.file = file
            state.pending = []
        }
        return Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Self.flushIntervalMilliseconds))
                flush()
            }
        }
    }

    /// Writes every pending line to the record file now.
    func flush() {
        guard let file = state.withLock({ $0.file }) else { return }
        let written = file.write {
            state.withLock { state in
                var taken: [UInt8] = []
                swap(&taken, &state.pending)
                return taken
            }
        }
        if !written { noteWriteFailure(path: file.path) }
    }

    /// Stops the flusher, writes what is pending and closes the file.
    func detachRecordFile(flusher: Task<Void, Never>) async {
        flusher.cancel()
        await flusher.value
        // Detach and take the tail in one critical section so no line falls between them.
        let (file, tail) = state.withLock { state -> (RecordFile?, [UInt8]) in
            let file = state.file
            state.file = nil
            var taken: [UInt8] = []
            swap(&taken, &state.pending)
            return (file, taken)
        }
        guard let file else { return }
        if !file.close(finalBytes: tail) { noteWriteFailure(path: file.path) }
    }

    private func noteWriteFailure(path: String) {
        // Log the first failure only: a full disk would otherwise log per flush.
        if writeFailures.wrappingAdd(1, ordering: .relaxed).oldValue == 0 {
            logger.error("mock record file write failed", metadata: ["path": "\(path)"])
        }
    }

    private func arrival(from record: Record) -> Arrival {
        Arrival(
            timeNanoseconds: record.timeNanoseconds,
            phoneNumberID: record.phoneNumberID,
            to: record.to,
            callbackData: record.callbackData,
            wamid: wamidPrefix + String(record.sequence)
        )
    }
}
