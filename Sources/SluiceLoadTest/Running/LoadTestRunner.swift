import Foundation
import Logging
import SluiceMock

/// Runs a load test end to end: starts (or targets) a mock endpoint and a dispatcher,
/// registers the plan's senders, submits one campaign each, follows them until done or
/// the deadline, then judges from the endpoint's arrival record.
///
/// ```swift
/// var options = LoadTestRunner.Options(plan: plan, workDirectory: "/tmp/lt")
/// let report = try await LoadTestRunner(options: options).run { snapshot in draw(snapshot) }
/// ```
public struct LoadTestRunner: Sendable {
    /// How often progress is polled, in milliseconds.
    public static let pollMilliseconds = 1_000
    /// The live rate is taken over this many seconds of the endpoint's counts: over one
    /// poll, the jitter of the poll's own timing shows 23 msg/s for a tier of 20.
    public static let progressRateSeconds = 5.0
    /// Storm runs poll more often: each poll samples every sender's paced rate.
    public static let stormPollMilliseconds = 500
    /// Lets the mock flush its record file (it flushes every 50 ms) before it is read, in milliseconds.
    static let recordSettleMilliseconds = 300
    /// Arrivals per `GET /__mock/arrivals` page (the mock's own maximum).
    static let arrivalsPageSize = 100_000
    /// Most pages read from `/__mock/arrivals`.
    static let arrivalsPagesMax = 1_000
    /// In ceiling runs, campaigns whose messages have not all arrived are asked about every this many polls.
    static let ceilingStatePollEvery = 5
    /// The reference client's connections in ceiling runs when the options give none:
    /// HTTP/1.1 carries one request per connection, HTTP/2 `ReferenceClient.streamsPerConnection`.
    public static let referenceConnectionsHTTP1 = 64
    public static let referenceConnectionsHTTP2 = 8
    /// The template the reference client sends, registered on the mock in ceiling runs.
    static let ceilingTemplateName = "loadtest_ceiling"
    /// The reference client's one recipient: outside every sender's range of recipients.
    static let referenceRecipient = "966400000000"
    /// The app secret the mock signs webhooks with and the senders are registered with on `serve`.
    static let webhookAppSecret = "loadtest-app-secret"
    /// Longest wait for the last `delivered` webhooks after the campaigns are done, in seconds.
    static let deliveriesWaitSecondsMax = 30.0
    /// The secret of the harness's subscriber in runs with customers writing in.
    static let subscriberSecret = "loadtest-subscriber-secret"
    /// Longest wait for every number's inbound reserve before the campaigns go, in seconds.
    static let inboundMeasuredWaitSecondsMax = 15.0
    /// Most incoming messages a second per number `--inbound` takes (the highest tier).
    public static let inboundMessagesPerSecondMax = 1_000.0

    /// What to run against and where to put things.
    public struct Options: Sendable {
        public var plan: LoadTestPlan
        /// Holds the mock's certificate, the journal, logs and request bodies.
        public var workDirectory: String
        /// The `sluice` binary to start children from.
        public var executable = "/proc/self/exe"
        /// An existing dispatcher's API base URL; nil: start `serve`.
        public var serverURL: String?
        /// An existing mock's base URL; nil: start `mock`.
        public var mockURL: String?
        /// The mock's NDJSON record when targeting an existing mock; nil: read `GET /__mock/arrivals`.
        public var recordPath: String?
        /// CA file for an existing mock; nil: accept its certificate unchecked (loopback only).
        public var mockCAFile: String?
        /// Admin key: set on a started `serve`, sent to a targeted one.
        public var adminKey: String
        /// Recorded in the report.
        public var commandLine = ""
        /// Passed to a started `serve` as `--connections`, and h2load's `-c` in ceiling runs; nil: serve's default.
        public var connections: Int?
        /// Passed to a started `serve` as `--pacing-margin`; nil: serve's default.
        public var pacingMargin: Double?
        /// False: the started `serve` gets `--no-warm-start`.
        public var warmStart = true
        /// Passed to a started `serve` as `--http-version` (`1.1` or `2`), and the
        /// reference client's protocol in ceiling runs; nil: serve's default (HTTP/2).
        public var httpVersion: String?
        /// Passed to a started mock as `--latency` (`fixed:MS`, `uniform:MIN-MAX`,
        /// `long-tail:MEDIAN/P99`): how far away the endpoint is.
        public var latency: String?
        /// Passed to a started mock as `--connect-latency-ms`: a new connection's setup
        /// time (TCP and TLS round trips to a distant endpoint); nil: at once.
        public var connectLatencyMilliseconds: Int?
        /// The reference client of ceiling runs.
        public var referenceClient = ReferenceClient.defaultExecutable
        /// Status webhooks from the started mock to the started `serve`, and accepted →
        /// delivered latency from the deliveries the dispatcher acknowledged.
        public var webhooks = false
        /// The started mock answers every send 130429 in these recurring windows; the
        /// report follows each sender's paced rate through them.
        public var storm: FaultProfile.Storm?
        /// Customers write to each number at this rate (the started mock's
        /// `--inbound-rate`), signed to the started dispatcher, which forwards each message to
        /// a subscriber the harness runs; nil: no incoming messages.
        public var inbound: Double?

        /// Options for a run that starts its own processes.
        public init(plan: LoadTestPlan, workDirectory: String, adminKey: String = "loadtest-" + UUID().uuidString) {
            self.plan = plan
            self.workDirectory = workDirectory
            self.adminKey = adminKey
        }
    }

    /// One sender's progress while the run is going.
    public struct SenderProgress: Sendable {
        public var phoneNumberID: String
        public var tier: Int
        public var accepted: Int
        /// Arrivals at the endpoint so far (this run's).
        public var arrived: Int
        /// Arrivals per second at the endpoint over the last `progressRateSeconds`,
        /// between two readings of the mock's counts (not of our polls' clock).
        public var rate: Double
        /// The campaign's state as the API reports it.
        public var state: String
    }

    /// What the progress callback sees.
    public struct Snapshot: Sendable {
        public var senders: [SenderProgress]
        public var elapsedSeconds: Double
        public var deadlineSeconds: Double
        /// True on the last call.
        public var finished: Bool
    }

    public let options: Options
    let logger: Logger

    /// Creates a runner.
    public init(options: Options, logger: Logger = Logger(label: "sluice.loadtest")) {
        self.options = options
        self.logger = logger
    }

    /// Runs the test and returns its report; `progress` is called about once per second.
    /// Throws ``LoadTestError`` when the run cannot be carried out.
    public func run(progress: (Snapshot) -> Void = { _ in }) async throws -> LoadTestReport {
        let work = options.workDirectory
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var children: [ServiceProcess] = []
        do {
            let report = try await run(children: &children, progress: progress)
            return report
        } catch {
            for child in children.reversed() { await child.stop() }
            throw error
        }
    }

    private func run(children: inout [ServiceProcess], progress: (Snapshot) -> Void) async throws -> LoadTestReport {
        let work = options.workDirectory
        let started = Date()
        let startedAt = ISO8601DateFormatter().string(from: started)

        let plan = options.plan
        if plan.ceiling && (options.mockURL != nil || options.serverURL != nil) {
            throw LoadTestError.invalidConfiguration("a ceiling run starts its own mock and dispatcher")
        }
        if options.webhooks && (plan.ceiling || options.mockURL != nil || options.serverURL != nil) {
            throw LoadTestError.invalidConfiguration("a run with webhooks starts its own mock and dispatcher, and is no ceiling run")
        }
        if let rate = options.inbound {
            if plan.ceiling || options.mockURL != nil || options.serverURL != nil {
                throw LoadTestError.invalidConfiguration("a run with incoming messages starts its own mock and dispatcher, and is no ceiling run")
            }
            guard rate.isFinite && rate > 0 && rate <= Self.inboundMessagesPerSecondMax else {
                throw LoadTestError.invalidConfiguration("--inbound must be between 0 and \(Int(Self.inboundMessagesPerSecondMax)) messages a second per number, not \(rate)")
            }
        }
        if let storm = options.storm {
            if plan.ceiling || options.mockURL != nil || options.serverURL != nil {
                throw LoadTestError.invalidConfiguration("a storm run starts its own mock and dispatcher, and is no ceiling run")
            }
            var profile = FaultProfile()
            profile.storm = storm
            do { try profile.validate() } catch { throw LoadTestError.invalidConfiguration("storm: \(error)") }
        }
        // With webhooks the mock must know the dispatcher's address before either starts.
        let signed = options.webhooks || options.inbound != nil
        let servePort = signed ? try FreePort.loopback() : 0
        let bodies = work + "/bodies"
        try FileManager.default.createDirectory(atPath: bodies, withIntermediateDirectories: true)

        // 1. The endpoint and the dispatcher.
        var mockURL = options.mockURL
        var recordPath = options.recordPath
        var mockHTTP = LoopbackHTTP(caFile: options.mockCAFile, insecure: options.mockCAFile == nil)
        var mock: ServiceProcess?
        if mockURL == nil {
            recordPath = work + "/arrivals.ndjson"
            try? FileManager.default.removeItem(atPath: recordPath!)
            try? FileManager.default.removeItem(atPath: work + "/refusals.ndjson")
            var arguments = [
                "mock", "--listen", "127.0.0.1:0", "--cert-dir", work + "/mock", "--record", recordPath!,
                "--record-refusals", work + "/refusals.ndjson",
            ]
            if plan.ceiling {
                // The reference client repeats one body, so one recipient: the pair limit would refuse it.
                // Every campaign recipient is distinct, so the judged senders lose nothing by this.
                arguments += ["--no-pair-limit", "--template", "\(Self.ceilingTemplateName)=1"]
            }
            if let storm = options.storm {
                let file = work + "/storm.toml"
                try Data("[storm]\nevery_ms = \(storm.everyMilliseconds)\nduration_ms = \(storm.durationMilliseconds)\n".utf8)
                    .write(to: URL(fileURLWithPath: file))
                arguments += ["--faults", file]
            }
            if let latency = options.latency { arguments += ["--latency", latency] }
            if let setup = options.connectLatencyMilliseconds { arguments += ["--connect-latency-ms", String(setup)] }
            if signed {
                arguments += ["--webhook-url", "http://127.0.0.1:\(servePort)/webhooks/whatsapp", "--app-secret", Self.webhookAppSecret]
            }
            if let rate = options.inbound { arguments += ["--inbound-rate", String(rate)] }
            let child = try ServiceProcess(
                name: "sluice mock", executable: options.executable, arguments: arguments,
                environment: [:], logPath: work + "/mock.log")
            children.append(child)
            mock = child
            mockURL = try await child.waitForAddress(prefix: "mock listening on ")
            mockHTTP = LoopbackHTTP(caFile: work + "/mock/mock-cert.pem")
        }
        guard let mockURL else { throw LoadTestError.invalidConfiguration("no mock URL") }

        // Ceiling runs measure the reference first, against the same mock, before the dispatcher exists.
        var reference: ReferenceResult?
        if plan.ceiling {
            reference = try await runReference(mockHTTP: mockHTTP, mockURL: mockURL, bodies: bodies)
        }

        var serverURL = options.serverURL
        var serve: ServiceProcess?
        if serverURL == nil {
            var arguments = [
                "serve", "--data-dir", work + "/data", "--listen", "127.0.0.1:\(servePort)", "--graph-url", mockURL,
                "--ca-file", options.mockCAFile ?? work + "/mock/mock-cert.pem",
            ]
            if let connections = options.connections { arguments += ["--connections", String(connections)] }
            if let margin = options.pacingMargin { arguments += ["--pacing-margin", String(margin)] }
            if !options.warmStart { arguments.append("--no-warm-start") }
            if let version = options.httpVersion { arguments += ["--http-version", version] }
            let child = try ServiceProcess(
                name: "sluice serve", executable: options.executable, arguments: arguments,
                environment: ["SLUICE_ADMIN_KEY": options.adminKey], logPath: work + "/serve.log")
            children.append(child)
            serve = child
            serverURL = try await child.waitForAddress(prefix: "sluice listening on ")
        }
        guard let serverURL else { throw LoadTestError.invalidConfiguration("no server URL") }
        let api = LoopbackHTTP()
        let key = options.adminKey

        // The subscriber first: customers start writing once a number is the mock's.
        var subscriber: SubscriberReceiver?
        if options.inbound != nil {
            let receiver = SubscriberReceiver(secret: Self.subscriberSecret)
            subscriber = receiver
            try await subscribe(receiver, api: LoopbackHTTP(), serverURL: serverURL, key: options.adminKey, bodies: bodies)
        }
        defer { if let subscriber { Task { await subscriber.stop() } } }

        // 2. Senders, on the dispatcher and (when it supports it) on the mock.
        let senders = plan.senders
        for sender in senders {
            let file = bodies + "/sender-\(sender.phoneNumberID).json"
            let token = "loadtest-token-\(sender.phoneNumberID)"
            let secret = signed ? #","app_secret":"\#(Self.webhookAppSecret)""# : ""
            try Data(#"{"tier_mps":\#(sender.tier),"access_token":"\#(token)"\#(secret)}"#.utf8).write(to: URL(fileURLWithPath: file))
            let r = try api.request("PUT", "\(serverURL)/v1/senders/\(sender.phoneNumberID)", bearer: key, bodyFile: file)
            guard r.status == 200 else { throw LoadTestError.http("PUT /v1/senders/\(sender.phoneNumberID): \(r.status) \(r.text)") }
            // Ceiling senders have no tier at the mock: the endpoint must not be the limit
            // (the dispatcher still paces each at most at its tier of 1000).
            let mockFile = bodies + "/mock-sender-\(sender.phoneNumberID).json"
            try Data((plan.ceiling ? #"{"access_token":"\#(token)"}"# : #"{"tier_mps":\#(sender.tier),"access_token":"\#(token)"}"#).utf8)
                .write(to: URL(fileURLWithPath: mockFile))
            let m = try mockHTTP.request("PUT", "\(mockURL)/__mock/senders/\(sender.phoneNumberID)", bodyFile: mockFile)
            // An older mock has no sender registry: it answers 404 (or 405) and does not enforce tiers.
            guard (200..<300).contains(m.status) || m.status == 404 || m.status == 405 else {
                throw LoadTestError.http("PUT /__mock/senders/\(sender.phoneNumberID): \(m.status) \(m.text)")
            }
        }
        if options.inbound != nil {
            try await waitForInboundReserve(api: api, serverURL: serverURL, key: key, senders: senders.map(\.phoneNumberID))
        }
        let baseline = try mockStats(mockHTTP, mockURL).perSender
        let runStartNanoseconds = Self.nowNanoseconds()

        // 3. One campaign per sender.
        var campaigns: [SubmittedCampaign] = []
        for sender in senders {
            let file = bodies + "/campaign-\(sender.phoneNumberID).json"
            try Self.campaignBody(sender).write(to: URL(fileURLWithPath: file))
            let r = try api.request("POST", "\(serverURL)/v1/campaigns", bearer: key, bodyFile: file, timeoutSeconds: LoopbackHTTP.timeoutSecondsMax)
            // When the 202 was complete, not when curl had exited.
            let acceptedAt = r.completedAtNanoseconds
            guard r.status == 202 else { throw LoadTestError.http("POST /v1/campaigns for \(sender.phoneNumberID): \(r.status) \(r.text)") }
            let object = try r.json()
            guard let id = object["id"] as? String, let accepted = (object["accepted"] as? NSNumber)?.intValue else {
                throw LoadTestError.http("POST /v1/campaigns: no id/accepted in \(r.text)")
            }
            campaigns.append(SubmittedCampaign(sender: sender, campaignID: id, accepted: accepted, acceptedAtNanoseconds: acceptedAt))
        }
        try? FileManager.default.removeItem(atPath: bodies)

        // 4. Follow until every campaign is done or the deadline passes.
        let submitted = Date()
        let deadlineSeconds = Double(plan.deadlineSeconds)
        let pollMilliseconds = options.storm == nil ? Self.pollMilliseconds : Self.stormPollMilliseconds
        let pollsMax = Int(deadlineSeconds * 1_000) / pollMilliseconds + 1
        var stormOrigin: Int64?
        var rateSamples: [String: [RateSample]] = [:]
        var states = [String](repeating: "active", count: campaigns.count)
        // Settled: done, or every message at the endpoint and none queued or in flight at the
        // dispatcher (in-doubt ones wait for a status or the settle window, up to 10 minutes).
        var settled = [Bool](repeating: false, count: campaigns.count)
        var inDoubt = [Int](repeating: 0, count: campaigns.count)
        // The endpoint's counts per sender, with when they were read, over the rate window.
        var readings: [(atNanoseconds: Int64, arrived: [Int])] = [(Self.nowNanoseconds(), [Int](repeating: 0, count: campaigns.count))]
        var allDone = false
        var inFlightMax: Int?
        var connectionsMax: Int?
        let endpointPort = URLComponents(string: mockURL)?.port
        for poll in 0..<pollsMax {
            try await Task.sleep(for: .milliseconds(pollMilliseconds))
            let asked = Self.nowNanoseconds()
            let stats = try? mockStats(mockHTTP, mockURL)
            let counts = stats?.perSender ?? [:]
            if options.storm != nil, let stats {
                // The schedule's start on our clock, from the middle of the request.
                if stormOrigin == nil, stats.errors.stormEveryMilliseconds != nil {
                    stormOrigin = (asked + Self.nowNanoseconds()) / 2 - stats.errors.stormElapsedMilliseconds * 1_000_000
                }
                for sender in senders {
                    guard let r = try? api.request("GET", "\(serverURL)/v1/senders/\(sender.phoneNumberID)", bearer: key), r.status == 200,
                          let rate = (try? r.json())?["effective_mps"] as? NSNumber else { continue }
                    rateSamples[sender.phoneNumberID, default: []].append(RateSample(
                        atNanoseconds: Self.nowNanoseconds(), effectiveMessagesPerSecond: rate.doubleValue,
                        stormAnswers: stats.errors.storm130429PerSender[sender.phoneNumberID] ?? 0))
                }
            }
            if let r = try? api.request("GET", "\(serverURL)/v1/senders", bearer: key), r.status == 200,
               let list = (try? r.json())?["senders"] as? [[String: Any]] {
                let inFlight = list.reduce(0) { $0 + (($1["in_flight"] as? NSNumber)?.intValue ?? 0) }
                inFlightMax = max(inFlightMax ?? 0, inFlight)
            }
            if let endpointPort { connectionsMax = max(connectionsMax ?? 0, ProcessUsage.connections(toPort: endpointPort)) }
            for (i, campaign) in campaigns.enumerated() where !settled[i] {
                // Each poll is a curl process: a ceiling run, which shares the two cores with
                // what it measures, asks about a campaign only once the endpoint has all its
                // messages, and otherwise every few polls.
                let id = campaign.sender.phoneNumberID
                let complete = (counts[id] ?? 0) - (baseline[id] ?? 0) >= campaign.accepted
                if !plan.ceiling || complete || poll % Self.ceilingStatePollEvery == 0,
                   let r = try? api.request("GET", "\(serverURL)/v1/campaigns/\(campaign.campaignID)", bearer: key), r.status == 200,
                   let object = try? r.json(), let state = object["state"] as? String {
                    states[i] = state
                    let counts = object["counts"] as? [String: Any] ?? [:]
                    func count(_ key: String) -> Int { (counts[key] as? NSNumber)?.intValue ?? 0 }
                    inDoubt[i] = count("in_doubt")
                    settled[i] = state == "done" || (complete && count("queued") == 0 && count("in_flight") == 0)
                }
            }
            allDone = states.allSatisfy { $0 == "done" }
            let allSettled = settled.allSatisfy { $0 }
            let now = Date()
            let arrivedNow = campaigns.map { max(0, (counts[$0.sender.phoneNumberID] ?? 0) - (baseline[$0.sender.phoneNumberID] ?? 0)) }
            if stats != nil { readings.append((asked, arrivedNow)) }
            while readings.count > 2, Double(asked - readings[1].atNanoseconds) / 1e9 >= Self.progressRateSeconds { readings.removeFirst() }
            let first = readings[0]
            let span = max(Double((readings.last?.atNanoseconds ?? asked) - first.atNanoseconds) / 1e9, 0.001)
            var lines: [SenderProgress] = []
            for (i, campaign) in campaigns.enumerated() {
                let latest = readings.last?.arrived[i] ?? arrivedNow[i]
                lines.append(SenderProgress(
                    phoneNumberID: campaign.sender.phoneNumberID, tier: campaign.sender.tier, accepted: campaign.accepted,
                    arrived: arrivedNow[i], rate: Double(latest - first.arrived[i]) / span, state: states[i]))
            }
            let elapsed = now.timeIntervalSince(submitted)
            progress(Snapshot(senders: lines, elapsedSeconds: elapsed, deadlineSeconds: deadlineSeconds, finished: allSettled || elapsed >= deadlineSeconds))
            if allSettled || elapsed >= deadlineSeconds { break }
        }
        let inDoubtTotal = inDoubt.reduce(0, +)
        if inDoubtTotal > 0 {
            logger.warning("\(inDoubtTotal) message(s) in doubt at the dispatcher (sent, no answer it could read); not waiting for them to settle")
        }
        let endNanoseconds = Self.nowNanoseconds()

        // With webhooks, the `delivered` statuses trail the sends: wait (bounded) while `serve` acknowledges them.
        var deliveries: [EndpointArrival]?
        if options.webhooks {
            let expected = campaigns.reduce(0) { $0 + $1.accepted }
            deliveries = try await collectDeliveries(mockHTTP, mockURL, senders: Set(senders.map(\.phoneNumberID)), expected: expected)
        }

        var inboundTrips: [InboundTrip]?
        if let subscriber {
            inboundTrips = try await collectInbound(mockHTTP, mockURL, subscriber: subscriber, endNanoseconds: endNanoseconds)
        }

        // 5. Cost and errors while the processes still live, then stop them.
        try await Task.sleep(for: .milliseconds(Self.recordSettleMilliseconds))
        let errors = (try? mockStats(mockHTTP, mockURL).errors) ?? MockErrorCounts()
        var usage = serve.flatMap { ProcessUsage.sample(pid: $0.pid) }
        usage?.inFlightMax = inFlightMax
        usage?.endpointConnectionsMax = connectionsMax
        if let serve {
            let status = await serve.stop()
            if status != 0 { logger.warning("sluice serve exited with \(status.map(String.init) ?? "SIGKILL"); log: \(serve.logPath)") }
        }
        if let mock { await mock.stop() }
        children.removeAll()
        await subscriber?.stop()

        // 6. The endpoint's record.
        var arrivals: [EndpointArrival]
        if let recordPath {
            do {
                arrivals = try EndpointArrival.parseRecord(Data(contentsOf: URL(fileURLWithPath: recordPath)))
            } catch {
                throw LoadTestError.record("cannot read the arrival record \(recordPath): \(error)")
            }
        } else {
            arrivals = try pagedArrivals(mockHTTP, mockURL)
        }
        let planned = Set(senders.map(\.phoneNumberID))
        // A targeted mock may hold earlier runs' arrivals for the same sender ids.
        arrivals.removeAll { !planned.contains($0.phoneNumberID) || (options.mockURL != nil && $0.timeNanoseconds < runStartNanoseconds) }

        var context = RunAnalysis.Context(
            command: options.commandLine, startedAt: startedAt, seconds: plan.seconds,
            mode: serve != nil && mock != nil ? "started" : serve == nil && mock == nil ? "targeted" : "mixed", serverURL: serverURL, mockURL: mockURL,
            wallSeconds: Date().timeIntervalSince(submitted), campaignsDone: allDone, endNanoseconds: endNanoseconds, usage: usage,
            inDoubt: inDoubtTotal,
            ceiling: reference.map { CeilingInput(connections: referenceConnections, reference: $0, httpVersion: options.httpVersion == "1.1" ? "1.1" : "2") })
        if let rate = options.inbound, let inboundTrips, let subscriber {
            context.inbound = (rate, inboundTrips, subscriber.tally().badSignatures)
        }
        if let storm = options.storm {
            guard let stormOrigin else { throw LoadTestError.http("the mock did not report its storm schedule (GET /__mock/stats has no storm)") }
            context.storm = StormInput(
                schedule: StormSchedule(everyMilliseconds: storm.everyMilliseconds, durationMilliseconds: storm.durationMilliseconds, originNanoseconds: stormOrigin),
                samples: rateSamples, pollSeconds: Double(pollMilliseconds) / 1_000)
        }
        return RunAnalysis.report(
            campaigns: campaigns, arrivals: arrivals, errors: errors, context: context, deliveries: deliveries,
            departures: serve != nil && mock != nil ? try departureInput(work: work) : nil)
    }

    /// `{"sender": id, "message": text with {{1}}, "recipients": [{"to": firstRecipient + n, "params": ["n…"]}]}`.
    static func campaignBody(_ sender: SenderPlan) -> Data {
        var body = #"{"sender":""# + sender.phoneNumberID + #"","message":{"type":"text","text":{"body":"Load test {{1}}"}},"recipients":["#
        body.reserveCapacity(body.utf8.count + sender.messageCount * 44)
        for n in 0..<sender.messageCount {
            if n > 0 { body += "," }
            body += #"{"to":""# + String(sender.firstRecipient + Int64(n)) + #"","params":["n"# + String(n) + #""]}"#
        }
        body += "]}"
        return Data(body.utf8)
    }

    /// CLOCK_REALTIME in nanoseconds: the clock the mock stamps arrivals with.
    static func nowNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
