/// Which HTTP version the transport asks for.
public enum HTTPVersionPreference: String, Sendable {
    /// HTTP/2 over TLS via ALPN, many streams per connection (falls back to HTTP/1.1).
    case http2
    /// HTTP/1.1 with keep-alive, one request at a time per connection.
    case http1
}

/// How ``CurlTransport`` connects and how much it holds at once.
///
/// ```swift
/// var configuration = TransportConfiguration()
/// configuration.caFile = "/etc/sluice/mock-ca.pem"
/// ```
public struct TransportConfiguration: Sendable {
    /// Connections per host (`CURLMOPT_MAX_HOST_CONNECTIONS`); also the total, since
    /// Sluice talks to one endpoint.
    public var connectionsPerHostMax: Int = 8
    /// Whole-request timeout, counted from when the request is handed to libcurl.
    public var requestTimeoutMilliseconds: Int = 15_000
    public var connectTimeoutMilliseconds: Int = 5_000
    /// A PEM bundle of trusted CAs (a private CA, or the mock's self-signed certificate).
    public var caFile: String? = nil
    /// TLS peer and host-name verification. Turn off only against a local test endpoint.
    public var verifyPeer: Bool = true
    public var httpVersion: HTTPVersionPreference = .http2
    /// Requests handed to libcurl at once; more wait in the transport's queue.
    public var inFlightMax: Int = 4096
    /// Requests waiting in the transport's queue beyond `inFlightMax`; more are
    /// completed at once as `.notSent`.
    public var queuedMax: Int = 65_536
    /// Response bytes kept per request; the rest is dropped (a WhatsApp reply is < 1 KiB).
    public var responseBytesMax: Int = 64 * 1024
    /// Where each request's departure is kept for the next start (precise in-doubt after
    /// a crash); none when nil.
    public var departureRecord: DepartureRecord? = nil
    /// Streams libcurl opens on one HTTP/2 connection (`CURLMOPT_MAX_CONCURRENT_STREAMS`).
    public static let streamsPerConnectionMax = 100

    /// Requests the connections can carry at once (one per HTTP/1.1 connection, up to
    /// `streamsPerConnectionMax` per HTTP/2 one), at most `inFlightMax`. Handing libcurl
    /// more only parks them in its pending list, whose upkeep costs a list walk per
    /// finished transfer and releases them in bursts that break pacing.
    public var concurrentRequestsMax: Int {
        let perConnection = httpVersion == .http2 ? Self.streamsPerConnectionMax : 1
        return max(1, min(inFlightMax, connectionsPerHostMax * perConnection))
    }

    public init() {}
}
