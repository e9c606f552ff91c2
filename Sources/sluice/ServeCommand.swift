import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import SluiceEngine
import SluiceServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the dispatcher and its HTTP API until SIGTERM or SIGINT (which drain in-flight requests first)."
    )

    @Option(help: "A TOML file with any of the settings below (keys: data_dir, listen, graph_url, …); flags win.")
    var config: String?
    @Option(name: .customLong("data-dir"), help: "Where the LMDB journal and admin.key live (default ./sluice-data).")
    var dataDir: String?
    @Option(help: "Address of the HTTP API, HOST:PORT (default 127.0.0.1:8080; port 0 picks a free one).")
    var listen: String?
    @Option(name: .customLong("graph-url"), help: "Base URL of the WhatsApp Cloud API (default https://graph.facebook.com).")
    var graphURL: String?
    @Option(name: .customLong("graph-version"), help: "Cloud API version in the send path (default v21.0).")
    var graphVersion: String?
    @Option(name: .customLong("ca-file"), help: "PEM file of CA certificates to trust for the Cloud API endpoint (private CA, the mock).")
    var caFile: String?
    @Option(name: .customLong("in-doubt-settle"), help: "Seconds an in-doubt message waits for a status before it may be resent (default 600).")
    var inDoubtSettle: Double?
    @Option(name: .customLong("connections"), help: "Most connections to the endpoint host, opened as requests need them (default 256 over HTTP/2, 100 requests each; 1024 with --http-version 1.1, one each).")
    var connections: Int?
    @Option(name: .customLong("request-timeout-ms"), help: "Per-request timeout in milliseconds (default 15000).")
    var requestTimeoutMs: Int?
    @Option(name: .customLong("pacing-margin"), help: "Fraction by which sends are spaced wider than the tier, the allowance for jitter on the way to the endpoint (default 0.008).")
    var pacingMargin: Double?
    @Option(name: .customLong("pair-spacing-ms"), help: "Least time between two messages of one sender to the same recipient, WhatsApp's pair limit (default 6000; 0: off).")
    var pairSpacingMs: Int?
    @Option(name: .customLong("webhook-verify-token"), help: "The hub.verify_token that subscribes /webhooks/whatsapp (also $SLUICE_WEBHOOK_VERIFY_TOKEN).")
    var webhookVerifyToken: String?
    @Flag(inversion: .prefixedNo, help: "Open each number's connections before its messages need them, at start and when its tier rises, each with a read of the number's node (default: on).")
    var warmStart: Bool?
    @Option(name: .customLong("http-version"), help: "2 (default: HTTP/2 where the endpoint offers it over ALPN, HTTP/1.1 keep-alive otherwise) or 1.1 (HTTP/1.1 keep-alive only).")
    var httpVersion: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for serving the API over TLS (with --tls-key).")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKey: String?
    @Option(name: .customLong("status-deadline-hours"), help: "Hours after the send after which a message with no delivery status ends 'unknown' (default 24).")
    var statusDeadlineHours: Double?
    @Option(name: .customLong("intake-reserve-mb"), help: "Free disk space (MB) kept for recording outcomes: below it new campaigns get 507 (default 128; 0: no check).")
    var intakeReserveMegabytes: Double?
    @Option(name: .customLong("retention-days"), help: "Days after their last change finished campaigns are removed with their messages (default 30; 0: keep forever; fractions allowed).")
    var retentionDays: Double?
    @Option(name: .customLong("client-idle-seconds"), help: "Seconds a client connection may send nothing (headers, a stalled body, keep-alive) before it is closed (default 30).")
    var clientIdleSeconds: Double?
    @Option(name: .customLong("body-min-rate"), help: "Bytes per second a request body must keep up after the first client-idle-seconds, else 408 (default 500; 0: no check).")
    var bodyMinRate: Int?
    @Option(name: .customLong("max-connections-per-client"), help: "API connections one client address may hold open at once; one more is answered 429 and closed (default 256; 0: no cap).")
    var maxConnectionsPerClient: Int?

    func settings() throws -> ServeSettings {
        var s = ServeSettings()
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw ValidationError("cannot read the config file '\(config)'")
            }
            try s.apply(toml: text, source: config)
        }
        if let dataDir { s.dataDir = dataDir }
        if let listen { s.listen = try ListenAddress(parsing: listen) }
        if let graphURL { s.graphURL = graphURL }
        if let graphVersion { s.graphVersion = graphVersion }
        if let caFile { s.caFile = caFile }
        if let inDoubtSettle { s.inDoubtSettleSeconds = inDoubtSettle }
        if let connections { s.connectionsPerHost = connections }
        if let requestTimeoutMs { s.requestTimeoutMilliseconds = requestTimeoutMs }
        if let httpVersion { s.httpVersion = httpVersion }
        if let pacingMargin { s.pacingMargin = pacingMargin }
        if let warmStart { s.warmStart = warmStart }
        if let pairSpacingMs { s.pairSpacingMilliseconds = pairSpacingMs }
        if let token = ProcessInfo.processInfo.environment["SLUICE_WEBHOOK_VERIFY_TOKEN"], !token.isEmpty { s.webhookVerifyToken = token }
        if let webhookVerifyToken { s.webhookVerifyToken = webhookVerifyToken }
        if let tlsCert { s.tlsCert = tlsCert }
        if let tlsKey { s.tlsKey = tlsKey }
        if let statusDeadlineHours { s.statusDeadlineHours = statusDeadlineHours }
        if let intakeReserveMegabytes { s.intakeReserveMegabytes = intakeReserveMegabytes }
        if let retentionDays { s.retentionDays = retentionDays }
        if let clientIdleSeconds { s.clientIdleSeconds = clientIdleSeconds }
        if let bodyMinRate { s.bodyMinRate = bodyMinRate }
        if let maxConnectionsPerClient { s.maxConnectionsPerClient = maxConnectionsPerClient }
        try s.validate()
        return s
    }

    func run() async throws {
        let settings = try settings()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "sluice")
        logger.logLevel = .info
        let credential = try AdminCredential.load(dataDirectory: settings.dataDir)
        // Up to `connections` sockets to the endpoint, plus the API's clients.
        let descriptors = FileDescriptorLimit.raiseToHard()
        if descriptors < settings.connectionsPerHostInForce + 256 {
            logger.warning("only \(descriptors) file descriptors may be open (ulimit -n): fewer than --connections \(settings.connectionsPerHostInForce) plus room for API clients")
        }
        let dispatcher = try Dispatcher(configuration: settings.engineConfiguration(), logger: logger)
        logger.info("journal open at \(settings.dataDir)/journal, encrypted under \(EngineConfiguration.journalKeyFile(dataDirectory: settings.dataDir)); admin key from \(credential.source); sending to \(settings.graphURL)/\(settings.graphVersion)")
        let router: Router<BasicRequestContext>
        let server: HTTPServerBuilder
        do {
            server = try APIServerTLS.server(settings)
            router = try APIRoutes.router(
                dispatcher: dispatcher, credential: credential, webhookVerifyToken: settings.webhookVerifyToken,
                slowClients: settings.slowClients)
        } catch {
            await dispatcher.shutdown()
            throw error
        }
        let scheme = settings.tlsCert == nil ? "http" : "https"
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(settings.listen.host, port: settings.listen.port), serverName: "sluice"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.listen.port
                // Scripts and tests read this line to find the port.
                say("sluice listening on \(scheme)://\(settings.listen.host):\(port)")
            },
            logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(
                // Stopped in reverse order: the API first, the dispatcher (which closes the
                // journal) last.
                services: [
                    .init(service: DispatcherService(dispatcher: dispatcher)),
                    .init(service: StatusDeadlineService(dispatcher: dispatcher, logger: logger)),
                    .init(service: RetentionService(dispatcher: dispatcher, logger: logger)),
                    .init(service: SubscriberDelivery(dispatcher: dispatcher, logger: logger)),
                    .init(service: app),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
