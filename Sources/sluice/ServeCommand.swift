import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import SluiceCluster
import SluiceEngine
import SluiceServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the dispatcher and its HTTP API until SIGTERM or SIGINT (which drain in-flight requests first).",
        usage: "sluice serve [--config FILE] [--SETTING VALUE …]",
        discussion: "SETTINGS (flags win over the --config file):\n" + ServeSettings.flagsHelp()
    )

    @Option(help: "A TOML file with any of the settings above, by their TOML keys; flags win.")
    var config: String?
    /// The settings' flags, read by `ServeSettings.apply(arguments:)` from its table.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var settingFlags: [String] = []

    func settings() throws -> ServeSettings {
        var s = ServeSettings()
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw ValidationError("cannot read the config file '\(config)'")
            }
            try s.apply(toml: text, source: config)
        }
        if let token = ProcessInfo.processInfo.environment["SLUICE_WEBHOOK_VERIFY_TOKEN"], !token.isEmpty { s.webhookVerifyToken = token }
        try s.apply(arguments: settingFlags)
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
        let cluster = settings.cluster.map { ClusterAgent(dispatcher: dispatcher, configuration: $0, logger: logger) }
        if let c = settings.cluster {
            logger.info("cluster: node \(c.nodeID) with etcd at \(c.etcdEndpoints.joined(separator: ", ")); a number is sent only while this node holds it")
            if c.advertiseURL == nil && Self.isWildcard(settings.listen.host) {
                logger.warning("cluster: no --advertise and the API listens on every address (\(settings.listen.host)): other nodes cannot hand this node the messages they take for its numbers")
            }
        }
        let router: Router<BasicRequestContext>
        let server: HTTPServerBuilder
        // Each sender's last minutes, for the dashboard (`GET /v1/stream`).
        let history = SenderHistorySampler(dispatcher: dispatcher)
        do {
            server = try APIServerTLS.server(settings)
            router = try APIRoutes.router(
                dispatcher: dispatcher, credential: credential, webhookVerifyToken: settings.webhookVerifyToken,
                slowClients: settings.slowClients, senderHistory: history, cluster: cluster)
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
                if let cluster, !Self.isWildcard(settings.listen.host) {
                    await cluster.listening(on: "\(scheme)://\(Self.urlHost(settings.listen.host)):\(port)")
                }
                // Scripts and tests read this line to find the port.
                say("sluice listening on \(scheme)://\(settings.listen.host):\(port)")
            },
            logger: logger
        )
        // Stopped in reverse order: the API first, the dispatcher (which closes the journal)
        // last; the cluster agent just before it (it stops the sends, then frees the numbers).
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: DispatcherService(dispatcher: dispatcher))]
        if let cluster { services.append(.init(service: cluster)) }
        let group = ServiceGroup(
            configuration: .init(
                services: services + [
                    .init(service: StatusDeadlineService(dispatcher: dispatcher, logger: logger)),
                    .init(service: RetentionService(dispatcher: dispatcher, logger: logger)),
                    .init(service: SubscriberDelivery(dispatcher: dispatcher, logger: logger)),
                    .init(service: MediaFetcher(dispatcher: dispatcher, configuration: settings.mediaFetcher, logger: logger)),
                    .init(service: MediaUploader(dispatcher: dispatcher, configuration: settings.mediaFetcher, logger: logger)),
                    .init(service: history),
                    .init(service: app),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// An address that is every interface's: not one other nodes can be told.
    static func isWildcard(_ host: String) -> Bool { ["", "0.0.0.0", "::", "[::]", "*"].contains(host) }

    /// An IPv6 address in brackets, as a URL needs it.
    static func urlHost(_ host: String) -> String { host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host }
}
