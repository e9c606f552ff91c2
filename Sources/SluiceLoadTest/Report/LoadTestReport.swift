/// Everything one run measured; `report.json` is this value.
public struct LoadTestReport: Sendable, Equatable, Codable {
    /// Bumped when a key changes meaning.
    public static let formatVersion = 1

    public var formatVersion = LoadTestReport.formatVersion
    /// The command line that produced the report.
    public var command: String
    /// Start of the run, ISO 8601.
    public var startedAt: String
    /// Seconds each campaign should take at its tier.
    public var seconds: Int
    /// `"started"` (the harness ran `serve` and `mock`), `"targeted"` (`--server` and `--mock`), or `"mixed"`.
    public var mode: String
    public var serverURL: String
    public var mockURL: String
    /// From the first submission to the end of measuring, in seconds.
    public var wallSeconds: Double
    /// Whether every campaign reached `done` before the deadline.
    public var campaignsDone: Bool
    public var senders: [SenderReport]
    public var totals: Totals
    /// Only when the harness started `serve` itself.
    public var dispatcher: DispatcherUsage?
    public var latency: LatencyReport
    /// Ceiling mode only: the dispatcher's rate next to the reference client's.
    public var ceiling: CeilingReport?
    /// Storm runs only: the mock's 130429 storm windows (each sender's episodes are in `senders`).
    public var storm: StormSchedule?
    /// Runs with customers writing in (`--inbound`): their messages' way to the subscriber.
    public var inbound: InboundReport?
    /// Every violation, prefixed with its sender; empty when the run passed.
    public var failures: [String]

    /// No pacing bound broken and nothing lost.
    public var passed: Bool { failures.isEmpty }

    /// Creates a report.
    public init(
        command: String, startedAt: String, seconds: Int, mode: String, serverURL: String, mockURL: String,
        wallSeconds: Double, campaignsDone: Bool, senders: [SenderReport], totals: Totals,
        dispatcher: DispatcherUsage?, latency: LatencyReport, failures: [String], ceiling: CeilingReport? = nil,
        storm: StormSchedule? = nil, inbound: InboundReport? = nil
    ) {
        self.command = command
        self.startedAt = startedAt
        self.seconds = seconds
        self.mode = mode
        self.serverURL = serverURL
        self.mockURL = mockURL
        self.wallSeconds = wallSeconds
        self.campaignsDone = campaignsDone
        self.senders = senders
        self.totals = totals
        self.dispatcher = dispatcher
        self.latency = latency
        self.ceiling = ceiling
        self.storm = storm
        self.inbound = inbound
        self.failures = failures
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case command
        case startedAt = "started_at"
        case seconds, mode
        case serverURL = "server_url"
        case mockURL = "mock_url"
        case wallSeconds = "wall_seconds"
        case campaignsDone = "campaigns_done"
        case senders, totals, dispatcher, latency, ceiling, storm, inbound, failures, passed
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(command, forKey: .command)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(mode, forKey: .mode)
        try c.encode(serverURL, forKey: .serverURL)
        try c.encode(mockURL, forKey: .mockURL)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(campaignsDone, forKey: .campaignsDone)
        try c.encode(senders, forKey: .senders)
        try c.encode(totals, forKey: .totals)
        // Explicit null, so readers see the key even in targeted mode.
        try c.encode(dispatcher, forKey: .dispatcher)
        try c.encode(latency, forKey: .latency)
        try c.encodeIfPresent(ceiling, forKey: .ceiling)
        try c.encodeIfPresent(storm, forKey: .storm)
        try c.encodeIfPresent(inbound, forKey: .inbound)
        try c.encode(failures, forKey: .failures)
        try c.encode(passed, forKey: .passed)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        command = try c.decode(String.self, forKey: .command)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        seconds = try c.decode(Int.self, forKey: .seconds)
        mode = try c.decode(String.self, forKey: .mode)
        serverURL = try c.decode(String.self, forKey: .serverURL)
        mockURL = try c.decode(String.self, forKey: .mockURL)
        wallSeconds = try c.decode(Double.self, forKey: .wallSeconds)
        campaignsDone = try c.decode(Bool.self, forKey: .campaignsDone)
        senders = try c.decode([SenderReport].self, forKey: .senders)
        totals = try c.decode(Totals.self, forKey: .totals)
        dispatcher = try c.decodeIfPresent(DispatcherUsage.self, forKey: .dispatcher)
        latency = try c.decode(LatencyReport.self, forKey: .latency)
        // Reports from before ceiling mode have no key.
        ceiling = try c.decodeIfPresent(CeilingReport.self, forKey: .ceiling)
        storm = try c.decodeIfPresent(StormSchedule.self, forKey: .storm)
        inbound = try c.decodeIfPresent(InboundReport.self, forKey: .inbound)
        failures = try c.decode([String].self, forKey: .failures)
    }
}

/// One sender: its campaign, its pacing and its latency.
public struct SenderReport: Sendable, Equatable, Codable {
    /// The campaign id the API returned.
    public var campaignID: String
    /// When the 202 reached the harness, in nanoseconds since the Unix epoch.
    public var acceptedAtNanoseconds: Int64
    public var pacing: SenderPacing
    public var latency: LatencyReport
    /// Storm runs only: how the sender backed off and recovered in each window.
    public var storm: SenderStorm?

    /// Creates a sender report.
    public init(campaignID: String, acceptedAtNanoseconds: Int64, pacing: SenderPacing, latency: LatencyReport, storm: SenderStorm? = nil) {
        self.campaignID = campaignID
        self.acceptedAtNanoseconds = acceptedAtNanoseconds
        self.pacing = pacing
        self.latency = latency
        self.storm = storm
    }

    enum CodingKeys: String, CodingKey {
        case campaignID = "campaign_id"
        case acceptedAtNanoseconds = "accepted_at_ns"
        case pacing, latency, storm
    }
}

/// Both latency views, summarized.
public struct LatencyReport: Sendable, Equatable, Codable {
    /// Lateness behind each message's slot on the tier's schedule (coordinated-omission free).
    public var behindSchedule: LatencySummary
    /// Plain accepted → arrival.
    public var acceptedToArrival: LatencySummary
    /// Messages that never arrived (counted in `behindSchedule` as late until the run's end).
    public var unsent: Int
    /// Messages that arrived before their slot.
    public var early: Int
    /// Accepted → the dispatcher's acknowledgement of the first `delivered` webhook; nil
    /// when the run had no webhooks (and in reports from before webhooks were measured).
    public var acceptedToDelivered: LatencySummary?
    /// Accepted messages with no acknowledged `delivered` webhook; nil without webhooks.
    public var undelivered: Int?

    /// Summarizes a measurement.
    public init(_ measurement: LatencyMeasurement) {
        behindSchedule = LatencySummary(measurement.behindSchedule)
        acceptedToArrival = LatencySummary(measurement.acceptedToArrival)
        unsent = measurement.unsent
        early = measurement.early
        acceptedToDelivered = measurement.acceptedToDelivered.map(LatencySummary.init)
        undelivered = measurement.acceptedToDelivered == nil ? nil : measurement.undelivered
    }

    enum CodingKeys: String, CodingKey {
        case behindSchedule = "behind_schedule"
        case acceptedToArrival = "accepted_to_arrival"
        case acceptedToDelivered = "accepted_to_delivered"
        case unsent, early, undelivered
    }
}

/// Sums over all senders.
public struct Totals: Sendable, Equatable, Codable {
    public var accepted: Int
    public var arrivals: Int
    public var duplicates: Int
    public var lost: Int
    /// 130429 answers over the whole run (0 when the mock does not report them).
    public var throttled130429: Int
    /// All senders' arrivals per second between the first and the last arrival.
    public var messagesPerSecond: Double
    /// Messages the dispatcher held in doubt (sent, no answer it could read) when measuring
    /// stopped; nil in reports from before it was recorded.
    public var inDoubt: Int?

    /// Creates totals.
    public init(accepted: Int, arrivals: Int, duplicates: Int, lost: Int, throttled130429: Int, messagesPerSecond: Double, inDoubt: Int? = nil) {
        self.accepted = accepted
        self.arrivals = arrivals
        self.duplicates = duplicates
        self.lost = lost
        self.throttled130429 = throttled130429
        self.messagesPerSecond = messagesPerSecond
        self.inDoubt = inDoubt
    }

    enum CodingKeys: String, CodingKey {
        case accepted, arrivals, duplicates, lost
        case throttled130429 = "errors_130429"
        case messagesPerSecond = "messages_per_second"
        case inDoubt = "in_doubt"
    }
}

/// What the dispatcher process cost, read from `/proc` at the end of the run.
public struct DispatcherUsage: Sendable, Equatable, Codable {
    /// User + system CPU time, in seconds.
    public var cpuSeconds: Double
    /// CPU seconds per 1 000 messages that arrived.
    public var cpuSecondsPer1000Messages: Double
    /// Peak resident set size (VmHWM), in bytes.
    public var peakRSSBytes: Int
    /// Most sends on the wire over all senders at one poll; nil when not sampled.
    public var inFlightMax: Int?
    /// Most TCP connections to the endpoint at one poll; nil when not sampled.
    public var endpointConnectionsMax: Int?

    /// Creates a usage record.
    public init(cpuSeconds: Double, cpuSecondsPer1000Messages: Double, peakRSSBytes: Int, inFlightMax: Int? = nil, endpointConnectionsMax: Int? = nil) {
        self.cpuSeconds = cpuSeconds
        self.cpuSecondsPer1000Messages = cpuSecondsPer1000Messages
        self.peakRSSBytes = peakRSSBytes
        self.inFlightMax = inFlightMax
        self.endpointConnectionsMax = endpointConnectionsMax
    }

    enum CodingKeys: String, CodingKey {
        case cpuSeconds = "cpu_seconds"
        case cpuSecondsPer1000Messages = "cpu_seconds_per_1000_messages"
        case peakRSSBytes = "peak_rss_bytes"
        case inFlightMax = "in_flight_max"
        case endpointConnectionsMax = "endpoint_connections_max"
    }
}
