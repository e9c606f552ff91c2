import CCurl

/// Requests whose bytes libcurl writes in the current `curl_multi_socket_action`: the
/// handles' pre-request callbacks name them, and the loop stamps them once the call
/// returns, when the bytes have been handed to the socket (a stamp taken before the
/// write could be early by however long the thread was held up in between).
final class DepartureLog {
    var departures: [TransportDeparture] = []
    /// The handles `record` named since the last `stamp`.
    private var unstamped: [EasyHandle] = []
    /// Where each departure is kept for the next start, before its bytes are written.
    private let file: DepartureRecord?

    init(file: DepartureRecord?) {
        self.file = file
    }

    func record(_ handle: EasyHandle) {
        file?.record(id: handle.tag, wallNanoseconds: wallClockNanoseconds())
        departures.append(TransportDeparture(tag: handle.tag, monotonicNanoseconds: 0))
        unstamped.append(handle)
    }

    /// Stamps what `record` added since the last call, in the log and on the handles.
    func stamp() {
        guard !unstamped.isEmpty else { return }
        let now = monotonicNanoseconds()
        for i in (departures.count - unstamped.count)..<departures.count { departures[i].monotonicNanoseconds = Int64(now) }
        for handle in unstamped { handle.departedNanoseconds = now }
        unstamped.removeAll(keepingCapacity: true)
    }
}

/// One reusable libcurl easy handle with its request body, response buffer and error
/// text. Owned by the transport's loop thread; never touched from another thread.
final class EasyHandle {
    let raw: UnsafeMutableRawPointer

    /// Set while the handle is in the multi handle.
    var tag: UInt64 = 0
    var enqueuedNanoseconds: UInt64 = 0
    /// When its request left (`DepartureLog.stamp`); 0 until then.
    var departedNanoseconds: UInt64 = 0
    /// Position in the loop's list of active handles (O(1) removal).
    var activeIndex = -1
    /// Where the pre-request callback reports that this handle's request leaves.
    var departures: DepartureLog?
    /// Set by `prepareWarm`: the handle opens a connection with a GET and is then dropped.
    private(set) var isWarm = false

    private(set) var response: [UInt8] = []
    private let responseBytesMax: Int
    private var body: UnsafeMutableRawPointer
    private var bodyCapacity: Int
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var url = ""
    private var headers: HeaderList?

    init(configuration: TransportConfiguration) throws(CurlError) {
        guard let raw = curl_easy_init() else { throw .easyInit }
        self.raw = raw
        responseBytesMax = configuration.responseBytesMax
        bodyCapacity = 1024
        body = .allocate(byteCount: bodyCapacity, alignment: 1)
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        response.reserveCapacity(1024)

        let context = Unmanaged.passUnretained(self).toOpaque()
        try set(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
        try set(CURLOPT_TCP_KEEPALIVE, 1, "CURLOPT_TCP_KEEPALIVE")
        try set(CURLOPT_TIMEOUT_MS, configuration.requestTimeoutMilliseconds, "CURLOPT_TIMEOUT_MS")
        try set(CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeoutMilliseconds, "CURLOPT_CONNECTTIMEOUT_MS")
        switch configuration.httpVersion {
        case .http2:
            try set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS), "CURLOPT_HTTP_VERSION")
            // Wait for a connection that can multiplex rather than opening another one.
            try set(CURLOPT_PIPEWAIT, 1, "CURLOPT_PIPEWAIT")
        case .http1:
            try set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1), "CURLOPT_HTTP_VERSION")
        }
        try set(CURLOPT_SSL_VERIFYPEER, configuration.verifyPeer ? 1 : 0, "CURLOPT_SSL_VERIFYPEER")
        try set(CURLOPT_SSL_VERIFYHOST, configuration.verifyPeer ? 2 : 0, "CURLOPT_SSL_VERIFYHOST")
        if let caFile = configuration.caFile {
            try check(sluice_easy_setopt_str(raw, CURLOPT_CAINFO, caFile), "CURLOPT_CAINFO")
        }
        try check(sluice_easy_setopt_ptr(raw, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        try check(sluice_easy_setopt_ptr(raw, CURLOPT_PRIVATE, context), "CURLOPT_PRIVATE")
        try check(sluice_easy_setopt_ptr(raw, CURLOPT_WRITEDATA, context), "CURLOPT_WRITEDATA")
        try check(
            sluice_easy_setopt_write(raw, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                let bytes = size * count
                guard let data, let context else { return bytes }
                Unmanaged<EasyHandle>.fromOpaque(context).takeUnretainedValue().receive(data, bytes)
                return bytes
            },
            "CURLOPT_WRITEFUNCTION"
        )
        try check(sluice_easy_setopt_ptr(raw, CURLOPT_PREREQDATA, context), "CURLOPT_PREREQDATA")
        try check(
            sluice_easy_setopt_prereq(raw) { context, _, _, _, _ in
                if let context {
                    let handle = Unmanaged<EasyHandle>.fromOpaque(context).takeUnretainedValue()
                    handle.departures?.record(handle)
                }
                return CURL_PREREQFUNC_OK
            },
            "CURLOPT_PREREQFUNCTION"
        )
    }

    deinit {
        curl_easy_cleanup(raw)
        body.deallocate()
        errorBuffer.deallocate()
    }

    /// The handle whose `CURLOPT_PRIVATE` is `raw`.
    static func from(_ raw: UnsafeMutableRawPointer) -> EasyHandle {
        var context: UnsafeMutableRawPointer?
        _ = sluice_easy_getinfo_ptr(raw, CURLINFO_PRIVATE, &context)
        return Unmanaged<EasyHandle>.fromOpaque(context!).takeUnretainedValue()
    }

    /// Points the handle at `request`; only options that changed are set again (libcurl
    /// copies the URL string on every set).
    func prepare(_ request: OutboundRequest, headers: HeaderList, enqueuedNanoseconds: UInt64) -> CURLcode {
        tag = request.tag
        self.enqueuedNanoseconds = enqueuedNanoseconds
        departedNanoseconds = 0
        response.removeAll(keepingCapacity: true)
        errorBuffer[0] = 0
        let count = request.body.count
        if count > bodyCapacity {
            body.deallocate()
            bodyCapacity = max(count, bodyCapacity * 2)
            body = .allocate(byteCount: bodyCapacity, alignment: 1)
        }
        // libcurl reads the body from our buffer (no copy): it lives until the next prepare.
        request.body.withUnsafeBytes { source in
            if let base = source.baseAddress { body.copyMemory(from: base, byteCount: count) }
        }
        var code = sluice_easy_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(count))
        guard code == CURLE_OK else { return code }
        code = sluice_easy_setopt_ptr(raw, CURLOPT_POSTFIELDS, body)
        guard code == CURLE_OK else { return code }
        if request.url != url {
            code = sluice_easy_setopt_str(raw, CURLOPT_URL, request.url)
            guard code == CURLE_OK else { return code }
            url = request.url
        }
        if self.headers !== headers {
            code = sluice_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, headers.slist)
            guard code == CURLE_OK else { return code }
            self.headers = headers
        }
        return CURLE_OK
    }

    /// Points a new handle at a warm-up GET of `url` over a connection of its own
    /// (`CURLOPT_FRESH_CONNECT`; no `PIPEWAIT`, so it does not queue behind another
    /// handshake). The connection stays in the pool for the sends; the handle is not reused.
    func prepareWarm(url: String, headers: HeaderList) -> CURLcode {
        isWarm = true
        departures = nil
        self.headers = headers
        for (option, value) in [(CURLOPT_HTTPGET, 1), (CURLOPT_FRESH_CONNECT, 1), (CURLOPT_PIPEWAIT, 0)] {
            let code = sluice_easy_setopt_long(raw, option, value)
            guard code == CURLE_OK else { return code }
        }
        var code = sluice_easy_setopt_str(raw, CURLOPT_URL, url)
        guard code == CURLE_OK else { return code }
        code = sluice_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, headers.slist)
        return code
    }

    /// libcurl's detailed message for the last failure, or its generic one.
    func errorDetail(_ code: CURLcode) -> String {
        errorBuffer[0] != 0 ? String(cString: errorBuffer) : TransferClassifier.message(for: code)
    }

    func info(_ what: CURLINFO) -> Int {
        var value = 0
        _ = sluice_easy_getinfo_long(raw, what, &value)
        return value
    }

    func infoOff(_ what: CURLINFO) -> Int64 {
        var value: curl_off_t = 0
        _ = sluice_easy_getinfo_off(raw, what, &value)
        return Int64(value)
    }

    /// Called by libcurl (inside `curl_multi_socket_action`) with response bytes.
    private func receive(_ data: UnsafeMutablePointer<CChar>, _ count: Int) {
        let kept = min(count, responseBytesMax - response.count)
        guard kept > 0 else { return }
        response.append(contentsOf: UnsafeRawBufferPointer(start: data, count: kept))
    }

    private func set(_ option: CURLoption, _ value: Int, _ name: String) throws(CurlError) {
        try check(sluice_easy_setopt_long(raw, option, value), name)
    }

    private func check(_ code: CURLcode, _ name: String) throws(CurlError) {
        guard code == CURLE_OK else { throw .option(name: name, code: Int(code.rawValue)) }
    }
}

/// A request-header list for one bearer token, shared by the handles that use it; freed
/// when the last handle and the cache let go of it.
final class HeaderList {
    let slist: UnsafeMutablePointer<curl_slist>

    init?(bearerToken: String) {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in ["Authorization: Bearer \(bearerToken)", "Content-Type: application/json", "Expect:"] {
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                return nil
            }
            list = appended
        }
        slist = list!
    }

    deinit { curl_slist_free_all(slist) }
}
