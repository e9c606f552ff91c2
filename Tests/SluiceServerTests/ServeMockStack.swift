import Foundation
import Hummingbird
import Logging
import SluiceEngine
import SluiceMock
import SluiceServer
import SluiceTestSupport

/// `serve`'s API on a free loopback port over a real dispatcher whose endpoint is the mock
/// (TLS on 127.0.0.1), with the mock's webhooks (statuses, incoming messages, account
/// updates) signed with `appSecret` and posted to that API, and the media fetcher and
/// uploader, subscriber delivery and the senders' history sampler running. Everything stops when `body` returns or throws.
struct ServeMockStack: Sendable {
    let mock: MockEndpoint
    let mockPort: Int
    let dispatcher: Dispatcher
    let servePort: Int
    let history: SenderHistorySampler

    /// `tls: false`: the mock on plain HTTP (the dispatcher then sends over HTTP/1.1), so
    /// that a test can call the mock's own routes with `RawHTTPClient`.
    static func run(
        prefix: String, appSecret: String, adminKey: String, tls: Bool = true, webhook configure: (inout WebhookConfiguration) -> Void = { _ in },
        mock configureMock: (inout MockConfiguration) -> Void = { _ in }, engine configureEngine: (inout EngineConfiguration) -> Void = { _ in },
        _ body: @Sendable (ServeMockStack) async throws -> Void
    ) async throws {
        let root = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The mock must know serve's webhook URL before it starts, and serve the mock's.
        let servePort = try freeLoopbackPort()
        var mockConfiguration = MockConfiguration(certificateDirectory: root + "/mock")
        var webhook = WebhookConfiguration(url: "http://127.0.0.1:\(servePort)/webhooks/whatsapp", appSecret: appSecret)
        configure(&webhook)
        mockConfiguration.webhook = webhook
        mockConfiguration.tls = tls
        configureMock(&mockConfiguration)
        var logger = Logger(label: "test.mock")
        logger.logLevel = .warning
        let mock = MockEndpoint(configuration: mockConfiguration, logger: logger)
        let running = try await mock.start()
        var configuration = EngineConfiguration(dataDirectory: root + "/data")
        configuration.graphURL = running.baseURL
        configuration.transport.caFile = running.caFile
        configuration.journal.durable = false
        configuration.warmStart = false
        configureEngine(&configuration)
        let dispatcher: Dispatcher
        do { dispatcher = try Dispatcher(configuration: configuration) } catch {
            await mock.stop()
            throw error
        }
        var fetching = MediaFetcherConfiguration()
        fetching.caFile = running.caFile
        fetching.pollIntervalMilliseconds = 20
        var delivering = SubscriberDeliveryConfiguration()
        delivering.pollIntervalMilliseconds = 20
        let fetcher = MediaFetcher(dispatcher: dispatcher, configuration: fetching)
        fetching.backoffFirstMilliseconds = 100
        let uploader = MediaUploader(dispatcher: dispatcher, configuration: fetching)
        let delivery = SubscriberDelivery(dispatcher: dispatcher, configuration: delivering)
        let history = SenderHistorySampler(dispatcher: dispatcher)
        do {
            let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: adminKey, source: "test"), senderHistory: history)
            let (ports, listening) = AsyncStream<Int>.makeStream()
            var serveLogger = Logger(label: "test.serve")
            serveLogger.logLevel = .warning
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: servePort)),
                onServerRunning: { _ in
                    listening.yield(0)
                    listening.finish()
                },
                logger: serveLogger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.runService() }
                group.addTask { try await fetcher.run() }
                group.addTask { try await uploader.run() }
                group.addTask { try await delivery.run() }
                group.addTask { try await history.run() }
                for await _ in ports {}
                defer { group.cancelAll() }
                try await body(ServeMockStack(mock: mock, mockPort: running.port, dispatcher: dispatcher, servePort: servePort, history: history))
                // The mock's webhooks stop first: the API is cancelled, not drained, and a
                // request cut off mid-body there would trap in NIO.
                await mock.stop()
            }
        } catch {
            await mock.stop()
            await dispatcher.shutdown()
            throw error
        }
        await mock.stop()
        await dispatcher.shutdown()
    }
}
