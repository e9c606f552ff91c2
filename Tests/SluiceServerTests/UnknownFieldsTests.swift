import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import SluiceServer

/// A member the `/v1` API does not know is a 400 naming it — with the close known name,
/// when there is one — and nothing is journaled; the same body without it is accepted.
@Suite struct UnknownFieldsTests {
    let api = APIRoutesTests()
    static let message = #"{"type": "text", "text": {"body": "hi {{1}}"}}"#

    func refused(_ answer: (status: Int, body: [String: Any]), field: String, saying text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.status == 400, "\(answer)", sourceLocation: sourceLocation)
        #expect(api.errorField(answer.body) == field, "\(answer)", sourceLocation: sourceLocation)
        #expect(api.errorMessage(answer.body).contains(text), "\(answer)", sourceLocation: sourceLocation)
    }

    @Test func aMisspeltCampaignMemberIsRefusedWithTheNameItWasMeantToBe() async throws {
        try await api.withAPI { client, dispatcher in
            _ = try await api.call(client, .put, "/v1/senders/1065000901", json: #"{"tier_mps": 80, "access_token": "t"}"#)
            let body = #"{"sender": "1065000901", "message": \#(Self.message), "prority": "transactional", "recipients": [{"to": "966500000001", "params": ["a"]}]}"#
            refused(try await api.call(client, .post, "/v1/campaigns", json: body), field: "prority", saying: "prority is not a field here (did you mean priority?)")
            let late = #"{"sender": "1065000901", "message": \#(Self.message), "recipients": [{"to": "966500000001", "params": ["a"]}], "expire_at": "2030-01-01T00:00:00Z"}"#
            refused(try await api.call(client, .post, "/v1/campaigns", json: late), field: "expire_at", saying: "did you mean expires_at?")
            let recipient = #"{"sender": "1065000901", "message": \#(Self.message), "recipients": [{"to": "966500000001", "param": ["a"]}]}"#
            refused(try await api.call(client, .post, "/v1/campaigns", json: recipient), field: "recipients[0].param", saying: "did you mean params?")
            #expect(try dispatcher.campaignPage(after: nil, limit: 10, state: nil).campaigns.isEmpty, "nothing journaled")
            let right = #"{"sender": "1065000901", "message": \#(Self.message), "priority": "transactional", "recipients": [{"to": "966500000001", "params": ["a"]}]}"#
            #expect(try await api.call(client, .post, "/v1/campaigns", json: right).status == 202)
        }
    }

    @Test func everyOtherV1BodyRefusesAMemberItDoesNotKnow() async throws {
        try await api.withAPI { client, _ in
            refused(
                try await api.call(client, .put, "/v1/senders/1065000902", json: #"{"tier_mps": 80, "access_token": "t", "tier": 250}"#),
                field: "tier", saying: "tier is not a field here")
            #expect(try await api.call(client, .get, "/v1/senders/1065000902").status == 404, "the sender was not registered")
            _ = try await api.call(client, .put, "/v1/senders/1065000902", json: #"{"tier_mps": 80, "access_token": "t"}"#)
            refused(
                try await api.call(client, .post, "/v1/senders/1065000902/pause", json: #"{"reasn": "maintenance"}"#),
                field: "reasn", saying: "did you mean reason?")
            refused(
                try await api.call(client, .post, "/v1/keys", json: #"{"name": "billing", "scope": ["read"]}"#),
                field: "scope", saying: "did you mean scopes?")
            refused(
                try await api.call(client, .post, "/v1/subscriptions", json: #"{"url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef", "event": ["message"]}"#),
                field: "event", saying: "did you mean events?")
        }
    }

    /// `PATCH /v1/senders/{id}` changes one field without the token: the rest stays, and a
    /// pause stays unless the token is what changes.
    @Test func aPatchChangesOnlyWhatItNamesAndKeepsAPause() async throws {
        try await api.withAPI { client, _ in
            let path = "/v1/senders/1065000903"
            #expect(try await api.call(client, .patch, path, json: #"{"tier_mps": 250}"#).status == 404, "PATCH does not register")
            _ = try await api.call(client, .put, path, json: #"{"tier_mps": 80, "burst": 3, "access_token": "t", "messaging_limit": 2000, "group": "acme"}"#)
            _ = try await api.call(client, .post, path + "/pause", json: #"{"reason": "template review"}"#)
            let patched = try await api.call(client, .patch, path, json: #"{"tier_mps": 250}"#)
            #expect(patched.status == 200, "\(patched)")
            #expect(patched.body["tier_mps"] as? Double == 250 && patched.body["burst"] as? Int == 3)
            #expect(patched.body["messaging_limit"] as? Int == 2000 && patched.body["group"] as? String == "acme")
            #expect(patched.body["paused"] as? Bool == true, "a tier change keeps the pause: \(patched.body)")
            refused(try await api.call(client, .patch, path, json: #"{"tier_mps": 5000}"#), field: "tier_mps", saying: "tier_mps")
            refused(try await api.call(client, .patch, path, json: #"{"tir_mps": 300}"#), field: "tir_mps", saying: "did you mean tier_mps?")
            refused(try await api.call(client, .patch, path, json: "{}"), field: "body", saying: "names no field")
            let token = try await api.call(client, .patch, path, json: #"{"access_token": "new"}"#)
            #expect(token.body["paused"] as? Bool == false && token.body["tier_mps"] as? Double == 250, "a new token lifts it: \(token.body)")
        }
    }

    @Test func theSuggestionIsTheClosestKnownNameOrNone() {
        let known: Set<String> = ["priority", "schedule_at", "expires_at", "delivery"]
        #expect(KnownFields.suggestion(for: "prority", among: known) == "priority")
        #expect(KnownFields.suggestion(for: "priorty", among: known) == "priority")
        #expect(KnownFields.suggestion(for: "Delivery", among: known) == "delivery")
        #expect(KnownFields.suggestion(for: "colour", among: known) == nil)
        #expect(KnownFields.suggestion(for: "at", among: known) == nil, "two letters are not a guess")
        #expect(KnownFields.distance(Array("ab".utf8), Array("ba".utf8)) == 1, "a swap counts one")
    }
}
