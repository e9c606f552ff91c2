import SluiceCore
import SluiceJournal
import SluiceTransport

/// Everything the dispatcher needs to run; the CLI fills it from flags and the TOML file.
public struct EngineConfiguration: Sendable {
    public var dataDirectory: String
    /// The media volume (incoming media, by SHA-256); nil: `<data-dir>/media`.
    public var mediaDirectory: String?
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
    /// The rolling window of the messaging limit (unique recipients per sender group):
    /// WhatsApp's is 24 h. Shorter only in tests.
    public var messagingWindowMilliseconds: Int64 = RecipientWindow.dayMilliseconds
    /// Longest a send outcome waits to be committed with others (group commit); a crash
    /// in that window leaves those messages `in_doubt`.
    public var outcomeFlushMilliseconds: Int64 = 5
    /// Warm start: open the connections each sender's in-flight bound will fill, at
    /// start and when a sender is registered or its tier rises, each with a read of the
    /// number's node (`GET /{version}/{phone-number-id}`), before its messages need them.
    public var warmStart: Bool = true
    /// In a cluster: nothing is sent for a number until `Dispatcher.setOwnership` says this
    /// node holds it, and only until the instant given there.
    public var clustered: Bool = false
    /// In a cluster: this node's id, written after the message id in each request's
    /// `biz_opaque_callback_data` (`<id>@<node>`), so that a status webhook reaching
    /// another node is passed on here rather than applied to that node's message of the
    /// same id.
    public var nodeID: String?
    /// Keep each request's departure in `<data dir>/departures` (a shared file mapping, no
    /// fsync), so that after a crash only the messages that had begun to leave are
    /// `in_doubt`; the others go back to the queue. Trusted within the same boot only.
    public var recordsDepartures: Bool = true
    /// How long shutdown waits for requests already on the wire.
    public var drainTimeoutMilliseconds: Int = 10_000
    /// A `sent` message with no further status this long after it was sent ends `unknown`.
    public var statusDeadlineMilliseconds: Int64 = 24 * 3_600_000
    /// How often `StatusDeadlineService` looks for such messages.
    public var statusSweepIntervalMilliseconds: Int64 = 10_000

    /// Finished campaigns (nothing left to send, no status event waiting for a subscriber)
    /// whose last change is older than this are removed with their messages by
    /// `RetentionService`. 0 keeps them forever.
    public var retentionMilliseconds: Int64 = 30 * 86_400_000
    /// How often `RetentionService` looks for such campaigns.
    public var retentionSweepIntervalMilliseconds: Int64 = 3_600_000

    /// A campaign whose first this many outcomes are all permanent failures with one
    /// WhatsApp code is paused with that reason instead of burning its recipients (its
    /// owner resumes it to go on); 0 turns the guard off.
    public var failureGuardMessages = 20

    /// How long a number may send an uploaded file by the Meta media id its upload gave:
    /// Meta keeps them 30 days.
    public var mediaUploadLifetimeMilliseconds: Int64 = 30 * 86_400_000
    /// A file is uploaded again once less than this is left of its Meta media id's life,
    /// while the old id still sends.
    public var mediaUploadRefreshMilliseconds: Int64 = 3 * 86_400_000
    /// Nothing is sent with a Meta media id this close to its end: the campaign waits for
    /// the new upload.
    public var mediaUploadMarginMilliseconds: Int64 = 3_600_000
    /// How often the dispatch loop looks at its campaigns' uploads for those due again.
    public var mediaUploadCheckIntervalMilliseconds: Int64 = 60_000

    /// Free bytes the journal's file system must keep for new campaigns to be accepted
    /// (`507` below it): room to record the outcomes of what was accepted. 0: no check.
    public var intakeFreeBytesMin: UInt64 = 128 << 20

    public static let defaultPacingMargin = 0.008
    /// Most requests one sender may have outstanding, whatever the latency: tier 1000
    /// with answers taking 5 s at p99.
    public static let inFlightPerSenderMax = 8_192
    /// Most requests outstanding over all senders (easy handles and their buffers). Also
    /// what an endpoint that queues (latency rising with load) can draw: the in-flight
    /// bounds follow its answer times up, and an endpoint serves more connections and
    /// streams less well (tuning/RESULTS.md, "At saturation").
    public static let inFlightTotalMax = 8_192
    /// Most connections to the endpoint over HTTP/2 (100 requests each); libcurl opens
    /// them as requests need them.
    public static let connectionsPerHostMax = 256
    /// Most connections when the endpoint speaks HTTP/1.1 only (one request each).
    public static let connectionsPerHostMaxHTTP1 = 1_024

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
        // Tokens, secrets and payloads are encrypted at rest under a key kept next to the
        // journal (created on first start); set before a later change of dataDirectory.
        journal.encryption = .keyFile(Self.journalKeyFile(dataDirectory: dataDirectory))
        var scheduler = SchedulerConfiguration()
        // Paged-in messages are already journaled `in_flight` (see DispatchLoop): small
        // pages keep the set that a crash turns `in_doubt` small.
        scheduler.pageSize = 64
        scheduler.queueLowWatermark = 32
        // A fast sender keeps a second of its sending paged in: a journal commit held up
        // by the disk for several hundred ms (seen on virtual disks) would otherwise run
        // it dry, and its pacing would lose the time. Costs up to two seconds of a sender's
        // messages `in_doubt` after a crash (resent after the settle window, never lost).
        scheduler.stagingNanoseconds = 1_000_000_000
        // Departures are tracked (the window guard counts when messages left, so thread
        // wakeups before that cost nothing); a 0.8 % margin leaves 7 ms for jitter after
        // they left and keeps the sustained rate at 99.2 % of tier. See tuning/tiers.toml.
        scheduler.safetyMargin = Self.defaultPacingMargin
        scheduler.probeColdSenders = true
        scheduler.tracksDepartures = true
        // In flight per sender ≈ its rate × the endpoint's p99 answer time (Little's law),
        // measured: 200 ms at tier 1000 needs ~200, 500 ms ~500. The bounds only cap a
        // hanging endpoint; pacing decides when each message leaves.
        scheduler.sizesInFlightFromLatency = true
        scheduler.inFlightPerSenderMin = 16
        scheduler.inFlightPerSenderMax = Self.inFlightPerSenderMax
        self.scheduler = scheduler
        // HTTP/2 where the endpoint offers it over ALPN (HTTP/1.1 keep-alive otherwise), up to
        // 100 streams a connection, more connections as needed. The framing errors once seen
        // were the mock's HTTP/2 server answering libcurl's stream resets with a GOAWAY that
        // disowned answered streams (tuning/RESULTS.md); nginx showed none in 170 000.
        transport.httpVersion = .http2
        transport.connectionsPerHostMax = Self.connectionsPerHostMax
        transport.inFlightMax = Self.inFlightTotalMax
    }

    /// Where the media volume is.
    public var mediaDirectoryInForce: String { mediaDirectory ?? dataDirectory + "/media" }

    /// `{graph-url}/{graph-version}/{media-id}`: a media node (its download url).
    public func mediaURL(mediaID: String) -> String {
        var base = graphURL
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/\(graphVersion)/\(mediaID)"
    }

    /// `<data-dir>/journal.key`: the key the journal's records are encrypted under.
    public static func journalKeyFile(dataDirectory: String) -> String { dataDirectory + "/journal.key" }

    /// `{graph-url}/{graph-version}/{phone-number-id}/media`: where a number uploads a file.
    public func mediaUploadURL(phoneNumberID: String) -> String {
        phoneNumberURL(phoneNumberID: phoneNumberID) + "/media"
    }

    /// `{graph-url}/{graph-version}/{phone-number-id}/messages`
    func sendURL(phoneNumberID: String) -> String {
        phoneNumberURL(phoneNumberID: phoneNumberID) + "/messages"
    }

    /// `{graph-url}/{graph-version}/{phone-number-id}`: the number's own node, which the
    /// warm start reads to open connections.
    func phoneNumberURL(phoneNumberID: String) -> String {
        var base = graphURL
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/\(graphVersion)/\(phoneNumberID)"
    }
}
