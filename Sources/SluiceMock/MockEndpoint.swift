import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import SluiceCore

/// A WhatsApp Cloud API stand-in: serves `POST /{version}/{phone_number_id}/messages` over
/// TLS (HTTP/2 and HTTP/1.1 by ALPN) or plain HTTP/1.1, and records every accepted send.
///
/// It judges like WhatsApp: registered numbers have their token checked (190), their tier
/// enforced over a sliding second of arrivals (130429) and a per-recipient pair limit
/// (131056); registered templates are checked (132001, 132000); faults are injected from a
/// seeded ``FaultProfile``. Refused and faulted requests are counted, never recorded.
///
/// ```swift
/// let mock = MockEndpoint(configuration: MockConfiguration(certificateDirectory: dir), logger: logger)
/// try mock.register(phoneNumberID: "106540352242922", sender: MockSender(tierMessagesPerSecond: 80))
/// let running = try await mock.start()        // running.baseURL, running.caFile
/// // … send to "\(running.baseURL)/v21.0/106540352242922/messages" …
/// await mock.stop()                            // flushes the record file
/// print(mock.stats().errors[130_429] ?? 0)
/// ```
///
/// HTTP routes besides the send: `GET /__mock/stats`, `GET /__mock/arrivals`,
/// `GET /__mock/webhooks/delivered`, `PUT /__mock/senders/{phone_number_id}` with `{"tier_mps": 80, "access_token": "…"}`,
/// `POST /__mock/contacts/{phone_number_id}/{wa_id}/inbound` (with ``MockConfiguration/customerWindow``).
///
/// As a `Service` (for example under the CLI's `ServiceGroup` with SIGTERM as a graceful
/// shutdown signal) ``run()`` starts, waits for graceful shutdown or cancellation, then stops.
public final class MockEndpoint: Sendable {
    /// Longest a graceful stop may take before open connections are cancelled.
    public static let gracefulStopSecondsMax = 5

    /// Where a started endpoint listens.
    public struct Running: Sendable {
        /// The bound port (the ephemeral one when ``MockConfiguration/port`` is 0).
        public let port: Int
        /// `https://127.0.0.1:PORT` (or `http://…` without TLS); append `/v21.0/{id}/messages`.
        public let baseURL: String
        /// The PEM a client must trust (`--cacert`, `CURLOPT_CAINFO`); nil without TLS.
        public let caFile: String?
    }

    /// Everything a running server owns; taken out whole by `stop()`.
    private struct Runtime: Sendable {
        let group: ServiceGroup
        let server: Task<Void, any Error>
        let flusher: Task<Void, Never>?
        let running: Running
    }

    private enum State: Sendable {
        case idle
        case starting
        case running(Runtime)
        case stopping(Task<Void, Never>)
    }

    /// The configuration the endpoint was created with.
    public let configuration: MockConfiguration
    /// Every accepted arrival; survives `stop()` and restarts of this endpoint.
    public let recorder: ArrivalRecorder
    /// Registered senders, their windows and the error counters; survive restarts.
    let book: SenderBook
    /// Seeded once per endpoint, so a restart continues the sequence rather than replaying it.
    let faults: FaultInjector
    /// Sends status webhooks when configured; its schedule survives restarts.
    let webhooks: StatusWebhookSender?
    /// Simulated customers writing in, when `webhook.inboundMessagesPerSecond` > 0.
    let inbound: InboundMessageSender?
    /// Media uploaded to the mock or sent by its simulated customers; survives restarts.
    public let media: MockMediaStore
    private let logger: Logger
    private let state = Locked(State.idle)

    /// Creates an endpoint; nothing is bound until ``start()``.
    public init(configuration: MockConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.recorder = ArrivalRecorder(logger: logger)
        self.book = SenderBook(
            senders: configuration.senders,
            requireRegistered: configuration.requireRegisteredSenders,
            pairLimit: configuration.pairLimit,
            customerWindow: configuration.customerWindow
        )
        self.faults = FaultInjector(profile: configuration.faults)
        self.media = MockMediaStore(uploadLifetimeNanoseconds: Int64(configuration.mediaUploadLifetimeSeconds * 1e9))
        self.webhooks = configuration.webhook.map { StatusWebhookSender(configuration: $0, logger: logger) }
        let (book, media) = (self.book, self.media)
        self.inbound = configuration.webhook.flatMap {
            $0.inboundMessagesPerSecond > 0 ? InboundMessageSender(configuration: $0, book: book, media: media, logger: logger) : nil
        }
    }

    /// Registers (or replaces) a sending number, before or while running; the same as
    /// `PUT /__mock/senders/{phone_number_id}`. Its past arrivals stay in its window.
    ///
    /// Throws ``MockError/invalidConfiguration(_:)`` for an id that is not digits or an
    /// invalid sender (see ``MockSender/validate()``).
    public func register(phoneNumberID: String, sender: MockSender) throws(MockError) {
        guard SendRequestValidator.isPhoneNumberID(phoneNumberID[...]) else {
            throw .invalidConfiguration("phone number id '\(phoneNumberID.prefix(64))' must be digits")
        }
        try sender.validate()
        book.register(phoneNumberID: phoneNumberID, sender: sender)
    }

    /// The registered senders (configured and registered at run time).
    public func senders() -> [String: MockSender] {
        book.senders()
    }

    /// What the mock saw so far; the same as `GET /__mock/stats`.
    public func stats() -> MockStats {
        let counters = book.counters()
        var stats = MockStats(
            arrivals: recorder.count,
            perSender: recorder.counts(),
            errors: counters.errors,
            errorsPerSender: counters.errorsPerSender,
            hangs: counters.hangs,
            resets: counters.resets,
            webhooks: webhooks?.counters,
            storm: stormStats()
        )
        stats.phoneNumberReads = book.phoneNumberReads()
        stats.readReceipts = book.readReceipts()
        return stats
    }

    private func stormStats() -> StormCounters? {
        guard let storm = configuration.faults.storm, let elapsed = faults.stormElapsedMilliseconds() else { return nil }
        let counters = book.stormCounters()
        return StormCounters(
            everyMilliseconds: storm.everyMilliseconds, durationMilliseconds: storm.durationMilliseconds,
            elapsedMilliseconds: elapsed, answers: counters.answers, perSender: counters.perSender)
    }

    /// Binds and starts serving; returns once the socket is listening.
    ///
    /// With TLS, first loads `mock-cert.pem`/`mock-key.pem` from the certificate directory
    /// or generates them. Throws ``MockError/alreadyRunning`` if already started.
    public func start() async throws -> Running {
        try state.withLock { state throws(MockError) in
            guard case .idle = state else { throw .alreadyRunning }
            state = .starting
        }
        do {
            let runtime = try await launch()
            state.withLock { $0 = .running(runtime) }
            webhooks?.start()
            inbound?.start()
            logger.info("mock endpoint listening", metadata: ["url": "\(runtime.running.baseURL)"])
            return runtime.running
        } catch {
            state.withLock { $0 = .idle }
            throw error
        }
    }

    /// Stops gracefully (in-flight requests finish, for at most ``gracefulStopSecondsMax``),
    /// then flushes and closes the record file. Concurrent callers all wait for the same stop;
    /// does nothing when not running.
    public func stop() async {
        let stopping: Task<Void, Never>? = state.withLock { state in
            switch state {
            case .running(let runtime):
                let task = Task { await self.shutDown(runtime) }
                state = .stopping(task)
                return task
            case .stopping(let task):
                return task
            case .idle, .starting:
                return nil
            }
        }
        await stopping?.value
    }

    private func shutDown(_ runtime: Runtime) async {
        await webhooks?.stop()
        await inbound?.stop()
        await runtime.group.triggerGracefulShutdown()
        let deadline = Task {
            try await Task.sleep(for: .seconds(Self.gracefulStopSecondsMax))
            runtime.server.cancel()
        }
        if case .failure(let error) = await runtime.server.result, !(error is CancellationError) {
            logger.error("mock endpoint server failed", metadata: ["error": "\(error)"])
        }
        deadline.cancel()
        if let flusher = runtime.flusher {
            await recorder.detachRecordFile(flusher: flusher)
        }
        state.withLock { $0 = .idle }
        logger.info("mock endpoint stopped", metadata: ["arrivals": "\(recorder.count)"])
    }

    // MARK: Launch

    private func launch() async throws -> Runtime {
        guard (0...65_535).contains(configuration.port) else {
            throw MockError.invalidConfiguration("port \(configuration.port) is outside 0...65535")
        }
        guard configuration.latencyMilliseconds >= 0 else {
            throw MockError.invalidConfiguration("latencyMilliseconds must not be negative")
        }
        try configuration.faults.validate()
        try configuration.webhook?.validate()
        for (id, sender) in configuration.senders {
            guard SendRequestValidator.isPhoneNumberID(id[...]) else {
                throw MockError.invalidConfiguration("sender id '\(id.prefix(64))' must be digits")
            }
            try sender.validate()
        }
        for (name, parameters) in configuration.templates where parameters < 0 || name.isEmpty {
            throw MockError.invalidConfiguration("template '\(name)' needs a name and a non-negative parameter count")
        }
        let store = CertificateStore(directory: configuration.certificateDirectory)
        let tlsConfiguration = try configuration.tls ? Self.tlsConfiguration(store.loadOrCreate(logger: logger)) : nil
        let router = Router(context: MockRequestContext.self)
        let refusals = try configuration.refusalRecordFile.map { try RecordFile(path: $0) }
        SendRoute(
            recorder: recorder,
            book: book,
            faults: faults,
            templates: configuration.templates,
            fixedLatencyMilliseconds: configuration.latencyMilliseconds,
            webhooks: webhooks,
            refusals: refusals,
            media: media
        ).register(on: router)
        InspectionRoutes(recorder: recorder, book: book, stats: { [self] in stats() }, webhooks: webhooks, inbound: inbound).register(on: router)
        let mediaRoutes = MockMediaRoutes(store: media, book: book, tls: configuration.tls)
        mediaRoutes.register(on: router)
        PhoneNumberRoute(book: book, media: mediaRoutes).register(on: router)

        // The bound port arrives through the server's callback; the stream ends early if it fails to bind.
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router,
            server: try Self.serverBuilder(tls: tlsConfiguration, setupMilliseconds: configuration.connectionSetupMilliseconds),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "SluiceMock"
            ),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )

        let flusher = try configuration.recordFile.map { try recorder.attachRecordFile(path: $0) }
        var groupConfiguration = ServiceGroupConfiguration(services: [.init(service: application)], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(Self.gracefulStopSecondsMax)
        let group = ServiceGroup(configuration: groupConfiguration)
        let serverTask = Task {
            defer { portContinuation.finish() }
            try await group.run()
        }

        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            serverTask.cancel()
            let result = await serverTask.result
            if let flusher { await recorder.detachRecordFile(flusher: flusher) }
            if case .failure(let error) = result { throw error }
            throw MockError.serverDidNotStart
        }
        let scheme = configuration.tls ? "https" : "http"
        let running = Running(
            port: port,
            baseURL: "\(scheme)://\(Self.urlHost(configuration.host)):\(port)",
            caFile: configuration.tls ? store.certificatePath : nil
        )
        return Runtime(group: group, server: serverTask, flusher: flusher, running: running)
    }

    /// ALPN offers h2 and http/1.1; plain mode is HTTP/1.1 only (h2c is broken in our
    /// libcurl). With a connection setup time, each connection starts that late.
    private static func serverBuilder(tls: TLSConfiguration?, setupMilliseconds: Int) throws -> HTTPServerBuilder {
        let delay = TimeAmount.milliseconds(Int64(setupMilliseconds))
        if let tls {
            let streams = HTTP2UpgradeChannel.Configuration(
                streamConfiguration: .init(additionalChannelHandlers: [ArrivalStamp(), FinalDataFrame.Installer()]))
            guard setupMilliseconds > 0 else { return try .http2Upgrade(tlsConfiguration: tls, configuration: streams) }
            return HTTPServerBuilder { responder in
                DistantChildChannel(
                    base: try HTTP2UpgradeChannel(tlsConfiguration: tls, configuration: streams, responder: responder), setupDelay: delay)
            }
        }
        let plain = HTTP1Channel.Configuration(additionalChannelHandlers: [ArrivalStamp()])
        guard setupMilliseconds > 0 else { return .http1(configuration: plain) }
        return HTTPServerBuilder { responder in
            DistantChildChannel(base: HTTP1Channel(responder: responder, configuration: plain), setupDelay: delay)
        }
    }

    private static func tlsConfiguration(_ certificate: SelfSignedCertificate) throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: [
                .certificate(try NIOSSLCertificate(bytes: Array(certificate.certificatePEM.utf8), format: .pem))
            ],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem))
        )
    }

    /// The host a local client should dial: wildcard binds map to loopback; IPv6 gets brackets.
    static func urlHost(_ host: String) -> String {
        switch host {
        case "0.0.0.0", "": return "127.0.0.1"
        case "::": return "[::1]"
        default: return host.contains(":") ? "[\(host)]" : host
        }
    }
}

extension MockEndpoint: Service {
    /// Starts, serves until graceful shutdown (e.g. SIGTERM in a `ServiceGroup`) or task
    /// cancellation, then stops and flushes the record file.
    ///
    /// For a standalone process:
    /// ```swift
    /// let group = ServiceGroup(services: [mock], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    /// try await group.run()
    /// ```
    public func run() async throws {
        _ = try await start()
        guard let server = state.withLock({ state -> Task<Void, any Error>? in
            if case .running(let runtime) = state { return runtime.server }
            return nil
        }) else { return }
        await withTaskCancellationOrGracefulShutdownHandler {
            _ = await server.result
        } onCancelOrGracefulShutdown: {
            // Stopping ends the server task, which ends the wait above.
            Task { await self.stop() }
        }
        await stop()
        if case .failure(let error) = await server.result, !(error is CancellationError) {
            throw error
        }
    }
}
