import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceServer
import Testing

/// Status webhooks through the router over a real dispatcher and journal. The endpoint is
/// a closed port, so the message ends `in_flight`/`retry_at` — exactly the case a status
/// must settle.
@Suite struct WebhookRoutesTests {
    static let key = "test-admin-key-0123456789"
    static let secret = "app-secret-for-tests"

    func withAPI(_ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void) async throws {
        try await withClosedEndpointAPI(prefix: "sluice-webhook", key: Self.key, webhookVerifyToken: "verify-me", body)
    }

    static func statusBody(phone: String, message: MessageID, status: String, wamid: String = "wamid.TEST") -> String {
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001","phone_number_id":"\#(phone)"},"statuses":[{"id":"\#(wamid)","status":"\#(status)","timestamp":"1700000000","recipient_id":"966500000001","biz_opaque_callback_data":"\#(message)"}]}}]}]}"#
    }

    func post(_ client: any TestClientProtocol, _ body: String, secret: String?) async throws -> (Int, [String: Any]) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let secret { headers[.init("X-Hub-Signature-256")!] = WebhookSignature.header(secret: Array(secret.utf8), body: Array(body.utf8)) }
        return try await client.execute(uri: "/webhooks/whatsapp", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    /// Registers a sender with an app secret, submits one message and waits until the
    /// dispatcher has tried it (so it is past `queued`).
    func sentMessage(_ client: any TestClientProtocol, _ dispatcher: Dispatcher) async throws -> MessageID {
        try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: Self.secret)
        let receipt = try await dispatcher.submitCampaign(
            senderPhoneNumberID: "555", messageObject: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8),
            recipients: [RecipientInput(to: "966500000001")])
        #expect(receipt.accepted == 1)
        let id = MessageID(1)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try dispatcher.message(id)?.state == .queued { try await Task.sleep(for: .milliseconds(20)) }
        return id
    }

    @Test func handshakeAnswersTheChallengeOnlyForTheVerifyToken() async throws {
        try await withAPI { client, _ in
            try await client.execute(uri: "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "1158201444")
            }
            try await client.execute(uri: "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", method: .get) { response in
                #expect(response.status == .forbidden)
            }
        }
    }

    @Test func aSignedStatusSettlesTheMessageAndOnlyMovesForward() async throws {
        try await withAPI { client, dispatcher in
            let id = try await sentMessage(client, dispatcher)
            let before = try #require(try dispatcher.message(id)).state
            #expect(before == .inFlight || before == .retryAt, "the endpoint is closed: \(before)")

            let delivered = Self.statusBody(phone: "555", message: id, status: "delivered", wamid: "wamid.ABC")
            let (status, answer) = try await post(client, delivered, secret: Self.secret)
            #expect(status == 200)
            #expect((answer["applied"] as? NSNumber)?.intValue == 1)
            let record = try #require(try dispatcher.message(id))
            #expect(record.state == .delivered)
            #expect(record.wamid == "wamid.ABC")

            // A duplicate and a late `sent` change nothing.
            let (s2, a2) = try await post(client, delivered, secret: Self.secret)
            #expect(s2 == 200 && (a2["ignored"] as? NSNumber)?.intValue == 1)
            let (s3, a3) = try await post(client, Self.statusBody(phone: "555", message: id, status: "sent"), secret: Self.secret)
            #expect(s3 == 200 && (a3["ignored"] as? NSNumber)?.intValue == 1)
            #expect(try dispatcher.message(id)?.state == .delivered)

            let (s4, _) = try await post(client, Self.statusBody(phone: "555", message: id, status: "read"), secret: Self.secret)
            #expect(s4 == 200)
            #expect(try dispatcher.message(id)?.state == .read)
            let progress = try #require(try dispatcher.campaignProgress(CampaignID(1)))
            #expect(progress.read == 1 && progress.sent == 1 && progress.state == "done")
        }
    }

    /// Meta leaves `biz_opaque_callback_data` out of some statuses (and a message sent
    /// before Sluice set it has none): such a status settles through the wamid index.
    @Test func aStatusWithoutCallbackDataSettlesThroughItsWamid() async throws {
        try await withAPI { client, dispatcher in
            let id = try await sentMessage(client, dispatcher)
            let (s1, _) = try await post(client, Self.statusBody(phone: "555", message: id, status: "delivered", wamid: "wamid.IDX"), secret: Self.secret)
            #expect(s1 == 200)
            #expect(try dispatcher.message(id)?.state == .delivered)

            func bare(_ status: String, wamid: String) -> String {
                Self.statusBody(phone: "555", message: id, status: status, wamid: wamid).replacingOccurrences(of: #","biz_opaque_callback_data":"\#(id)""#, with: "")
            }
            #expect(!bare("read", wamid: "wamid.IDX").contains("biz_opaque_callback_data"))
            let (s2, a2) = try await post(client, bare("read", wamid: "wamid.IDX"), secret: Self.secret)
            #expect(s2 == 200 && (a2["applied"] as? NSNumber)?.intValue == 1, "\(a2)")
            #expect(try dispatcher.message(id)?.state == .read)

            // A wamid Sluice never recorded is ignored, and changes nothing.
            let (s3, a3) = try await post(client, bare("failed", wamid: "wamid.UNKNOWN"), secret: Self.secret)
            #expect(s3 == 200 && (a3["applied"] as? NSNumber)?.intValue == 0 && (a3["ignored"] as? NSNumber)?.intValue == 1, "\(a3)")
            #expect(try dispatcher.message(id)?.state == .read)
        }
    }

    static func incomingBody(phone: String, wamid: String, from: String = "966500000009", text: String = "Hello") -> String {
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001","phone_number_id":"\#(phone)"},"contacts":[{"profile":{"name":"Amal"},"wa_id":"\#(from)","user_id":"US.1"}],"messages":[{"from":"\#(from)","id":"\#(wamid)","timestamp":"1749979800","type":"text","text":{"body":"\#(text)"}}]}}]}]}"#
    }

    /// An incoming message is verified, journaled once per wamid before the answer, and
    /// waits in the outbox of the subscriptions that ask for messages (and only theirs).
    @Test func anIncomingMessageIsJournaledOnceForTheSubscriptionsThatAsk() async throws {
        try await withAPI { client, dispatcher in
            try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: Self.secret)
            let headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(Self.key)"]
            let created = try await client.execute(
                uri: "/v1/subscriptions", method: .post, headers: headers,
                body: ByteBuffer(string: #"{"url":"http://127.0.0.1:9/in","events":["message"]}"#)
            ) { response in
                (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
            }
            #expect(created.0 == 201 && created.1["events"] as? [String] == ["message"], "\(created)")
            let messages = try #require(SubscriptionRecord.id(publicID: created.1["id"] as? String ?? ""))
            let statuses = try await dispatcher.createSubscription(url: "http://127.0.0.1:9/st", secret: "s3cret-s3cret-s3cret", campaign: nil, states: nil)

            let body = Self.incomingBody(phone: "555", wamid: "wamid.IN1")
            let (refused, _) = try await post(client, body, secret: "not-the-app-secret")
            #expect(refused == 401)
            let (status, answer) = try await post(client, body, secret: Self.secret)
            #expect(status == 200 && (answer["messages"] as? NSNumber)?.intValue == 1, "the refused post recorded nothing: \(answer)")
            let (again, redelivered) = try await post(client, body, secret: Self.secret)
            #expect(again == 200 && (redelivered["duplicate_messages"] as? NSNumber)?.intValue == 1 && (redelivered["messages"] as? NSNumber)?.intValue == 0)

            let entries = try dispatcher.outboxHeads(subscription: messages, dueMilliseconds: .max, limit: 10).entries
            #expect(entries.count == 1)
            let inbound = try #require(entries.first?.event.inbound?.message)
            #expect(inbound.wamid == "wamid.IN1" && inbound.from == "966500000009" && inbound.fromUserID == "US.1" && inbound.contactName == "Amal")
            #expect(inbound.senderPhoneNumberID == "555" && inbound.type == "text" && inbound.timestamp == "1749979800")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(inbound.object)) as? [String: Any])
            #expect((object["text"] as? [String: Any])?["body"] as? String == "Hello")
            #expect(try dispatcher.outboxHeads(subscription: statuses.id, dueMilliseconds: .max, limit: 10).entries.isEmpty)

            // What the subscriber receives.
            let event = try #require(try JSONSerialization.jsonObject(with: Data(SubscriberEvent.body(entries[0].event))) as? [String: Any])
            #expect(event["type"] as? String == "message" && event["sender"] as? String == "555" && event["from"] as? String == "966500000009")
            #expect(event["wamid"] as? String == "wamid.IN1" && event["from_user_id"] as? String == "US.1" && event["media"] is NSNull)
            #expect(((event["message"] as? [String: Any])?["text"] as? [String: Any])?["body"] as? String == "Hello")

            // A message without its wamid is refused as a whole.
            let (bad, error) = try await post(client, body.replacingOccurrences(of: #""id":"wamid.IN1","#, with: ""), secret: Self.secret)
            #expect(bad == 400 && (error["error"] as? [String: Any])?["field"] as? String == "entry[0].changes[0].value.messages[0].id", "\(error)")

            let (kind, kindError) = try await client.execute(
                uri: "/v1/subscriptions", method: .post, headers: headers, body: ByteBuffer(string: #"{"url":"http://127.0.0.1:9/x","events":["status","messages"]}"#)
            ) { response in
                (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
            }
            #expect(kind == 400 && (kindError["error"] as? [String: Any])?["field"] as? String == "events[1]", "\(kindError)")
        }
    }

    @Test func aBadSignatureOrUnknownNumberChangesNothing() async throws {
        try await withAPI { client, dispatcher in
            let id = try await sentMessage(client, dispatcher)
            let before = try #require(try dispatcher.message(id)).state
            let body = Self.statusBody(phone: "555", message: id, status: "delivered")
            #expect(try await post(client, body, secret: "not-the-secret").0 == 401)
            #expect(try await post(client, body, secret: nil).0 == 401)
            #expect(try await post(client, Self.statusBody(phone: "999", message: id, status: "delivered"), secret: Self.secret).0 == 401)
            #expect(try await post(client, "{not json", secret: Self.secret).0 == 400)
            let after = try #require(try dispatcher.message(id)).state
            #expect(after != .delivered)
            #expect(before == after || after == .retryAt || after == .inFlight)
        }
    }
}
