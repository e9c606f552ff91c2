import SluiceCore
import SluiceJournal
import SluiceTransport

/// Everything the dispatcher needs to run; the CLI fills it from flags and the TOML file.
public struct EngineConfiguration: Sendable {
    public var dataDirectory: String
    /// Base URL of the Cloud API (the mock's URL in tests and the demo).
    public var graphURL: String = "https://graph.facebook.com"
    public var graphVersion: String = "v21.0"
    public var journal = JournalConfiguration()
    public var transport = TransportConfiguration()
    public var scheduler: SchedulerConfiguration
    public var outcome = OutcomePolicy()
    /// How often senders are checked for `retry_at` / `in_doubt` messages that came due.
    public var dueScanIntervalMilliseconds: Int64 = 100
    /// Least time between two messages of one sender to the same recipient (WhatsApp's
    /// pair limit, about one per 6 s); 0 turns the spacing off.
    public var pairSpacingMilliseconds: Int64 = 6_000
    /// How long shutdown waits for requests already on the wire.
    public var drainTimeoutMilliseconds: Int = 10_000
    /// A `sent` message with no further status this long after it was sent ends `unknown`.
    public var statusDeadlineMilliseconds: Int64 = 24 * 3_600_000
    /// How often `StatusDeadlineService` looks for such messages.
    public var statusSweepIntervalMilliseconds: Int64 = 10_000

    public static let defaultPacingMargin = 0.01

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
        var scheduler = SchedulerConfiguration()
        // Paged-in messages are already journaled `in_flight` (see DispatchLoop): small
        // pages keep the set that a crash turns `in_doubt` small.
        scheduler.pageSize = 64
        scheduler.queueLowWatermark = 32
        // Jitter between the dispatcher and the endpoint (thread wakeups, connection
        // handoffs) reached ~10 ms on a loaded 2-core machine; a 1 % margin absorbs 10 ms
        // at any tier and keeps the sustained rate at 99 % of tier. See tuning/tiers.toml.
        scheduler.safetyMargin = Self.defaultPacingMargin
        scheduler.probeColdSenders = true
        self.scheduler = scheduler
        // HTTP/1.1 keep-alive by default: Debian 12's libcurl 7.88.1 fails about 0.4 % of
        // multiplexed HTTP/2 POSTs with "Error in the HTTP2 framing layer" after the body
        // was written (seen against the mock, which h2load drives cleanly), and each such
        // message is in doubt. HTTP/2 stays available (`--http-version 2`).
        transport.httpVersion = .http1
        transport.connectionsPerHostMax = 64
    }

    /// `{graph-url}/{graph-version}/{phone-number-id}/messages`
    func sendURL(phoneNumberID: String) -> String {
        var base = graphURL
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/\(graphVersion)/\(phoneNumberID)/messages"
    }
}
