import CCurl

/// The libcurl multi handle. `wakeup()` may be called from any thread; everything else
/// only from the transport's loop thread.
final class CurlMulti: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer

    init(configuration: TransportConfiguration) throws(CurlError) {
        try CurlGlobal.ensureInitialized()
        guard let raw = curl_multi_init() else { throw .multiInit }
        self.raw = raw
        let pipelining = configuration.httpVersion == .http2 ? Int(CURLPIPE_MULTIPLEX) : Int(CURLPIPE_NOTHING)
        try set(CURLMOPT_PIPELINING, pipelining, "CURLMOPT_PIPELINING")
        try set(CURLMOPT_MAX_HOST_CONNECTIONS, configuration.connectionsPerHostMax, "CURLMOPT_MAX_HOST_CONNECTIONS")
        try set(CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.connectionsPerHostMax, "CURLMOPT_MAX_TOTAL_CONNECTIONS")
        try set(CURLMOPT_MAX_CONCURRENT_STREAMS, TransportConfiguration.streamsPerConnectionMax, "CURLMOPT_MAX_CONCURRENT_STREAMS")
        // Keep every allowed connection open between bursts.
        try set(CURLMOPT_MAXCONNECTS, configuration.connectionsPerHostMax, "CURLMOPT_MAXCONNECTS")
    }

    deinit { curl_multi_cleanup(raw) }

    /// Interrupts a `poll` in progress (or the next one).
    func wakeup() { _ = curl_multi_wakeup(raw) }

    func add(_ easy: EasyHandle) -> CURLMcode { curl_multi_add_handle(raw, easy.raw) }
    func remove(_ easy: EasyHandle) { _ = curl_multi_remove_handle(raw, easy.raw) }

    func perform() {
        var running: Int32 = 0
        _ = curl_multi_perform(raw, &running)
    }

    /// Waits for socket activity, libcurl's next timeout, `timeoutMilliseconds` or a wakeup.
    func poll(timeoutMilliseconds: Int) {
        _ = curl_multi_poll(raw, nil, 0, Int32(clamping: timeoutMilliseconds), nil)
    }

    /// Calls `body` for every finished transfer with its easy handle and result code.
    func drainFinished(_ body: (UnsafeMutableRawPointer, CURLcode) -> Void) {
        var left: Int32 = 0
        while let message = curl_multi_info_read(raw, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            // Copy out before `body` removes the handle: that frees `message`.
            let code = message.pointee.data.result
            body(easy, code)
        }
    }

    private func set(_ option: CURLMoption, _ value: Int, _ name: String) throws(CurlError) {
        let code = sluice_multi_setopt_long(raw, option, value)
        guard code == CURLM_OK else { throw .option(name: name, code: Int(code.rawValue)) }
    }
}
