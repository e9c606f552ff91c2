import CCurl
import Dispatch
import Foundation
import SluiceCore
import Synchronization

/// Sends Cloud API requests through one libcurl multi handle driven by its own thread:
/// HTTP/2 (or HTTP/1.1 keep-alive) over a small pool of TLS connections, reusing easy
/// handles, reporting completions in batches.
///
/// ```swift
/// let transport = try CurlTransport(configuration: TransportConfiguration()) { completions in
///     for completion in completions { record(completion.tag, completion.result) }
/// }
/// transport.send([OutboundRequest(tag: 1, url: url, bearerToken: token, body: body)])
/// transport.shutdown(drainTimeoutMilliseconds: 5_000)
/// ```
///
/// `onCompletions` (or `onReport`) runs on the transport's thread, once per loop iteration
/// with everything of that iteration; keep it short and never block it on `send`'s callers.
public final class CurlTransport: @unchecked Sendable {
    private let shared: TransportShared
    private let onReport: @Sendable ([TransportDeparture], [TransportCompletion]) -> Void
    private let thread: Thread
    private let stopped = DispatchGroup()

    /// Starts the loop thread. Throws ``CurlError`` when libcurl cannot be set up.
    public convenience init(
        configuration: TransportConfiguration,
        onCompletions: @escaping @Sendable ([TransportCompletion]) -> Void
    ) throws {
        try self.init(configuration: configuration) { _, completions in
            if !completions.isEmpty { onCompletions(completions) }
        }
    }

    /// Starts the loop thread; `onReport` gets, once per loop iteration, the requests that
    /// left (their connection was ready and libcurl began to write them; pacing counts
    /// from here) and the completions. Throws ``CurlError`` when libcurl cannot be set up.
    public init(
        configuration: TransportConfiguration,
        onReport: @escaping @Sendable (_ departed: [TransportDeparture], _ completions: [TransportCompletion]) -> Void
    ) throws {
        precondition(configuration.inFlightMax > 0 && configuration.queuedMax >= 0, "inFlightMax > 0, queuedMax ≥ 0")
        precondition(configuration.connectionsPerHostMax > 0, "connectionsPerHostMax > 0")
        // Fail here rather than on the first request when options are rejected.
        _ = try EasyHandle(configuration: configuration)
        let shared = TransportShared(multi: try CurlMulti(configuration: configuration), configuration: configuration)
        self.shared = shared
        self.onReport = onReport
        let stopped = stopped
        stopped.enter()
        thread = Thread {
            TransportLoop(shared: shared, configuration: configuration, onReport: onReport).run()
            stopped.leave()
        }
        thread.name = "sluice-transport"
        thread.start()
    }

    deinit {
        shutdown(drainTimeoutMilliseconds: 0)
    }

    /// Enqueues `batch` and wakes the loop; callable from any thread.
    ///
    /// Requests beyond `inFlightMax + queuedMax` in flight, and every request after
    /// ``shutdown(drainTimeoutMilliseconds:)``, complete as `.notSent` (after shutdown,
    /// synchronously on the caller's thread).
    public func send(_ batch: [OutboundRequest]) {
        guard !batch.isEmpty else { return }
        let now = monotonicNanoseconds()
        let refused: [TransportCompletion]? = shared.state.withLock { state in
            guard case .running = state.phase else {
                return batch.map { TransportCompletion(tag: $0.tag, result: .notSent(reason: "transport is shut down"), elapsedNanoseconds: 0) }
            }
            let room = max(0, shared.capacity - shared.inFlight.load(ordering: .relaxed))
            let accepted = min(room, batch.count)
            for request in batch.prefix(accepted) {
                state.incoming.append(QueuedRequest(request: request, enqueuedNanoseconds: now))
            }
            for request in batch.dropFirst(accepted) {
                let reason = "transport queue is full (\(shared.capacity) requests)"
                state.refused.append(TransportCompletion(tag: request.tag, result: .notSent(reason: reason), elapsedNanoseconds: 0))
            }
            shared.inFlight.add(accepted, ordering: .relaxed)
            return nil
        }
        if let refused {
            onReport([], refused)
            return
        }
        shared.multi.wakeup()
    }

    /// Opens `connections` new connections to `url`'s host now, each with one GET of `url`
    /// (a Graph API read such as the phone number's own node; its answer is only
    /// counted), so that the sends that follow find their handshakes done. The
    /// connections stay in the pool (up to `connectionsPerHostMax`); callable from any
    /// thread; ignored after shutdown.
    public func warm(url: String, bearerToken: String, connections: Int) {
        guard connections > 0 else { return }
        let queued = shared.state.withLock { state -> Bool in
            guard case .running = state.phase else { return false }
            state.warming.append(WarmRequest(url: url, bearerToken: bearerToken, connections: connections))
            return true
        }
        if queued { shared.multi.wakeup() }
    }

    /// Requests accepted by ``send(_:)`` and not completed yet (queued or in libcurl).
    public var inFlightCount: Int { shared.inFlight.load(ordering: .relaxed) }

    /// Counters since start.
    public var statistics: TransportStatistics { shared.statistics }

    /// Stops accepting requests, completes the queued ones as `.notSent`, lets those in
    /// libcurl finish for up to `drainTimeoutMilliseconds`, then aborts the rest (`.inDoubt`
    /// if any byte of the request was written, else `.notSent`) and stops the thread.
    /// Idempotent; returns when the thread has stopped (at once when called from
    /// `onCompletions` or `onReport`).
    public func shutdown(drainTimeoutMilliseconds: Int) {
        let deadline = monotonicNanoseconds() &+ UInt64(max(0, drainTimeoutMilliseconds)) &* 1_000_000
        shared.state.withLock { state in
            if case .running = state.phase { state.phase = .draining(deadlineNanoseconds: deadline) }
        }
        shared.multi.wakeup()
        if Thread.current !== thread { stopped.wait() }
    }
}

/// `CLOCK_MONOTONIC`, the clock `SystemClock` paces with: departure stamps compare with it.
func wallClockNanoseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

struct QueuedRequest: Sendable {
    var request: OutboundRequest
    var enqueuedNanoseconds: UInt64
}

/// What the callers of ``CurlTransport`` and its loop thread share.
final class TransportShared: Sendable {
    enum Phase: Sendable {
        case running
        case draining(deadlineNanoseconds: UInt64)
    }

    struct State: Sendable {
        var incoming: [QueuedRequest] = []
        /// Refused by `send` (queue full): delivered by the loop with its next batch.
        var refused: [TransportCompletion] = []
        var warming: [WarmRequest] = []
        var phase = Phase.running
    }

    let multi: CurlMulti
    let state = Locked(State())
    /// Accepted by `send`, not yet delivered.
    let inFlight = Atomic<Int>(0)
    let capacity: Int

    let handlesCreated = Atomic<Int>(0)
    let completed = Atomic<Int>(0)
    let responsesHTTP2 = Atomic<Int>(0)
    let responsesHTTP1 = Atomic<Int>(0)
    let notSent = Atomic<Int>(0)
    let inDoubt = Atomic<Int>(0)
    let warmConnectionsOpened = Atomic<Int>(0)
    let warmFailures = Atomic<Int>(0)

    init(multi: CurlMulti, configuration: TransportConfiguration) {
        self.multi = multi
        capacity = configuration.inFlightMax + configuration.queuedMax
    }

    var statistics: TransportStatistics {
        TransportStatistics(
            handlesCreated: handlesCreated.load(ordering: .relaxed),
            completed: completed.load(ordering: .relaxed),
            responsesHTTP2: responsesHTTP2.load(ordering: .relaxed),
            responsesHTTP1: responsesHTTP1.load(ordering: .relaxed),
            notSent: notSent.load(ordering: .relaxed),
            inDoubt: inDoubt.load(ordering: .relaxed),
            warmConnectionsOpened: warmConnectionsOpened.load(ordering: .relaxed),
            warmFailures: warmFailures.load(ordering: .relaxed)
        )
    }
}
