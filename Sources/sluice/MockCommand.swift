import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SluiceMock
import SluiceServer

struct MockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock",
        abstract: "Serve a WhatsApp Cloud API stand-in (TLS, HTTP/2 and HTTP/1.1) on loopback, recording every arrival.",
        discussion: """
            Registered senders (--sender, or PUT /__mock/senders/{id} with {"tier_mps":80,"access_token":"…"}) get \
            their token checked (190), their tier enforced over a sliding second (130429) and the pair limit (131056). \
            Fault flags override the --faults profile (see tuning/faults/*.toml). Stats: GET /__mock/stats.
            """
    )

    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:0, a free port).")
    var listen = "127.0.0.1:0"
    @Option(name: .customLong("cert-dir"), help: "Where the self-signed certificate is kept (mock-cert.pem is the CA file for --ca-file).")
    var certDir = "./sluice-mock"
    @Option(help: "Append every accepted arrival to this NDJSON file.")
    var record: String?
    @Option(name: .customLong("record-refusals"), help: "Append every send refused over its tier (130429) to this NDJSON file, with the arrival stamp it was judged by.")
    var recordRefusals: String?
    @Option(name: .customLong("latency-ms"), help: "Fixed delay before each answer, in milliseconds (added to any profile latency).")
    var latencyMs = 0
    @Option(name: .customLong("connect-latency-ms"), help: "A new connection's setup time (its first bytes are read this late), in milliseconds: the TCP and TLS round trips to a distant endpoint.")
    var connectLatencyMs = 0
    @Flag(help: "Serve plain HTTP/1.1 instead of TLS.")
    var plain = false

    @Option(name: .customLong("sender"), help: "Register a sender: ID=TIER[:TOKEN], TIER in msg/s or 'unlimited' (repeatable).")
    var senders: [String] = []
    @Flag(name: .customLong("require-registered"), help: "Refuse unregistered numbers with 401 code 190.")
    var requireRegistered = false
    @Flag(name: .customLong("no-pair-limit"), help: "Do not enforce the per-recipient pair limit (131056).")
    var noPairLimit = false
    @Option(name: .customLong("template"), help: "Register a template: NAME=BODY_PARAMS (repeatable); enables 132000/132001 checks.")
    var templates: [String] = []
    @Flag(name: .customLong("customer-window"), help: "Refuse free-form (non-template) sends to a contact with no incoming message in the last 24 h (131047); the mock's incoming messages (--inbound-rate) and POST /__mock/contacts/{id}/{wa_id}/inbound open a contact's window.")
    var customerWindow = false

    @Option(name: .customLong("media-upload-ttl"), help: "Seconds a number may send the id of a file it uploaded (default 2592000, Meta's 30 days); later sends naming it get 131053.")
    var mediaUploadTTL: Double = 30 * 86_400

    @Option(name: .customLong("faults"), help: "Fault profile TOML file (e.g. tuning/faults/flaky.toml).")
    var faultsFile: String?
    @Option(name: .customLong("fault-seed"), help: "Seed of the fault generator (overrides the profile's).")
    var faultSeed: UInt64?
    @Option(name: .customLong("server-error-share"), help: "Share of requests answered 500/503 (0...1).")
    var serverErrorShare: Double?
    @Option(name: .customLong("error-share"), help: "Answer CODE for a share of requests: CODE=SHARE (repeatable, added to the profile's).")
    var errorShares: [String] = []
    @Option(name: .customLong("latency"), help: "Latency distribution: fixed:MS, uniform:MIN-MAX or long-tail:MEDIAN/P99.")
    var latency: String?
    @Option(name: .customLong("hang-share"), help: "Share of requests held without an answer (0...1).")
    var hangShare: Double?
    @Option(name: .customLong("hang-ms"), help: "How long a hanging request is held, in milliseconds (default 60000).")
    var hangMs: Int?
    @Option(name: .customLong("reset-share"), help: "Share of requests whose connection is closed without an answer (0...1).")
    var resetShare: Double?

    @Option(name: .customLong("webhook-url"), help: "Send status webhooks (sent, delivered, read) for accepted messages to this URL, e.g. http://127.0.0.1:8080/webhooks/whatsapp.")
    var webhookURL: String?
    @Option(name: .customLong("app-secret"), help: "App secret that signs the webhooks (X-Hub-Signature-256); required with --webhook-url.")
    var appSecret: String?
    @Option(name: .customLong("webhook-verify-token"), help: "Subscribe first with this hub.verify_token and send only after the challenge is echoed.")
    var webhookVerifyToken: String?
    @Option(name: .customLong("webhook-delays-ms"), help: "Delays of sent, delivered and read after acceptance, in ms (default 20,150,600).")
    var webhookDelaysMs: String?
    @Option(name: .customLong("webhook-read-share"), help: "Share of messages that also get read (default 1).")
    var webhookReadShare: Double?
    @Option(name: .customLong("webhook-duplicate-share"), help: "Share of messages whose delivered status is posted twice (default 0).")
    var webhookDuplicateShare: Double?
    @Option(name: .customLong("webhook-reorder-share"), help: "Share of messages whose delivered status comes before sent (default 0).")
    var webhookReorderShare: Double?
    @Option(name: .customLong("webhook-statuses-per-post"), help: "Statuses in one status-webhook POST, 1...100 (default 1: one per POST, as WhatsApp mostly sends them, many POSTs side by side); above 1 a number's statuses that came due together share a body.")
    var webhookStatusesPerPost: Int?
    @Option(name: .customLong("inbound-rate"), help: "Incoming messages per second per registered number, from simulated customers: every message type in turn, media included, posted signed to --webhook-url (default 0).")
    var inboundRate: Double?

    /// The webhook settings from the flags; nil without `--webhook-url`.
    private func webhookConfiguration() throws -> WebhookConfiguration? {
        guard let webhookURL else {
            let given = [
                ("--app-secret", appSecret != nil), ("--webhook-verify-token", webhookVerifyToken != nil), ("--inbound-rate", inboundRate != nil),
                ("--webhook-delays-ms", webhookDelaysMs != nil), ("--webhook-read-share", webhookReadShare != nil),
                ("--webhook-duplicate-share", webhookDuplicateShare != nil), ("--webhook-reorder-share", webhookReorderShare != nil),
                ("--webhook-statuses-per-post", webhookStatusesPerPost != nil),
            ].filter(\.1).map(\.0)
            // A webhook setting without a place to post is a mistake, not a no-op.
            guard given.isEmpty else { throw ValidationError("\(given.joined(separator: ", ")) need\(given.count == 1 ? "s" : "") --webhook-url") }
            return nil
        }
        guard let appSecret, !appSecret.isEmpty else { throw ValidationError("--webhook-url needs --app-secret to sign the webhooks") }
        var w = WebhookConfiguration(url: webhookURL, appSecret: appSecret)
        w.verifyToken = webhookVerifyToken
        if let webhookDelaysMs {
            let parts = webhookDelaysMs.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 3, let sent = parts[0], let delivered = parts[1], let read = parts[2] else {
                throw ValidationError("webhook-delays-ms '\(webhookDelaysMs)' must look like SENT,DELIVERED,READ in ms, e.g. 20,150,600")
            }
            (w.sentDelayMilliseconds, w.deliveredDelayMilliseconds, w.readDelayMilliseconds) = (sent, delivered, read)
        }
        if let webhookReadShare { w.readShare = webhookReadShare }
        if let webhookDuplicateShare { w.duplicateShare = webhookDuplicateShare }
        if let webhookReorderShare { w.reorderShare = webhookReorderShare }
        if let webhookStatusesPerPost { w.statusesPerPost = webhookStatusesPerPost }
        if let inboundRate { w.inboundMessagesPerSecond = inboundRate }
        return w
    }

    func run() async throws {
        let address = try ListenAddress(parsing: listen)
        guard (0...60_000).contains(latencyMs) else { throw ValidationError("latency-ms must be between 0 and 60000") }
        guard (0...60_000).contains(connectLatencyMs) else { throw ValidationError("connect-latency-ms must be between 0 and 60000") }
        var configuration = MockConfiguration(certificateDirectory: certDir)
        configuration.host = address.host
        configuration.port = address.port
        configuration.tls = !plain
        configuration.recordFile = record
        configuration.refusalRecordFile = recordRefusals
        configuration.latencyMilliseconds = latencyMs
        configuration.connectionSetupMilliseconds = connectLatencyMs
        configuration.requireRegisteredSenders = requireRegistered
        configuration.pairLimit = !noPairLimit
        configuration.customerWindow = customerWindow
        guard mediaUploadTTL > 0 else { throw ValidationError("--media-upload-ttl must be positive") }
        configuration.mediaUploadLifetimeSeconds = mediaUploadTTL
        do {
            for argument in senders {
                let (id, sender) = try MockSender.parse(argument: argument)
                configuration.senders[id] = sender
            }
            for argument in templates {
                let parts = argument.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty, let count = Int(parts[1]), count >= 0 else {
                    throw ValidationError("template '\(argument)' must look like NAME=BODY_PARAMS")
                }
                configuration.templates[String(parts[0])] = count
            }
            configuration.faults = try faultProfile()
            configuration.webhook = try webhookConfiguration()
            try configuration.webhook?.validate()
        } catch let error as MockError {
            throw ValidationError(Self.describe(error))
        }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "sluice.mock")
        let mock = MockEndpoint(configuration: configuration, logger: logger)
        let running = try await mock.start()
        var line = "mock listening on \(running.baseURL)"
        if let ca = running.caFile { line += " (CA file: \(ca))" }
        // Scripts and tests read this line to find the port.
        say(line)
        let group = ServiceGroup(services: [StopOnShutdown(mock: mock)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// The profile file (if any) with the flags applied over it.
    private func faultProfile() throws -> FaultProfile {
        var profile = try faultsFile.map { try FaultProfile(tomlFile: $0) } ?? FaultProfile()
        if let faultSeed { profile.seed = faultSeed }
        if let serverErrorShare { profile.serverErrorShare = serverErrorShare }
        if let hangShare { profile.hangShare = hangShare }
        if let hangMs { profile.hangMilliseconds = hangMs }
        if let resetShare { profile.resetShare = resetShare }
        if let latency { profile.latency = try LatencyDistribution(parsing: latency) }
        for argument in errorShares {
            let parts = argument.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let code = Int(parts[0]), let share = Double(parts[1]) else {
                throw ValidationError("error-share '\(argument)' must look like CODE=SHARE, e.g. 131000=0.01")
            }
            profile.errorMix.append(.init(code: code, share: share))
        }
        try profile.validate()
        return profile
    }

    private static func describe(_ error: MockError) -> String {
        if case .invalidConfiguration(let message) = error { return message }
        return "\(error)"
    }
}

/// Stops the mock (flushing its record file) when the process is asked to stop.
private struct StopOnShutdown: Service {
    let mock: MockEndpoint
    func run() async throws {
        try? await gracefulShutdown()
        await mock.stop()
    }
}
