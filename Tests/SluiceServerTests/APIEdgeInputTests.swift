import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Inputs schemathesis found answered with a 5xx, a crash or a 2xx (scripts/openapi-check).
@Suite struct APIEdgeInputTests {
    let api = APIRoutesTests()

    @Test func aBurstPastIntsRangeIs400NotACrash() async throws {
        try await api.withAPI { client, _ in
            let answer = try await api.call(client, .put, "/v1/senders/1065000801", json: #"{"tier_mps": 80, "burst": 1e300, "access_token": "t"}"#)
            #expect(answer.status == 400 && api.errorField(answer.body) == "burst", "\(answer)")
        }
    }

    @Test func aSenderIdThatIsNotOneTo64DigitsIsRefusedWithoutAJournalLookup() async throws {
        try await api.withAPI { client, _ in
            let empty = try await api.call(client, .post, "/v1/campaigns", json: #"{"sender": "", "message": {"type": "text", "text": {"body": "hi"}}, "recipients": [{"to": "966500000001"}]}"#)
            #expect(empty.status == 400 && api.errorField(empty.body) == "sender", "\(empty)")
            let long = String(repeating: "1", count: 600)
            #expect(try await api.call(client, .get, "/v1/senders/\(long)").status == 404)
            #expect(try await api.call(client, .post, "/v1/senders/\(long)/resume").status == 404)
            let webhook = try await api.call(client, .post, "/webhooks/whatsapp", json: #"{"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": ""}, "statuses": []}}]}]}"#, key: nil)
            #expect(webhook.status == 401, "\(webhook)")
        }
    }

    @Test func webhookStatusesThatAreNotAnArrayAre400() async throws {
        try await api.withAPI { client, _ in
            let answer = try await api.call(client, .post, "/webhooks/whatsapp", json: #"{"entry": [{"changes": [{"value": {"statuses": "x"}}]}]}"#, key: nil)
            #expect(answer.status == 400 && api.errorField(answer.body) == "entry[0].changes[0].value.statuses", "\(answer)")
        }
    }

    @Test func anUnroutedMethodOnARoutedPathIs405WithAllow() async throws {
        try await api.withAPI { client, _ in
            try await client.execute(uri: "/v1/senders/1065000801", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "DELETE, GET, PATCH, PUT")
            }
            // A literal route is its own resource, not the `{id}` beside it.
            try await client.execute(uri: "/v1/keys/current", method: .options) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET")
            }
            try await client.execute(uri: "/no/such/path", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
