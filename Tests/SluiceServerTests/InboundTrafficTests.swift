import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceMock
import SluiceServer
import Testing
import SluiceTestSupport

/// The receive side end to end over real sockets: the mock's simulated customers send
/// signed incoming messages of every type to `serve`'s webhook route; `serve` journals
/// them, fetches their media from the mock with the number's token, and delivers every
/// message to a subscriber in order per contact, media described and servable.
@Suite struct InboundTrafficTests {
    static let adminKey = "inbound-admin-key-0123456789"
    static let appSecret = "inbound-app-secret"
    static let phone = "1065000701"

    @Test func everyMessageTypeReachesTheSubscriberInOrderPerContactWithItsMediaStored() async throws {
        let root = NSTemporaryDirectory() + "sluice-inbound-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The mock must know serve's webhook URL before it starts, and serve the mock's.
        let servePort = try freeLoopbackPort()
        var mockConfiguration = MockConfiguration(certificateDirectory: root + "/mock")
        var webhook = WebhookConfiguration(url: "http://127.0.0.1:\(servePort)/webhooks/whatsapp", appSecret: Self.appSecret)
        webhook.inboundMessagesPerSecond = 40
        mockConfiguration.webhook = webhook
        var logger = Logger(label: "test.mock")
        logger.logLevel = .warning
        let mock = MockEndpoint(configuration: mockConfiguration, logger: logger)
        let running = try await mock.start()
        var configuration = EngineConfiguration(dataDirectory: root + "/data")
        configuration.graphURL = running.baseURL
        configuration.transport.caFile = running.caFile
        configuration.journal.durable = false
        configuration.warmStart = false
        let dispatcher = try Dispatcher(configuration: configuration)
        var fetching = MediaFetcherConfiguration()
        fetching.caFile = running.caFile
        fetching.pollIntervalMilliseconds = 20
        var delivering = SubscriberDeliveryConfiguration()
        delivering.pollIntervalMilliseconds = 20
        let fetcher = MediaFetcher(dispatcher: dispatcher, configuration: fetching)
        let delivery = SubscriberDelivery(dispatcher: dispatcher, configuration: delivering)
        let received = SubscriptionsTests.Received(failFirst: 0)
        do {
            try await SubscriptionsTests().withReceiver(received) { receiverPort in
                _ = try await dispatcher.createSubscription(
                    url: "http://127.0.0.1:\(receiverPort)/hook", secret: "hook-secret-0123456789", campaign: nil, states: nil, events: [.message])
                try await dispatcher.putSender(phoneNumberID: Self.phone, tierMessagesPerSecond: 80, accessToken: "inbound-token", appSecret: Self.appSecret)
                let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: Self.adminKey, source: "test"))
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
                    group.addTask { try await delivery.run() }
                    for await _ in ports {}
                    defer { group.cancelAll() }
                    // Customers start writing once the number is the mock's too.
                    try mock.register(phoneNumberID: Self.phone, sender: MockSender(accessToken: "inbound-token"))
                    let wanted = 2 * Self.inboundMessageTypes.count
                    try await eventually("\(wanted) incoming messages delivered", within: 30) { received.requests.withLock { $0.count } >= wanted }
                    await mock.stop()
                    try await check(received, mock, servePort: servePort)
                }
            }
        } catch {
            await mock.stop()
            await dispatcher.shutdown()
            throw error
        }
        await dispatcher.shutdown()
    }

    static let inboundMessageTypes = [
        "text", "image", "interactive", "video", "location", "audio", "button", "document", "reaction", "sticker", "contacts", "order", "system",
        "unsupported",
    ]

    func check(_ received: SubscriptionsTests.Received, _ mock: MockEndpoint, servePort: Int) async throws {
        let events = received.requests.withLock { $0 }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
        let types = Set(events.compactMap { $0["message_type"] as? String })
        #expect(types.isSuperset(of: Self.inboundMessageTypes), "\(types.sorted())")
        // In order per contact: the mock numbers its messages in the order it sent them.
        var last: [String: Int] = [:]
        for event in events {
            let from = event["from"] as? String ?? "?"
            let n = Int((event["wamid"] as? String)?.split(separator: ".").last ?? "") ?? -1
            #expect(n > last[from, default: -1], "contact \(from): message \(n) after \(last[from, default: -1])")
            last[from] = n
        }
        // Every media message's file: stored, the bytes the mock holds, servable.
        let mediaTypes: Set<String> = ["image", "video", "audio", "document", "sticker"]
        let mediaEvents = events.filter { mediaTypes.contains($0["message_type"] as? String ?? "") }
        #expect(mediaEvents.count >= 10)
        for event in mediaEvents {
            let media = try #require(event["media"] as? [String: Any], "\(event)")
            let id = try #require(media["id"] as? String)
            let item = try #require(mock.media.item(id))
            #expect(media["sha256"] as? String == item.sha256 && (media["size"] as? NSNumber)?.intValue == item.bytes.count)
            #expect(media["mime_type"] as? String == item.mimeType && media["url"] as? String == "/v1/media/\(id)")
            let served = try await RawHTTPClient.get(port: servePort, path: "/v1/media/\(id)", bearer: Self.adminKey)
            #expect(served.status == 200 && served.body == item.bytes)
        }
        #expect(events.filter { !mediaTypes.contains($0["message_type"] as? String ?? "") }.allSatisfy { $0["media"] is NSNull })
    }
}
