import CCurl
import SluiceCore

/// The loop thread's state: the only code that calls libcurl (besides `curl_multi_wakeup`).
final class TransportLoop {
    /// Header lists cached per bearer token; cleared when full (handles keep theirs alive).
    static let headerListsMax = 1024
    /// Longest sleep in the multi handle's wait when nothing is due; a wakeup ends it earlier.
    static let pollMillisecondsMax = 1000

    private let shared: TransportShared
    private let configuration: TransportConfiguration
    private let onReport: @Sendable ([TransportDeparture], [TransportCompletion]) -> Void

    private var free: [EasyHandle] = []
    private var active: [EasyHandle] = []
    /// Accepted requests not yet handed to libcurl; `waiting[waitingHead...]` are pending.
    private var waiting: [QueuedRequest] = []
    private var waitingHead = 0
    private var incoming: [QueuedRequest] = []
    /// Warm-up handles in the multi handle (outside `active`: they carry no message).
    private var warming: [EasyHandle] = []
    private var completions: [TransportCompletion] = []
    /// Requests whose bytes libcurl began to write in this iteration (connection ready).
    private let departures: DepartureLog
    /// Completions in `completions` that `send` counted in `inFlight`.
    private var acceptedCompletions = 0
    private var headerLists: [String: HeaderList] = [:]

    init(shared: TransportShared, configuration: TransportConfiguration, onReport: @escaping @Sendable ([TransportDeparture], [TransportCompletion]) -> Void) {
        self.shared = shared
        self.configuration = configuration
        self.onReport = onReport
        departures = DepartureLog(file: configuration.departureRecord)
    }

    func run() {
        while true {
            let phase = takeIncoming()
            var draining = false
            var deadline: UInt64 = 0
            if case .draining(let at) = phase {
                draining = true
                deadline = at
                completeWaiting(.notSent(reason: "transport shut down before sending"))
            }
            startWaiting()
            shared.multi.runDueTimers()
            departures.stamp()
            shared.multi.drainFinished { raw, code in finished(EasyHandle.from(raw), code: code) }

            var stop = false
            // Finished transfers made room for queued requests: start them without sleeping.
            let canStartMore = waitingHead < waiting.count && active.count < configuration.concurrentRequestsMax
            var pollMilliseconds = canStartMore ? 0 : Self.pollMillisecondsMax
            if draining {
                let now = monotonicNanoseconds()
                if active.isEmpty {
                    stop = true
                } else if now >= deadline {
                    abortActive()
                    stop = true
                } else {
                    pollMilliseconds = min(pollMilliseconds, Int((deadline - now) / 1_000_000) + 1)
                }
            }
            deliver()
            if stop { break }
            shared.multi.wait(timeoutMilliseconds: pollMilliseconds) { departures.stamp() }
        }
        abortWarming()
        precondition(active.isEmpty, "every handle is out of the multi handle before cleanup")
        free.removeAll()
        headerLists.removeAll()
    }

    /// Moves what `send` queued into `waiting`; returns the phase seen with it.
    private func takeIncoming() -> TransportShared.Phase {
        var warm: [WarmRequest] = []
        let phase = shared.state.withLock { state in
            swap(&incoming, &state.incoming)
            swap(&warm, &state.warming)
            if !state.refused.isEmpty {
                completions.append(contentsOf: state.refused)
                state.refused.removeAll(keepingCapacity: true)
            }
            return state.phase
        }
        if !incoming.isEmpty {
            waiting.append(contentsOf: incoming)
            incoming.removeAll(keepingCapacity: true)
        }
        for request in warm { startWarm(request) }
        return phase
    }

    /// Opens the request's connections: one fresh connection per warm-up GET.
    private func startWarm(_ request: WarmRequest) {
        guard let headers = headerList(for: request.bearerToken) else { return }
        for _ in 0..<request.connections {
            guard let handle = try? EasyHandle(configuration: configuration),
                handle.prepareWarm(url: request.url, headers: headers) == CURLE_OK,
                shared.multi.add(handle) == CURLM_OK
            else {
                shared.warmFailures.add(1, ordering: .relaxed)
                continue
            }
            warming.append(handle)
        }
    }

    /// A warm-up finished: counted, its connection left in the pool, the handle dropped.
    private func finishedWarm(_ handle: EasyHandle, code: CURLcode) {
        if code == CURLE_OK && handle.info(CURLINFO_NUM_CONNECTS) > 0 {
            shared.warmConnectionsOpened.add(1, ordering: .relaxed)
        } else {
            shared.warmFailures.add(1, ordering: .relaxed)
        }
        shared.multi.remove(handle)
        if let index = warming.firstIndex(where: { $0 === handle }) { warming.remove(at: index) }
    }

    /// At stop: warm-ups still in libcurl are given up.
    private func abortWarming() {
        for handle in warming { shared.multi.remove(handle) }
        shared.warmFailures.add(warming.count, ordering: .relaxed)
        warming.removeAll()
    }

    private func startWaiting() {
        while waitingHead < waiting.count, active.count < configuration.concurrentRequestsMax {
            let queued = waiting[waitingHead]
            waitingHead += 1
            start(queued)
        }
        compactWaiting()
    }

    private func compactWaiting() {
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        } else if waitingHead >= 1024, waitingHead * 2 >= waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
    }

    private func completeWaiting(_ result: SendResult) {
        let now = monotonicNanoseconds()
        while waitingHead < waiting.count {
            let queued = waiting[waitingHead]
            waitingHead += 1
            complete(queued.request.tag, result, enqueued: queued.enqueuedNanoseconds, now: now)
        }
        compactWaiting()
    }

    private func start(_ queued: QueuedRequest) {
        let handle: EasyHandle
        if let reused = free.popLast() {
            handle = reused
        } else {
            do {
                handle = try EasyHandle(configuration: configuration)
                handle.departures = departures
                shared.handlesCreated.add(1, ordering: .relaxed)
            } catch {
                return fail(queued, "\(error)")
            }
        }
        guard let headers = headerList(for: queued.request.bearerToken) else {
            free.append(handle)
            return fail(queued, "cannot build request headers")
        }
        let code = handle.prepare(queued.request, headers: headers, enqueuedNanoseconds: queued.enqueuedNanoseconds)
        guard code == CURLE_OK else {
            free.append(handle)
            return fail(queued, "curl \(code.rawValue): \(TransferClassifier.message(for: code))")
        }
        let added = shared.multi.add(handle)
        guard added == CURLM_OK else {
            free.append(handle)
            return fail(queued, "curl_multi_add_handle failed (\(added.rawValue))")
        }
        handle.activeIndex = active.count
        active.append(handle)
    }

    private func fail(_ queued: QueuedRequest, _ reason: String) {
        complete(queued.request.tag, .notSent(reason: reason), enqueued: queued.enqueuedNanoseconds, now: monotonicNanoseconds())
    }

    private func headerList(for token: String) -> HeaderList? {
        if let cached = headerLists[token] { return cached }
        if headerLists.count >= Self.headerListsMax { headerLists.removeAll() }
        guard let list = HeaderList(bearerToken: token) else { return nil }
        headerLists[token] = list
        return list
    }

    /// A transfer libcurl reports done; never called from inside a libcurl callback.
    private func finished(_ handle: EasyHandle, code: CURLcode) {
        if handle.isWarm { return finishedWarm(handle, code: code) }
        let result: SendResult
        if code == CURLE_OK {
            let status = handle.info(CURLINFO_RESPONSE_CODE)
            switch handle.info(CURLINFO_HTTP_VERSION) {
            case Int(CURL_HTTP_VERSION_2_0): shared.responsesHTTP2.add(1, ordering: .relaxed)
            case Int(CURL_HTTP_VERSION_1_1), Int(CURL_HTTP_VERSION_1_0): shared.responsesHTTP1.add(1, ordering: .relaxed)
            default: break
            }
            result = handle.response.withUnsafeBytes { ResponseDecoder.decode(httpStatus: status, body: $0) }
        } else {
            result = TransferClassifier.failure(
                code: code, requestBytes: handle.info(CURLINFO_REQUEST_SIZE), detail: handle.errorDetail(code))
        }
        release(handle)
        complete(handle.tag, result, enqueued: handle.enqueuedNanoseconds, departed: handle.departedNanoseconds, now: monotonicNanoseconds())
    }

    /// At the drain deadline: whatever is still in libcurl.
    private func abortActive() {
        let now = monotonicNanoseconds()
        while let handle = active.last {
            let result: SendResult =
                handle.info(CURLINFO_REQUEST_SIZE) == 0
                ? .notSent(reason: "transport shut down before sending")
                : .inDoubt(reason: "transport shut down before the response")
            release(handle)
            complete(handle.tag, result, enqueued: handle.enqueuedNanoseconds, now: now)
        }
    }

    private func release(_ handle: EasyHandle) {
        shared.multi.remove(handle)
        let index = handle.activeIndex
        precondition(index >= 0 && index < active.count && active[index] === handle, "active handle index")
        let last = active.removeLast()
        if last !== handle {
            active[index] = last
            last.activeIndex = index
        }
        handle.activeIndex = -1
        free.append(handle)
    }

    private func complete(_ tag: UInt64, _ result: SendResult, enqueued: UInt64, departed: UInt64 = 0, now: UInt64) {
        let answer = departed > 0 && now >= departed ? Int64(now - departed) : nil
        completions.append(TransportCompletion(
            tag: tag, result: result, elapsedNanoseconds: Int64(bitPattern: now &- enqueued), answerNanoseconds: answer))
        acceptedCompletions += 1
    }

    /// One `onReport` call for everything that left or finished in this iteration.
    private func deliver() {
        if !completions.isEmpty { count(completions) }
        guard !completions.isEmpty || !departures.departures.isEmpty else { return }
        onReport(departures.departures, completions)
        departures.departures.removeAll(keepingCapacity: true)
        completions.removeAll(keepingCapacity: true)
    }

    /// The statistics of what finished; before the callback, so that it sees room to send more.
    private func count(_ completions: [TransportCompletion]) {
        var notSent = 0
        var inDoubt = 0
        for completion in completions {
            switch completion.result {
            case .notSent, .untrusted: notSent += 1
            case .inDoubt: inDoubt += 1
            default: break
            }
        }
        shared.completed.add(completions.count, ordering: .relaxed)
        shared.notSent.add(notSent, ordering: .relaxed)
        shared.inDoubt.add(inDoubt, ordering: .relaxed)
        shared.inFlight.subtract(acceptedCompletions, ordering: .relaxed)
        acceptedCompletions = 0
    }
}
