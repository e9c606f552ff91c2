import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceMock
import Testing
import SluiceTestSupport
@testable import SluiceServer

/// The media volume: an incoming media message's file is fetched through the Graph API
/// (the mock, over TLS, with the number's token), checked, stored under its SHA-256,
/// served at `/v1/media/{id}`, and described in the message's event; downloads that are
/// too large or not what Meta described are refused and never stored.
@Suite struct MediaTests {
    static let adminKey = "media-admin-key-0123456789"
    static let appSecret = "app-secret-for-media"
    static let phone = "1065000601"

    static func imageWebhook(phone: String, wamid: String, media: String, from: String, sha256: String?) -> String {
        let sha = sha256.map { #","sha256":"\#($0)""# } ?? ""
        return #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001","phone_number_id":"\#(phone)"},"contacts":[{"profile":{"name":"Amal"},"wa_id":"\#(from)"}],"messages":[{"from":"\#(from)","id":"\#(wamid)","timestamp":"1749979800","type":"image","image":{"id":"\#(media)","mime_type":"image/png"\#(sha)}},{"from":"\#(from)","id":"\#(wamid).2","timestamp":"1749979801","type":"text","text":{"body":"and this"}}]}}]}]}"#
    }

    func postWebhook(_ client: any TestClientProtocol, _ body: String) async throws -> Int {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[.init("X-Hub-Signature-256")!] = WebhookSignature.header(secret: Array(Self.appSecret.utf8), body: Array(body.utf8))
        return try await client.execute(uri: "/webhooks/whatsapp", method: .post, headers: headers, body: ByteBuffer(string: body)) { Int($0.status.code) }
    }

    func get(_ client: any TestClientProtocol, _ uri: String, key: String) async throws -> (status: Int, headers: HTTPFields, body: [UInt8]) {
        try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(key)"]) { response in
            (Int(response.status.code), response.headers, Array(response.body.readableBytesView))
        }
    }

    @Test func anIncomingImageIsFetchedStoredServedAndDescribedInItsEventBeforeTheContactsNextMessage() async throws {
        let root = NSTemporaryDirectory() + "sluice-media-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var mockLogger = Logger(label: "test.mock")
        mockLogger.logLevel = .warning
        let mock = MockEndpoint(configuration: MockConfiguration(certificateDirectory: root + "/mock"), logger: mockLogger)
        let running = try await mock.start()
        try mock.register(phoneNumberID: Self.phone, sender: MockSender(accessToken: "number-token"))
        let png = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let item = try #require(mock.media.put(phoneNumberID: Self.phone, mimeType: "image/png", bytes: png))
        let base64 = Data(Digest.sha256(png)).base64EncodedString()

        var configuration = EngineConfiguration(dataDirectory: root + "/data")
        configuration.graphURL = running.baseURL
        configuration.transport.caFile = running.caFile
        configuration.journal.durable = false
        configuration.warmStart = false
        let dispatcher = try Dispatcher(configuration: configuration)
        var fetching = MediaFetcherConfiguration()
        fetching.caFile = running.caFile
        fetching.pollIntervalMilliseconds = 20
        let fetcher = MediaFetcher(dispatcher: dispatcher, configuration: fetching)
        var delivering = SubscriberDeliveryConfiguration()
        delivering.pollIntervalMilliseconds = 20
        let delivery = SubscriberDelivery(dispatcher: dispatcher, configuration: delivering)
        let received = SubscriptionsTests.Received(failFirst: 0)
        do {
            try await dispatcher.putSender(phoneNumberID: Self.phone, tierMessagesPerSecond: 80, accessToken: "number-token", appSecret: Self.appSecret)
            try await SubscriptionsTests().withReceiver(received) { port in
                _ = try await dispatcher.createSubscription(
                    url: "http://127.0.0.1:\(port)/hook", secret: "hook-secret-0123456789", campaign: nil, states: nil, events: [.message])
                let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: Self.adminKey, source: "test"))
                try await Application(router: router).test(.router) { client in
                    // Delivery first: the image's event must wait for its file, and the
                    // contact's next message for the image's event.
                    let deliveryTask = Task { try await delivery.run() }
                    #expect(try await postWebhook(client, Self.imageWebhook(phone: Self.phone, wamid: "wamid.IMG1", media: item.id, from: "966500000007", sha256: base64)) == 200)
                    let pending = try await get(client, "/v1/media/\(item.id)", key: Self.adminKey)
                    #expect(pending.status == 409, "not fetched yet: \(String(decoding: pending.body, as: UTF8.self))")
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(received.requests.withLock { $0.isEmpty }, "no event before the file is stored")

                    let fetcherTask = Task { try await fetcher.run() }
                    try await eventually("the image stored", within: 20) { try dispatcher.media(id: item.id)?.state == .stored }
                    let record = try #require(try dispatcher.media(id: item.id))
                    let hex = Digest.sha256(png).map { String(format: "%02x", $0) }.joined()
                    #expect(record.sha256 == hex && record.size == Int64(png.count) && record.mimeType == "image/png" && record.attempts == 1)
                    #expect(FileManager.default.contents(atPath: dispatcher.mediaVolume.path(sha256: hex)) == Data(png))
                    #expect(dispatcher.mediaVolume.path(sha256: hex).hasPrefix(root + "/data/media/sha256/\(hex.prefix(2))/"))
                    #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/data/media/tmp").isEmpty)

                    let served = try await get(client, "/v1/media/\(item.id)", key: Self.adminKey)
                    #expect(served.status == 200 && served.body == png)
                    #expect(served.headers[.contentType] == "image/png" && served.headers[.contentLength] == String(png.count))
                    // The scope: a read key may not, a media:read key may.
                    let keys = try await client.execute(
                        uri: "/v1/keys", method: .post, headers: [.authorization: "Bearer \(Self.adminKey)", .contentType: "application/json"],
                        body: ByteBuffer(string: #"{"name":"reader","scopes":["read"]}"#)
                    ) { (try? JSONSerialization.jsonObject(with: Data(buffer: $0.body))) as? [String: Any] ?? [:] }
                    let media = try await client.execute(
                        uri: "/v1/keys", method: .post, headers: [.authorization: "Bearer \(Self.adminKey)", .contentType: "application/json"],
                        body: ByteBuffer(string: #"{"name":"archiver","scopes":["media:read"]}"#)
                    ) { (try? JSONSerialization.jsonObject(with: Data(buffer: $0.body))) as? [String: Any] ?? [:] }
                    #expect(try await get(client, "/v1/media/\(item.id)", key: keys["key"] as? String ?? "").status == 403)
                    #expect(try await get(client, "/v1/media/\(item.id)", key: media["key"] as? String ?? "").body == png)
                    let unknown = try await get(client, "/v1/media/123", key: Self.adminKey)
                    #expect(unknown.status == 404)
                    #expect(try await get(client, "/v1/media/..%2F..%2Fjournal", key: Self.adminKey).status == 404)

                    try await eventually("both events delivered", within: 20) { received.requests.withLock { $0.count } >= 2 }
                    let events = received.requests.withLock { $0 }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
                    #expect(events.map { $0["wamid"] as? String } == ["wamid.IMG1", "wamid.IMG1.2"], "the contact's order is kept")
                    let described = try #require(events.first?["media"] as? [String: Any])
                    #expect(described["id"] as? String == item.id && described["sha256"] as? String == hex)
                    #expect(described["mime_type"] as? String == "image/png" && (described["size"] as? NSNumber)?.intValue == png.count)
                    #expect(described["url"] as? String == "/v1/media/\(item.id)" && described["error"] == nil)
                    #expect(events.last?["media"] is NSNull)
                    fetcherTask.cancel()
                    deliveryTask.cancel()
                    _ = try? await fetcherTask.value
                    _ = try? await deliveryTask.value
                }
            }
        } catch {
            await dispatcher.shutdown()
            await mock.stop()
            throw error
        }
        await dispatcher.shutdown()
        await mock.stop()
    }

    /// A Graph API on 127.0.0.1 that describes media ids by what they test.
    final class HostileGraph: Sendable {
        let downloads = Locked<[String: Int]>([:])
        let describes = Locked<[String: Int]>([:])
        static let body = Array(repeating: UInt8(ascii: "x"), count: 1_000)
        static var bodyHex: String { Digest.sha256(body).map { String(format: "%02x", $0) }.joined() }

        func run(_ test: @Sendable (Int) async throws -> Void) async throws {
            let router = Router()
            router.get("/v21.0/:id") { request, context -> Response in
                let id = context.parameters.get("id") ?? ""
                let n = self.describes.withLock { d -> Int in
                    d[id, default: 0] += 1
                    return d[id]!
                }
                guard request.headers[.authorization] == "Bearer graph-token" else { return Response(status: .unauthorized) }
                let port = request.head.authority ?? ""
                func describe(size: Int, sha: String) -> Response {
                    let json = #"{"messaging_product":"whatsapp","url":"http://\#(port)/files/\#(id)","mime_type":"image/jpeg","sha256":"\#(sha)","file_size":\#(size),"id":"\#(id)"}"#
                    return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
                }
                switch id {
                case "2001": return describe(size: 6 << 20, sha: Self.bodyHex)  // over the image limit
                case "2002": return describe(size: 1_000, sha: Self.bodyHex)  // sends far more than it says
                case "2003": return describe(size: 1_000, sha: String(repeating: "0", count: 64))  // not those bytes
                case "2004":  // fails once, then answers
                    return n == 1 ? Response(status: .serviceUnavailable) : describe(size: 1_000, sha: Self.bodyHex)
                default:
                    let json = #"{"error":{"message":"(#100) Object does not exist","type":"OAuthException","code":100}}"#
                    return Response(status: .badRequest, body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
                }
            }
            router.get("/files/:id") { request, context -> Response in
                let id = context.parameters.get("id") ?? ""
                self.downloads.withLock { $0[id, default: 0] += 1 }
                guard request.headers[.authorization] == "Bearer graph-token" else { return Response(status: .unauthorized) }
                // 2002's body is over 5 MB without a Content-Length: only counting stops it.
                if id == "2002" {
                    return Response(status: .ok, body: ResponseBody { writer in
                        let chunk = ByteBuffer(bytes: Array(repeating: UInt8(ascii: "y"), count: 64 * 1024))
                        for _ in 0..<100 { try await writer.write(chunk) }
                        try await writer.finish(nil)
                    })
                }
                return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(bytes: Self.body)))
            }
            try await withLoopbackServer(router, label: "graph", test)
        }
    }

    @Test func tooLargeOrMismatchedDownloadsAreRefusedAndReportedAndFailuresAreRetried() async throws {
        let root = NSTemporaryDirectory() + "sluice-media-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let graph = HostileGraph()
        try await graph.run { port in
            var configuration = EngineConfiguration(dataDirectory: root)
            configuration.graphURL = "http://127.0.0.1:\(port)"
            configuration.journal.durable = false
            configuration.warmStart = false
            let dispatcher = try Dispatcher(configuration: configuration)
            var fetching = MediaFetcherConfiguration()
            fetching.pollIntervalMilliseconds = 20
            fetching.backoffFirstMilliseconds = 20
            fetching.backoffMaxMilliseconds = 40
            let fetcher = MediaFetcher(dispatcher: dispatcher, configuration: fetching)
            let fetching_ = Task { try await fetcher.run() }
            do {
                try await dispatcher.putSender(phoneNumberID: "1065000602", tierMessagesPerSecond: 80, accessToken: "graph-token", appSecret: Self.appSecret)
                let ids = ["2001", "2002", "2003", "2004", "2005"]
                _ = try await dispatcher.recordInbound(ids.map { id in
                    InboundMessage(
                        wamid: "wamid.\(id)", senderPhoneNumberID: "1065000602", from: "966500000008", timestamp: "1749979800", type: "image",
                        object: Array("{}".utf8), receivedMilliseconds: dispatcher.clock.wallMilliseconds(),
                        media: MediaReference(id: id, kind: .image, mimeType: "image/jpeg"))
                })
                try await eventually("every download settled", within: 30) { try ids.allSatisfy { try dispatcher.media(id: $0)?.state != .pending } }
                func record(_ id: String) throws -> MediaRecord {
                    let found = try dispatcher.media(id: id)
                    return try #require(found, "media \(id)")
                }

                let tooLarge = try record("2001")
                #expect(tooLarge.state == .failed && tooLarge.attempts == 1)
                #expect(tooLarge.error?.contains("more than the 5242880-byte limit for image; not downloaded") == true, "\(tooLarge.error ?? "")")
                #expect(graph.downloads.withLock { $0["2001"] } == nil, "refused before any byte was fetched")

                let flood = try record("2002")
                #expect(flood.state == .failed && flood.attempts == 1)
                #expect(flood.error?.contains("passed the 5242880-byte limit") == true, "\(flood.error ?? "")")

                let mismatched = try record("2003")
                #expect(mismatched.state == .failed && mismatched.error?.contains("SHA-256 is \(HostileGraph.bodyHex) where Meta described 000") == true)

                let flaky = try record("2004")
                #expect(flaky.state == .stored && flaky.attempts == 2 && flaky.sha256 == HostileGraph.bodyHex && flaky.mimeType == "image/jpeg")

                let gone = try record("2005")
                #expect(gone.state == .failed && gone.attempts == 1 && gone.error?.contains("HTTP 400 (code 100)") == true, "\(gone.error ?? "")")

                // Only the good file is in the volume; nothing is left half-written.
                let stored = try FileManager.default.subpathsOfDirectory(atPath: root + "/media/sha256").filter { $0.count > 3 }
                #expect(stored == ["\(HostileGraph.bodyHex.prefix(2))/\(HostileGraph.bodyHex)"])
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/media/tmp").isEmpty)

                // The event tells the subscriber why.
                let event = InboundEvent(eventID: 9, message: InboundMessage(
                    wamid: "wamid.2003", senderPhoneNumberID: "1065000602", from: "966500000008", timestamp: "1", type: "image",
                    object: Array("{}".utf8), receivedMilliseconds: 0, media: MediaReference(id: "2003", kind: .image, mimeType: "image/jpeg")))
                let body = try #require(try JSONSerialization.jsonObject(with: Data(SubscriberEvent.body(event, media: mismatched))) as? [String: Any])
                let media = try #require(body["media"] as? [String: Any])
                #expect(media["id"] as? String == "2003" && (media["error"] as? String)?.hasSuffix("refused") == true && media["url"] == nil)

                // Retention takes the records and the file no record names any more.
                let swept = try await dispatcher.sweepMediaRetention(cutoffMilliseconds: dispatcher.clock.wallMilliseconds() + 1)
                #expect(swept == MediaRetentionStep(records: 5, files: 1))
                #expect(try ids.allSatisfy { try dispatcher.media(id: $0) == nil })
                #expect(!dispatcher.mediaVolume.contains(sha256: HostileGraph.bodyHex))
            } catch {
                fetching_.cancel()
                await dispatcher.shutdown()
                throw error
            }
            fetching_.cancel()
            _ = try? await fetching_.value
            await dispatcher.shutdown()
        }
    }
}
