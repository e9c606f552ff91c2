import Foundation
import SluiceCore

/// A campaign the dispatcher accepted for one sender.
public struct SubmittedCampaign: Sendable, Equatable {
    public var sender: SenderPlan
    /// The id the API returned.
    public var campaignID: String
    /// Recipients it accepted.
    public var accepted: Int
    /// When the 202 reached the harness, in nanoseconds since the Unix epoch (the clock the mock records with).
    public var acceptedAtNanoseconds: Int64

    /// Creates a submitted campaign.
    public init(sender: SenderPlan, campaignID: String, accepted: Int, acceptedAtNanoseconds: Int64) {
        self.sender = sender
        self.campaignID = campaignID
        self.accepted = accepted
        self.acceptedAtNanoseconds = acceptedAtNanoseconds
    }
}

/// Error answers the mock counted, from `GET /__mock/stats` (`errors`, `errors_per_sender`).
public struct MockErrorCounts: Sendable, Equatable {
    /// 130429 answers over all senders.
    public var throttled130429 = 0
    /// 130429 answers per `phone_number_id`.
    public var throttled130429PerSender: [String: Int] = [:]
    /// Of those, the ones a storm window gave (not a sign of pacing over the tier).
    public var storm130429PerSender: [String: Int] = [:]
    /// The mock's storm schedule as it answered: period and length in ms, and how far
    /// into the schedule it was (ms); nil without a storm.
    public var stormEveryMilliseconds: Int?
    public var stormDurationMilliseconds = 0
    public var stormElapsedMilliseconds: Int64 = 0

    /// 130429 answers for going over the tier (storm answers left out).
    public func overTier130429(_ sender: String) -> Int {
        max(0, (throttled130429PerSender[sender] ?? 0) - (storm130429PerSender[sender] ?? 0))
    }

    /// No errors (also what an older mock without the keys reports).
    public init() {}

    /// Reads the keys from a decoded stats object; absent keys count as 0.
    public init(statsObject: [String: Any]) {
        if let errors = statsObject["errors"] as? [String: Any] { throttled130429 = Self.integer(errors["130429"]) }
        if let perSender = statsObject["errors_per_sender"] as? [String: Any] {
            for (sender, value) in perSender {
                if let codes = value as? [String: Any] { throttled130429PerSender[sender] = Self.integer(codes["130429"]) }
            }
        }
        if let storm = statsObject["storm"] as? [String: Any] {
            stormEveryMilliseconds = Self.integer(storm["every_ms"])
            stormDurationMilliseconds = Self.integer(storm["duration_ms"])
            stormElapsedMilliseconds = Int64(Self.integer(storm["elapsed_ms"]))
            if let perSender = storm["per_sender"] as? [String: Any] {
                for (sender, value) in perSender { storm130429PerSender[sender] = Self.integer(value) }
            }
        }
    }

    private static func integer(_ value: Any?) -> Int {
        // JSONSerialization gives NSNumber on Linux.
        if let n = value as? NSNumber { return n.intValue }
        if let n = value as? Int { return n }
        return 0
    }
}

/// Process cost of the dispatcher, as read from `/proc`, and what it held open.
public struct ProcessUsageSample: Sendable, Equatable {
    public var cpuSeconds: Double
    public var peakRSSBytes: Int
    /// Most sends on the wire over all senders at one poll (`GET /v1/senders`).
    public var inFlightMax: Int?
    /// Most TCP connections to the endpoint's port at one poll (`/proc/net/tcp`).
    public var endpointConnectionsMax: Int?

    /// Creates a sample.
    public init(cpuSeconds: Double, peakRSSBytes: Int, inFlightMax: Int? = nil, endpointConnectionsMax: Int? = nil) {
        self.cpuSeconds = cpuSeconds
        self.peakRSSBytes = peakRSSBytes
        self.inFlightMax = inFlightMax
        self.endpointConnectionsMax = endpointConnectionsMax
    }
}

/// What a ceiling run adds to the analysis: the reference client's result and the
/// connections both sides used.
public struct CeilingInput: Sendable, Equatable {
    public var connections: Int
    public var reference: ReferenceResult
    /// Both sides' HTTP version: "2" or "1.1".
    public var httpVersion: String

    /// Creates the input.
    public init(connections: Int, reference: ReferenceResult, httpVersion: String = "2") {
        self.connections = connections
        self.reference = reference
        self.httpVersion = httpVersion
    }
}

/// Turns what a run collected into its report. Pure: no clock, no I/O.
public enum RunAnalysis {
    /// What the runner knows about the run besides the arrivals.
    public struct Context: Sendable {
        public var command: String
        public var startedAt: String
        public var seconds: Int
        public var mode: String
        public var serverURL: String
        public var mockURL: String
        public var wallSeconds: Double
        public var campaignsDone: Bool
        /// When measuring stopped, in nanoseconds since the Unix epoch: messages still missing are late until then.
        public var endNanoseconds: Int64
        public var usage: ProcessUsageSample?
        /// Ceiling mode: the reference client's run; nil otherwise.
        public var ceiling: CeilingInput?
        /// Messages the dispatcher held in doubt when measuring stopped (from the campaigns' counts).
        public var inDoubt: Int

        /// Storm runs: the schedule on the harness's clock, each sender's rate samples (by
        /// `phone_number_id`) and the poll interval; nil otherwise.
        public var storm: StormInput?
        /// Runs with customers writing in: the rate per number and every incoming message's
        /// trip to the subscriber; nil otherwise.
        public var inbound: (rate: Double, trips: [InboundTrip], badSignatures: Int)?

        /// Creates a context.
        public init(
            command: String, startedAt: String, seconds: Int, mode: String, serverURL: String, mockURL: String,
            wallSeconds: Double, campaignsDone: Bool, endNanoseconds: Int64, usage: ProcessUsageSample?,
            inDoubt: Int = 0, ceiling: CeilingInput? = nil
        ) {
            self.command = command
            self.startedAt = startedAt
            self.seconds = seconds
            self.mode = mode
            self.serverURL = serverURL
            self.mockURL = mockURL
            self.wallSeconds = wallSeconds
            self.campaignsDone = campaignsDone
            self.endNanoseconds = endNanoseconds
            self.usage = usage
            self.ceiling = ceiling
            self.inDoubt = inDoubt
        }
    }

    /// Analyzes every campaign against the arrivals of its sender. `deliveries` are the
    /// `delivered` webhooks the dispatcher acknowledged (nil: the run had no webhooks); a
    /// run with webhooks fails when an accepted message has none. With `departures` (the
    /// harness started both the mock and the dispatcher) each sender is also judged where
    /// the dispatcher controls it, and a 130429 that only time in transit explains is told apart.
    public static func report(
        campaigns: [SubmittedCampaign], arrivals: [EndpointArrival], errors: MockErrorCounts, context: Context,
        deliveries: [EndpointArrival]? = nil, departures: DepartureInput? = nil
    ) -> LoadTestReport {
        var bySender: [String: [EndpointArrival]] = [:]
        for arrival in arrivals { bySender[arrival.phoneNumberID, default: []].append(arrival) }
        var deliveredBySender: [String: [EndpointArrival]] = [:]
        for delivery in deliveries ?? [] { deliveredBySender[delivery.phoneNumberID, default: []].append(delivery) }

        var senders: [SenderReport] = []
        var overall: LatencyMeasurement?
        var failures: [String] = []
        var allTimes: [Int64] = []
        for campaign in campaigns {
            let mine = bySender[campaign.sender.phoneNumberID] ?? []
            allTimes.append(contentsOf: mine.map(\.timeNanoseconds))
            let pacing = PacingAnalysis.analyze(
                sender: campaign.sender, accepted: campaign.accepted, acceptedAtNanoseconds: campaign.acceptedAtNanoseconds,
                arrivals: mine, throttled130429: errors.overTier130429(campaign.sender.phoneNumberID),
                departures: departures.map {
                    DepartureAnalysis.analyze(tier: campaign.sender.tier, arrivals: mine, input: $0, phoneNumberID: campaign.sender.phoneNumberID)
                },
                // A ceiling run offers more than the dispatcher can send, and storms take
                // sending time away: the mean is no pacing fault then. Windows over the tier still are.
                judgeMean: context.ceiling == nil && context.storm == nil,
                inbound: context.inbound.map { InboundAnalysis.times($0.trips, phoneNumberID: campaign.sender.phoneNumberID) })
            var storm: SenderStorm?
            if let input = context.storm {
                storm = StormAnalysis.analyze(
                    tier: campaign.sender.tier, schedule: input.schedule, samples: input.samples[campaign.sender.phoneNumberID] ?? [],
                    originNanoseconds: min(campaign.acceptedAtNanoseconds, mine.map(\.timeNanoseconds).min() ?? campaign.acceptedAtNanoseconds),
                    pollSeconds: input.pollSeconds)
                failures.append(contentsOf: storm!.violations.map { "sender \(campaign.sender.phoneNumberID) (tier \(campaign.sender.tier)): \($0)" })
            }
            let latency = LatencyAnalysis.analyze(
                sender: campaign.sender, accepted: campaign.accepted, acceptedAtNanoseconds: campaign.acceptedAtNanoseconds,
                arrivals: mine, endNanoseconds: context.endNanoseconds,
                deliveries: deliveries == nil ? nil : deliveredBySender[campaign.sender.phoneNumberID] ?? [])
            if overall == nil { overall = latency } else { overall?.add(latency) }
            failures.append(contentsOf: pacing.violations.map { "sender \(campaign.sender.phoneNumberID) (tier \(campaign.sender.tier)): \($0)" })
            if latency.undelivered > 0 {
                failures.append(
                    "sender \(campaign.sender.phoneNumberID) (tier \(campaign.sender.tier)): \(latency.undelivered) of \(campaign.accepted) accepted messages got no acknowledged delivered webhook")
            }
            senders.append(SenderReport(
                campaignID: campaign.campaignID, acceptedAtNanoseconds: campaign.acceptedAtNanoseconds,
                pacing: pacing, latency: LatencyReport(latency), storm: storm))
        }
        allTimes.sort()
        let arrived = senders.reduce(0) { $0 + $1.pacing.arrivals }
        let totals = Totals(
            accepted: senders.reduce(0) { $0 + $1.pacing.accepted },
            arrivals: arrived,
            duplicates: senders.reduce(0) { $0 + $1.pacing.duplicates },
            lost: senders.reduce(0) { $0 + $1.pacing.lost },
            throttled130429: max(errors.throttled130429, senders.reduce(0) { $0 + $1.pacing.throttled130429 }),
            messagesPerSecond: ArrivalWindow.meanRate(sortedTimes: allTimes) ?? 0,
            inDoubt: context.inDoubt)
        let usage = context.usage.map {
            DispatcherUsage(
                cpuSeconds: $0.cpuSeconds,
                cpuSecondsPer1000Messages: arrived > 0 ? $0.cpuSeconds * 1_000 / Double(arrived) : 0,
                peakRSSBytes: $0.peakRSSBytes, inFlightMax: $0.inFlightMax, endpointConnectionsMax: $0.endpointConnectionsMax)
        }
        if context.storm != nil && !senders.contains(where: { ($0.storm?.met ?? 0) > 0 }) {
            failures.append("no sender sent into a storm window: nothing shows backoff (make the campaigns longer than --storm's period)")
        }
        var ceiling: CeilingReport?
        if let input = context.ceiling {
            let offered = campaigns.reduce(0) { $0 + $1.sender.messageCount }
            ceiling = CeilingReport(
                senders: campaigns.count, connections: input.connections, offeredMessages: offered,
                sluiceMessagesPerSecond: totals.messagesPerSecond, reference: input.reference, httpVersion: input.httpVersion)
            failures.append(contentsOf: input.reference.problems(requested: offered))
        }
        let inbound = context.inbound.map { InboundAnalysis.analyze(rate: $0.rate, trips: $0.trips, endNanoseconds: context.endNanoseconds, badSignatures: $0.badSignatures) }
        failures.append(contentsOf: inbound?.failures.map { "inbound: " + $0 } ?? [])
        var empty = LatencyMeasurement(behindSchedule: LatencyAnalysis.emptyHistogram(), acceptedToArrival: LatencyAnalysis.emptyHistogram())
        if deliveries != nil { empty.acceptedToDelivered = LatencyAnalysis.emptyHistogram() }
        return LoadTestReport(
            command: context.command, startedAt: context.startedAt, seconds: context.seconds, mode: context.mode,
            serverURL: context.serverURL, mockURL: context.mockURL, wallSeconds: context.wallSeconds,
            campaignsDone: context.campaignsDone, senders: senders, totals: totals, dispatcher: usage,
            latency: LatencyReport(overall ?? empty), failures: failures, ceiling: ceiling, storm: context.storm?.schedule,
            inbound: inbound?.report)
    }
}
