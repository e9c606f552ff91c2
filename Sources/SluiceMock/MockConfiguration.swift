/// How a ``MockEndpoint`` listens, what it records and how strictly it judges.
///
/// ```swift
/// var configuration = MockConfiguration(certificateDirectory: "/tmp/mock")
/// configuration.recordFile = "/tmp/mock/arrivals.ndjson"
/// configuration.senders["106540352242922"] = MockSender(tierMessagesPerSecond: 80, accessToken: "secret")
/// configuration.templates["order_update"] = 2
/// configuration.faults = try FaultProfile(tomlFile: "tuning/faults/flaky.toml")
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
    /// When set, every send refused for going over its sender's tier (130429) is appended
    /// to this file as one NDJSON line, `{"t":…,"phone_number_id":…,"to":…}`, with the
    /// arrival stamp it was judged by: where pacing was squeezed, which the arrival
    /// record (accepted sends only) cannot show.
    public var refusalRecordFile: String? = nil
    /// Fixed delay added before each send response, after the arrival is recorded
    /// (on top of any ``FaultProfile/latency``).
    public var latencyMilliseconds: Int = 0
    /// How long a new connection's setup takes (its first bytes are read this late): the
    /// TCP and TLS round trips to a distant endpoint. 0: at once.
    public var connectionSetupMilliseconds: Int = 0
    /// Registered sending numbers by `phone_number_id`; more can be added at run time with
    /// ``MockEndpoint/register(phoneNumberID:sender:)`` or `PUT /__mock/senders/{id}`.
    public var senders: [String: MockSender] = [:]
    /// When true, a number that is not registered is refused like a bad token (401, code 190);
    /// when false it is accepted with any bearer token and no limits.
    public var requireRegisteredSenders: Bool = false
    /// Enforce the per-recipient pair limit (code 131056) on registered numbers.
    public var pairLimit: Bool = true
    /// Refuse a free-form (non-template) send to a contact the mock knows no incoming
    /// message from in the last 24 h (400, code 131047), as WhatsApp does outside the
    /// customer service window. The mock's own incoming messages
    /// (``WebhookConfiguration/inboundMessagesPerSecond``) and
    /// `POST /__mock/contacts/{phone_number_id}/{wa_id}/inbound` open a contact's window.
    public var customerWindow: Bool = false
    /// Known message templates: name → number of body parameters. When non-empty, a template
    /// send naming another template gets code 132001 and a wrong parameter count code 132000.
    public var templates: [String: Int] = [:]
    /// How long a number may send the id of a file it uploaded (Meta's: 30 days); a send
    /// naming an unknown, foreign or expired id gets 131053.
    public var mediaUploadLifetimeSeconds: Double = 30 * 86_400
    /// Faults to inject (5xx, error codes, latency, hangs, resets); none by default.
    public var faults: FaultProfile = FaultProfile()
    /// Status webhooks to send for accepted messages; none when nil.
    public var webhook: WebhookConfiguration? = nil

    /// Creates a configuration with defaults: loopback, ephemeral port, TLS, no record file,
    /// no latency, no registered senders (all accepted), no templates, no faults.
    public init(certificateDirectory: String) {
        self.certificateDirectory = certificateDirectory
    }
}
