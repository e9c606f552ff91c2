/// How a ``MockEndpoint`` listens and what it records.
///
/// ```swift
/// var configuration = MockConfiguration(certificateDirectory: "/tmp/mock")
/// configuration.recordFile = "/tmp/mock/arrivals.ndjson"
/// configuration.latencyMilliseconds = 20
/// ```
public struct MockConfiguration: Sendable {
    /// Address to bind; the default keeps the mock on loopback.
    public var host: String = "127.0.0.1"
    /// Port to bind; `0` asks the kernel for an ephemeral port (see ``MockEndpoint/Running/port``).
    public var port: Int = 0
    /// Serve TLS with ALPN (HTTP/2 and HTTP/1.1); `false` serves plain HTTP/1.1.
    public var tls: Bool = true
    /// Directory holding `mock-cert.pem` and `mock-key.pem`; created if missing, reused across restarts.
    public var certificateDirectory: String
    /// When set, every accepted arrival is appended to this file as one NDJSON line.
    public var recordFile: String? = nil
    /// Fixed delay added before each send response, after the arrival is recorded.
    public var latencyMilliseconds: Int = 0

    /// Creates a configuration with defaults: loopback, ephemeral port, TLS, no record file, no latency.
    public init(certificateDirectory: String) {
        self.certificateDirectory = certificateDirectory
    }
}
