import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCluster
import SluiceCore
import SluiceCrypto
import SluiceEngine
@testable import SluiceServer
import Testing

/// Webhooks in a cluster: WhatsApp posts an app's webhooks to one URL, so any node gets
/// statuses of messages another node sent, and incoming messages of numbers another node
/// holds. Two real dispatchers (LMDB journals in temporary directories), node b's whole
/// API on a live server on 127.0.0.1, node a's router in process, each with a fixed
/// directory of the cluster.
///
/// Both journals have a message 1 (same id, different nodes), cancelled so that a status
/// can still move it: a status applied on the wrong node would show.
@Suite(.serialized) struct ClusterWebhookTests {
    static let token = "cluster-secret-0123456789abcdef"
    static let secret = "app-secret-for-tests"
    static let key = "test-admin-key-0123456789"

    struct FixedDirectory: ClusterDirectorySource {
        var value: ClusterDirectory?
        func directory() async -> ClusterDirectory? { value }
    }

    func dispatcher(_ name: String) throws -> (Dispatcher, String) {
        let dir = NSTemporaryDirectory() + "sluice-cluster-webhook-\(name)-\(UUID().uuidString.prefix(8))"
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"
        configuration.journal.durable = false
        configuration.clustered = true
        configuration.nodeID = name
        return (try Dispatcher(configuration: configuration), dir)
    }

    /// A one-message campaign to 966500000001, cancelled: its message 1 is `cancelled`.
    func cancelledMessage(_ dispatcher: Dispatcher, phone: String) async throws {
        let receipt = try await dispatcher.submitCampaign(
            senderPhoneNumberID: phone, messageObject: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8), recipients: [RecipientInput(to: "966500000001")])
        _ = try await dispatcher.setCampaignState(receipt.id, .withdrawn)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try dispatcher.message(MessageID(1))?.state != .cancelled { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try dispatcher.message(MessageID(1))?.state == .cancelled)
    }

    /// Node a's router (`client`) and node b's API on `bPort`; sender 555 on both, 556 on
    /// b only. `holders` and `bReachable` shape a's directory.
    func withNodes(
        holders: [String: String] = [:], bReachable: Bool = true,
        _ body: @escaping @Sendable (_ client: any TestClientProtocol, _ a: Dispatcher, _ b: Dispatcher, _ bPort: Int) async throws -> Void
    ) async throws {
        let (a, aDir) = try dispatcher("a")
        let (b, bDir) = try dispatcher("b")
        defer {
            try? FileManager.default.removeItem(atPath: aDir)
            try? FileManager.default.removeItem(atPath: bDir)
        }
        do {
            try await a.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: Self.secret)
            try await b.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: Self.secret)
            try await b.putSender(phoneNumberID: "556", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: Self.secret)
            try await cancelledMessage(a, phone: "555")
            try await cancelledMessage(b, phone: "555")
            let bDirectory = FixedDirectory(value: ClusterDirectory(nodeID: "b", token: Self.token, urls: [:], holders: holders))
            let bRouter = try APIRoutes.router(dispatcher: b, credential: AdminCredential(key: Self.key, source: "test"), clusterDirectory: bDirectory)
            try await Application(router: bRouter).test(.live) { bClient in
                let port = try #require(bClient.port)
                let url = bReachable ? "http://127.0.0.1:\(port)" : "http://127.0.0.1:9"
                let aDirectory = FixedDirectory(value: ClusterDirectory(nodeID: "a", token: Self.token, urls: ["a": "http://127.0.0.1:1", "b": url], holders: holders))
                let aRouter = try APIRoutes.router(dispatcher: a, credential: AdminCredential(key: Self.key, source: "test"), clusterDirectory: aDirectory)
                try await Application(router: aRouter).test(.router) { client in try await body(client, a, b, port) }
            }
        } catch {
            await a.shutdown()
            await b.shutdown()
            throw error
        }
        await a.shutdown()
        await b.shutdown()
    }

    static func statuses(phone: String, _ items: [(callback: String, status: String, wamid: String)]) -> String {
        let list = items.map {
            #"{"id":"\#($0.wamid)","status":"\#($0.status)","timestamp":"1700000000","recipient_id":"966500000001","biz_opaque_callback_data":"\#($0.callback)"}"#
        }
        return #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001","phone_number_id":"\#(phone)"},"statuses":[\#(list.joined(separator: ","))]}}]}]}"#
    }

    func post(_ client: any TestClientProtocol, _ body: String, secret: String = Self.secret) async throws -> (Int, [String: Any]) {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[.init("X-Hub-Signature-256")!] = WebhookSignature.header(secret: Array(secret.utf8), body: Array(body.utf8))
        return try await client.execute(uri: "/webhooks/whatsapp", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    func number(_ object: [String: Any], _ key: String) -> Int? { (object[key] as? NSNumber)?.intValue }

    @Test func aStatusGoesToTheNodeNamedInItsCallbackDataNotToTheSameIdHere() async throws {
        try await withNodes { client, a, b, _ in
            let (status, answer) = try await post(client, Self.statuses(phone: "555", [("1@b", "delivered", "wamid.B1")]))
            #expect(status == 200, "\(answer)")
            #expect(number(answer, "applied") == 1)
            #expect(try b.message(MessageID(1))?.state == .delivered)
            #expect(try b.message(MessageID(1))?.wamid == "wamid.B1")
            #expect(try a.message(MessageID(1))?.state == .cancelled, "a's message of the same id is not touched")

            // Its own, tagged or from before the cluster (no node), stay here.
            let (s2, a2) = try await post(client, Self.statuses(phone: "555", [("1@a", "sent", "wamid.A1"), ("1", "delivered", "wamid.A1")]))
            #expect(s2 == 200 && number(a2, "applied") == 2, "\(a2)")
            #expect(try a.message(MessageID(1))?.state == .delivered)
            #expect(try b.message(MessageID(1))?.state == .delivered)
        }
    }

    @Test func incomingMessagesAndOptOutsAreRecordedByTheNumbersHolder() async throws {
        try await withNodes(holders: ["555": "b"]) { client, a, b, _ in
            let (status, answer) = try await post(client, WebhookRoutesTests.incomingBody(phone: "555", wamid: "wamid.IN1", text: "STOP"))
            #expect(status == 200, "\(answer)")
            #expect(number(answer, "messages") == 1)
            let there = try b.contact(phoneNumberID: "555", waID: "966500000009")
            #expect(there?.lastInboundMilliseconds != nil && there?.suppressedMilliseconds != nil, "the holder keeps the window and the opt-out")
            #expect(try a.contact(phoneNumberID: "555", waID: "966500000009") == nil, "not recorded where it arrived")

            // WhatsApp delivers again: taken once, counted a duplicate.
            let (s2, a2) = try await post(client, WebhookRoutesTests.incomingBody(phone: "555", wamid: "wamid.IN1", text: "STOP"))
            #expect(s2 == 200 && number(a2, "messages") == 0 && number(a2, "duplicate_messages") == 1, "\(a2)")
        }
    }

    @Test func aNumberNotRegisteredHereIsRoutedByItsHolder() async throws {
        try await withNodes(holders: ["556": "b"]) { client, a, b, _ in
            let (status, answer) = try await post(client, WebhookRoutesTests.incomingBody(phone: "556", wamid: "wamid.IN2"))
            #expect(status == 200, "\(answer)")
            #expect(try b.contact(phoneNumberID: "556", waID: "966500000009")?.lastInboundMilliseconds != nil)
            #expect(try a.sender(phoneNumberID: "556") == nil)

            // The holder checks WhatsApp's signature itself.
            let (bad, refusal) = try await post(client, WebhookRoutesTests.incomingBody(phone: "556", wamid: "wamid.IN3"), secret: "not-the-secret")
            #expect(bad == 401 && (refusal["error"] as? [String: Any])?["code"] as? String == "bad_signature", "\(refusal)")
            #expect(try b.contact(phoneNumberID: "556", waID: "966500000009")?.lastInboundMilliseconds != nil)
        }
    }

    @Test func whenTheOtherNodeCannotBeReachedWhatsAppIsAskedAgainAndNothingIsRecordedTwice() async throws {
        try await withNodes(bReachable: false) { client, a, b, _ in
            let body = Self.statuses(phone: "555", [("1@a", "delivered", "wamid.A1"), ("1@b", "delivered", "wamid.B1")])
            let (status, answer) = try await post(client, body)
            #expect(status == 503, "\(answer)")
            let error = answer["error"] as? [String: Any]
            #expect(error?["code"] as? String == "cluster_unavailable")
            #expect((error?["message"] as? String)?.contains("node b") == true, "\(answer)")
            #expect(try a.message(MessageID(1))?.state == .delivered, "its own part is recorded")
            #expect(try b.message(MessageID(1))?.state == .cancelled)
        }
    }

    @Test func aPassedOnWebhookNeedsTheClusterSecret() async throws {
        try await withNodes { _, _, b, port in
            let body = Self.statuses(phone: "555", [("1@b", "delivered", "wamid.B1")])
            let signature = WebhookSignature.header(secret: Array(Self.secret.utf8), body: Array(body.utf8))
            let forged = try await RawHTTPClient.post(
                port: port, path: "/webhooks/whatsapp", body: Array(body.utf8), contentType: "application/json", bearer: "guess",
                headers: ["X-Hub-Signature-256": signature, "Sluice-Forwarded-From": "a", "Sluice-Numbers": "555"])
            #expect(forged.status == 401)
            #expect(try b.message(MessageID(1))?.state == .cancelled)

            let passed = try await RawHTTPClient.post(
                port: port, path: "/webhooks/whatsapp", body: Array(body.utf8), contentType: "application/json", bearer: Self.token,
                headers: ["X-Hub-Signature-256": signature, "Sluice-Forwarded-From": "a", "Sluice-Numbers": "555"])
            #expect(passed.status == 200)
            #expect(try b.message(MessageID(1))?.state == .delivered)
        }
    }

    @Test func outsideAClusterAStatusNamingANodeIsMatchedByItsWamidOnly() async throws {
        try await withClosedEndpointAPI(prefix: "sluice-webhook-tagged", key: Self.key) { client, dispatcher in
            try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: Self.secret)
            try await cancelledMessage(dispatcher, phone: "555")
            let (status, answer) = try await post(client, Self.statuses(phone: "555", [("1@b", "delivered", "wamid.UNKNOWN")]))
            #expect(status == 200 && number(answer, "ignored") == 1 && number(answer, "applied") == 0, "\(answer)")
            #expect(try dispatcher.message(MessageID(1))?.state == .cancelled)
        }
    }

    @Test func campaignListsAndMetricsSayTheyAreTheNodesOwn() async throws {
        try await withNodes { client, _, _, _ in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.key)"]
            try await client.execute(uri: "/v1/campaigns", method: .get, headers: auth) { response in
                let body = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
                #expect(response.status == .ok && body?["node"] as? String == "a", "\(String(describing: body))")
                #expect((body?["campaigns"] as? [[String: Any]])?.count == 1)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
                #expect(String(buffer: response.body).contains(#"sluice_cluster_node_info{node="a"} 1"#))
            }
        }
        // Outside a cluster: neither.
        try await withClosedEndpointAPI(prefix: "sluice-not-clustered", key: Self.key) { client, _ in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.key)"]
            try await client.execute(uri: "/v1/campaigns", method: .get, headers: auth) { response in
                let body = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
                #expect(response.status == .ok && body?["node"] == nil)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
                #expect(!String(buffer: response.body).contains("sluice_cluster_node_info"))
            }
        }
    }

    @Test func callbackDataNamesTheMessageAndTheNode() {
        #expect(WebhookPayload.callback("42") == (MessageID(42), nil))
        #expect(WebhookPayload.callback("42@node-b.1") == (MessageID(42), "node-b.1"))
        #expect(WebhookPayload.callback("42@node-b.1:1734") == (MessageID(42), "node-b.1"), "with the ownership's fencing token")
        #expect(WebhookPayload.callback("42@b:x") == (nil, nil))
        #expect(WebhookPayload.callback("42@b:") == (nil, nil))
        #expect(WebhookPayload.callback("42@") == (nil, nil))
        #expect(WebhookPayload.callback("42@a/b") == (nil, nil))
        #expect(WebhookPayload.callback("0@a") == (nil, nil))
        #expect(WebhookPayload.callback("campaign-7") == (nil, nil))
        #expect(WebhookPayload.callback(nil) == (nil, nil))
    }
}
