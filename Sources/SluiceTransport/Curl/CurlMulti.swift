import CCurl
import Glibc

/// The libcurl multi handle, driven by socket events (`curl_multi_socket_action`) over
/// epoll. The kernel watches each connection once, however many requests it carries,
/// and a wake runs only the transfers on the sockets that are ready or whose timers
/// expired. (`curl_multi_poll` took one poll entry per transfer and `curl_multi_perform`
/// walked every transfer on every wake: CPU per message grew with the count in flight.)
///
/// `wakeup()` may be called from any thread; everything else only from the transport's
/// loop thread.
final class CurlMulti: @unchecked Sendable {
    /// Ready sockets taken from epoll per wait.
    static let eventsPerWaitMax = 256

    let raw: UnsafeMutableRawPointer
    private let watch: SocketWatch
    /// Written by `wakeup`, watched by epoll beside libcurl's sockets.
    private let wakeFD: Int32
    private var ready: [epoll_event]
    private var finished: [(UnsafeMutableRawPointer, CURLcode)] = []

    init(configuration: TransportConfiguration) throws(CurlError) {
        try CurlGlobal.ensureInitialized()
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw .eventSetup(what: "epoll_create1", errno: errno) }
        let wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            close(epollFD)
            throw .eventSetup(what: "eventfd", errno: errno)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            let code = errno
            close(wakeFD)
            close(epollFD)
            throw .eventSetup(what: "epoll_ctl", errno: code)
        }
        guard let raw = curl_multi_init() else {
            close(wakeFD)
            close(epollFD)
            throw .multiInit
        }
        self.raw = raw
        self.wakeFD = wakeFD
        watch = SocketWatch(epollFD: epollFD)
        ready = Array(repeating: epoll_event(), count: Self.eventsPerWaitMax)

        let pipelining = configuration.httpVersion == .http2 ? Int(CURLPIPE_MULTIPLEX) : Int(CURLPIPE_NOTHING)
        try set(CURLMOPT_PIPELINING, pipelining, "CURLMOPT_PIPELINING")
        try set(CURLMOPT_MAX_HOST_CONNECTIONS, configuration.connectionsPerHostMax, "CURLMOPT_MAX_HOST_CONNECTIONS")
        try set(CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.connectionsPerHostMax, "CURLMOPT_MAX_TOTAL_CONNECTIONS")
        try set(CURLMOPT_MAX_CONCURRENT_STREAMS, TransportConfiguration.streamsPerConnectionMax, "CURLMOPT_MAX_CONCURRENT_STREAMS")
        // Keep every allowed connection open between bursts.
        try set(CURLMOPT_MAXCONNECTS, configuration.connectionsPerHostMax, "CURLMOPT_MAXCONNECTS")

        let context = Unmanaged.passUnretained(watch).toOpaque()
        try check(
            sluice_multi_setopt_socket(raw, { _, socket, what, context, _ in
                guard let context else { return -1 }
                return Unmanaged<SocketWatch>.fromOpaque(context).takeUnretainedValue().update(socket, what: what)
            }, context),
            "CURLMOPT_SOCKETFUNCTION")
        try check(
            sluice_multi_setopt_timer(raw, { _, milliseconds, context in
                guard let context else { return -1 }
                Unmanaged<SocketWatch>.fromOpaque(context).takeUnretainedValue().setTimer(milliseconds: milliseconds)
                return 0
            }, context),
            "CURLMOPT_TIMERFUNCTION")
    }

    deinit {
        // Cleanup may still report sockets to remove: the watch and epoll outlive it.
        curl_multi_cleanup(raw)
        close(watch.epollFD)
        close(wakeFD)
    }

    /// Interrupts a `wait` in progress (or the next one).
    func wakeup() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    func add(_ easy: EasyHandle) -> CURLMcode { curl_multi_add_handle(raw, easy.raw) }
    func remove(_ easy: EasyHandle) { _ = curl_multi_remove_handle(raw, easy.raw) }

    /// Runs the transfers whose libcurl timers have expired (new transfers start this way).
    func runDueTimers() {
        guard let deadline = watch.timerDeadline, deadline <= monotonicNanoseconds() else { return }
        watch.timerDeadline = nil
        var running: Int32 = 0
        _ = curl_multi_socket_action(raw, CURL_SOCKET_TIMEOUT, 0, &running)
    }

    /// Waits up to `timeoutMilliseconds` (less when libcurl's timer is due sooner) for
    /// ready sockets or a wakeup, then lets libcurl act on each ready socket, calling
    /// `afterEach` after each action, and finally on expired timers.
    func wait(timeoutMilliseconds: Int, afterEach: () -> Void) {
        var timeout = max(0, timeoutMilliseconds)
        if let deadline = watch.timerDeadline {
            let now = monotonicNanoseconds()
            let untilTimer = deadline > now ? Int((deadline - now + 999_999) / 1_000_000) : 0
            timeout = min(timeout, untilTimer)
        }
        let count = ready.withUnsafeMutableBufferPointer { buffer in
            epoll_wait(watch.epollFD, buffer.baseAddress, Int32(buffer.count), Int32(clamping: timeout))
        }
        var running: Int32 = 0
        if count > 0 {
            for index in 0..<Int(count) {
                let event = ready[index]
                let fd = event.data.fd
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    continue
                }
                var flags: Int32 = 0
                if event.events & EPOLLIN.rawValue != 0 { flags |= CURL_CSELECT_IN }
                if event.events & EPOLLOUT.rawValue != 0 { flags |= CURL_CSELECT_OUT }
                if event.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { flags |= CURL_CSELECT_ERR }
                _ = curl_multi_socket_action(raw, fd, flags, &running)
                afterEach()
            }
        }
        runDueTimers()
    }

    /// Calls `body` for every finished transfer with its easy handle and result code.
    ///
    /// Every message is read before `body` runs: `curl_multi_remove_handle` walks the
    /// messages still queued, so removing while reading costs a walk per transfer over
    /// everything that finished in the same wake (a third of the dispatcher's CPU at
    /// 8 000 in flight, measured with perf).
    func drainFinished(_ body: (UnsafeMutableRawPointer, CURLcode) -> Void) {
        var left: Int32 = 0
        while let message = curl_multi_info_read(raw, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            finished.append((easy, message.pointee.data.result))
        }
        for (easy, code) in finished { body(easy, code) }
        finished.removeAll(keepingCapacity: true)
    }

    private func set(_ option: CURLMoption, _ value: Int, _ name: String) throws(CurlError) {
        try check(sluice_multi_setopt_long(raw, option, value), name)
    }

    private func check(_ code: CURLMcode, _ name: String) throws(CurlError) {
        guard code == CURLM_OK else { throw .option(name: name, code: Int(code.rawValue)) }
    }
}

/// What libcurl's socket and timer callbacks keep: the epoll set of the sockets it asked
/// to watch, and its next timeout. Touched only on the loop thread, inside libcurl calls.
final class SocketWatch {
    let epollFD: Int32
    /// When libcurl wants `curl_multi_socket_action(CURL_SOCKET_TIMEOUT)`; nil: no timer.
    var timerDeadline: UInt64?

    init(epollFD: Int32) { self.epollFD = epollFD }

    /// libcurl's socket callback: watch `socket` for `what` (`CURL_POLL_*`).
    func update(_ socket: curl_socket_t, what: Int32) -> Int32 {
        if what == CURL_POLL_REMOVE {
            // Already gone when libcurl closed it first; nothing to undo then.
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, socket, nil)
            return 0
        }
        var event = epoll_event()
        if what & CURL_POLL_IN != 0 { event.events |= EPOLLIN.rawValue }
        if what & CURL_POLL_OUT != 0 { event.events |= EPOLLOUT.rawValue }
        event.data.fd = socket
        // A socket number libcurl reuses may or may not still be in the set: try both.
        if epoll_ctl(epollFD, EPOLL_CTL_MOD, socket, &event) == 0 { return 0 }
        if epoll_ctl(epollFD, EPOLL_CTL_ADD, socket, &event) == 0 { return 0 }
        return -1
    }

    /// libcurl's timer callback: -1 removes the timer, 0 means as soon as possible.
    func setTimer(milliseconds: Int) {
        timerDeadline = milliseconds < 0 ? nil : monotonicNanoseconds() &+ UInt64(milliseconds) &* 1_000_000
    }
}
