import CCurl

/// libcurl could not be set up (not a per-request failure: those are ``SendResult``s).
public enum CurlError: Error, Sendable, CustomStringConvertible {
    case globalInit(code: Int)
    case multiInit
    case easyInit
    case option(name: String, code: Int)
    /// The transport's event loop (epoll, eventfd) could not be created.
    case eventSetup(what: String, errno: Int32)

    public var description: String {
        switch self {
        case .globalInit(let code): "curl_global_init failed (\(code))"
        case .multiInit: "curl_multi_init failed"
        case .easyInit: "curl_easy_init failed"
        case .option(let name, let code): "setting \(name) failed (\(code))"
        case .eventSetup(let what, let errno): "\(what) failed (errno \(errno))"
        }
    }
}

/// `curl_global_init` exactly once per process (Swift runs a global's initializer once).
enum CurlGlobal {
    static let initCode: Int = Int(curl_global_init(Int(CURL_GLOBAL_DEFAULT)).rawValue)

    static func ensureInitialized() throws(CurlError) {
        guard initCode == Int(CURLE_OK.rawValue) else { throw .globalInit(code: initCode) }
    }
}
