import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceServer
import Testing

/// `DELETE /v1/senders/{id}` and the messaging-limit members of `PUT`/`GET`, through the
/// router over a real dispatcher. The endpoint is a closed port: sends fail and retry, so a
/// campaign keeps its sender busy.
@Suite struct SenderLimitRoutesTests {
    static let key = "senders-limit-admin-key-0123456789"
    static let secret = "app-secret-for-limit-tests"

    func withAPI(_ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void) async throws {
        try await withClosedEndpointAPI(prefix: "sluice-sender-limit", key: Self.key, body)
    }

    func call(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, key: String? = SenderLimitRoutesTests.key,
        headers extra: HTTPFields = [:]
    ) async throws -> (status: Int, body: [String: Any]) {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    func error(_ answer: (status: Int, body: [String: Any])) -> (code: String?, field: String?) {
        let e = answer.body["error"] as? [String: Any]
        return (e?["code"] as? String, e?["field"] as? String)
    }

    @Test func messagingLimitAndGroupAreValidatedStoredAndShown() async throws {
        try await withAPI { client, _ in
            let put = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 80, "access_token": "t", "messaging_limit": 250, "group": "acme.eu_1"}"#)
            #expect(put.status == 200)
            #expect(put.body["messaging_limit"] as? Int == 250)
            #expect(put.body["group"] as? String == "acme.eu_1")

            // Absent members keep what is stored.
            let kept = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 40, "access_token": "t"}"#)
            #expect(kept.body["messaging_limit"] as? Int == 250 && kept.body["group"] as? String == "acme.eu_1")
            for limit in ["2000", "10000", "100000"] {
                let changed = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 40, "access_token": "t", "messaging_limit": \#(limit)}"#)
                #expect(changed.status == 200 && changed.body["messaging_limit"] as? Int == Int(limit))
            }
            // "unlimited" and null clear the limit; null clears the group.
            let unlimited = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 40, "access_token": "t", "messaging_limit": "unlimited", "group": null}"#)
            #expect(unlimited.status == 200)
            #expect(unlimited.body["messaging_limit"] is NSNull)
            #expect(unlimited.body["group"] == nil)
            _ = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 40, "access_token": "t", "messaging_limit": 2000}"#)
            let cleared = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 40, "access_token": "t", "messaging_limit": null}"#)
            #expect(cleared.body["messaging_limit"] is NSNull)

            for bad in ["251", "0", "-250", "250.5", "\"250\"", "\"none\"", "true", "[250]", "1e300"] {
                let answer = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 40, "access_token": "t", "messaging_limit": \#(bad)}"#)
                #expect(answer.status == 400, "messaging_limit \(bad)")
                #expect(error(answer).code == "invalid_field" && error(answer).field == "messaging_limit", "messaging_limit \(bad)")
            }
            for bad in ["\"\"", "\"a b\"", "\"\(String(repeating: "g", count: 65))\"", "7", "\"grüppe\"", "{}"] {
                let answer = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 40, "access_token": "t", "group": \#(bad)}"#)
                #expect(answer.status == 400 && error(answer).field == "group", "group \(bad)")
            }
            // A refused PUT changed nothing.
            let stored = try await call(client, .get, "/v1/senders/1065")
            #expect(stored.body["messaging_limit"] is NSNull && stored.body["tier_mps"] as? Double == 40)

            // The live figures, in the list and for one sender.
            _ = try await call(client, .put, "/v1/senders/1065", json: #"{"tier_mps": 40, "access_token": "t", "messaging_limit": 250}"#)
            let deadline = Date().addingTimeInterval(5)
            var one: [String: Any] = [:]
            repeat {
                one = try await call(client, .get, "/v1/senders/1065").body
                if one["unique_recipients_24h"] != nil { break }
                try await Task.sleep(for: .milliseconds(50))
            } while Date() < deadline
            #expect(one["unique_recipients_24h"] as? Int == 0)
            #expect(one["limited_until"] is NSNull)
            let listed = try #require(try await call(client, .get, "/v1/senders").body["senders"] as? [[String: Any]])
            #expect(listed.first?["messaging_limit"] as? Int == 250)
            #expect(listed.first?["unique_recipients_24h"] as? Int == 0)
        }
    }

    @Test func deleteRefusesABusySenderAndForgetsAnIdleOne() async throws {
        try await withAPI { client, dispatcher in
            #expect(try await call(client, .put, "/v1/senders/2065", json: #"{"tier_mps": 80, "access_token": "t", "app_secret": "\#(Self.secret)"}"#).status == 200)
            let posted = try await call(client, .post, "/v1/campaigns", json: #"{"sender":"2065","message":{"type":"text","text":{"body":"hi"}},"recipients":[{"to":"966500000001"}]}"#)
            #expect(posted.status == 202)

            let busy = try await call(client, .delete, "/v1/senders/2065")
            #expect(busy.status == 409)
            #expect(error(busy).code == "sender_busy" && error(busy).field == "phone_number_id")
            #expect(try await call(client, .get, "/v1/senders/2065").status == 200, "a refused delete changed nothing")

            #expect(try await call(client, .delete, "/v1/senders/999").status == 404)
            let malformed = try await call(client, .delete, "/v1/senders/12ab")
            #expect(malformed.status == 400 && error(malformed).field == "phone_number_id")
            #expect(try await call(client, .delete, "/v1/senders/2065", key: nil).status == 401)

            // Settle the message (a status proves it was sent), then the sender is idle.
            let message = MessageID(1)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, try dispatcher.message(message)?.state != .retryAt { try await Task.sleep(for: .milliseconds(20)) }
            _ = try await dispatcher.applyStatuses([StatusUpdate(message: message, status: .delivered, wamid: "wamid.X")])
            #expect(try dispatcher.message(message)?.state == .delivered)

            #expect(try await call(client, .delete, "/v1/senders/2065").status == 204)
            #expect(try await call(client, .get, "/v1/senders/2065").status == 404)
            #expect(try await call(client, .delete, "/v1/senders/2065").status == 404)
            let campaign = try await call(client, .get, "/v1/campaigns/1")
            #expect(campaign.status == 200 && campaign.body["state"] as? String == "done", "its finished campaign stays readable")

            // A webhook for the deleted number is answered like one for an unknown number.
            let status = #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001","phone_number_id":"2065"},"statuses":[{"id":"wamid.X","status":"read","timestamp":"1700000000","recipient_id":"966500000001","biz_opaque_callback_data":"1"}]}}]}]}"#
            let signature = WebhookSignature.header(secret: Array(Self.secret.utf8), body: Array(status.utf8))
            let hook = try await client.execute(
                uri: "/webhooks/whatsapp", method: .post, headers: [.contentType: "application/json", .init("X-Hub-Signature-256")!: signature],
                body: ByteBuffer(string: status)) { response in
                (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
            }
            #expect(hook.0 == 401 && error((hook.0, hook.1)).code == "unknown_sender")
            #expect(try dispatcher.message(message)?.state == .delivered, "nothing was recorded")

            // Registered again: a new sender that sends.
            let again = try await call(client, .put, "/v1/senders/2065", json: #"{"tier_mps": 80, "access_token": "t"}"#)
            #expect(again.status == 200 && again.body["has_app_secret"] as? Bool == false)
            let reposted = try await call(client, .post, "/v1/campaigns", json: #"{"sender":"2065","message":{"type":"text","text":{"body":"hi"}},"recipients":[{"to":"966500000002"}]}"#)
            #expect(reposted.status == 202)
            let next = MessageID(2)
            let tried = Date().addingTimeInterval(10)
            while Date() < tried, try dispatcher.message(next)?.state == .queued { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try dispatcher.message(next)?.state != .queued, "the dispatch loop knows the sender again")
            #expect(try dispatcher.message(next)?.sender != dispatcher.message(message)?.sender, "with a new id")
        }
    }
}
