import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceEngine
import SluiceServer
import Testing
import SluiceTestSupport

/// `POST /v1/campaigns/{id}/pause|resume|cancel` and the campaign options, through the
/// router over a real dispatcher and journal. The endpoint is a closed loopback port.
@Suite struct CampaignLifecycleRoutesTests {
    let api = APIRoutesTests()
    static let sender = #"{"tier_mps":80,"access_token":"t"}"#
    static let message = #""message":{"type":"text","text":{"body":"hi"}}"#

    func post(_ client: any TestClientProtocol, extra: String = "", recipients: Int = 2) async throws -> (status: Int, body: [String: Any]) {
        let list = (0..<recipients).map { #"{"to":"9665000011\#(String(format: "%02d", $0))"}"# }.joined(separator: ",")
        return try await api.call(client, .post, "/v1/campaigns", json: #"{"sender":"1065000701",\#(Self.message),"recipients":[\#(list)]\#(extra)}"#)
    }

    func code(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["code"] as? String }

    @Test("a finished campaign (nothing left to send) refuses pause, resume and cancel with 409, its counts unchanged")
    func finishedCampaignsAreNotChanged() async throws {
        try await api.withAPI { client, _ in
            #expect(try await api.call(client, .put, "/v1/senders/1065000701", json: Self.sender).status == 200)
            // Whole seconds: 4 s ahead is at least 3 s ahead when the request is read, even on
            // a busy machine (2 s once came too late there: the request was read after it).
            let soon = ISO8601DateFormatter().string(from: Date().addingTimeInterval(4))
            let id = try #require(try await post(client, extra: #","expires_at":"\#(soon)""#).body["id"] as? String)
            var body: [String: Any] = [:]
            try await eventually("both messages expired", within: 10) {
                body = try await api.call(client, .get, "/v1/campaigns/\(id)").body
                return body["state"] as? String == "done"
            }
            #expect((body["counts"] as? [String: Any])?["expired"] as? Int == 2, "\(body)")
            for action in ["pause", "resume", "cancel"] {
                let refused = try await api.call(client, .post, "/v1/campaigns/\(id)/\(action)")
                #expect(refused.status == 409 && code(refused.body) == "campaign_state", "\(action): \(refused)")
                #expect(api.errorMessage(refused.body).contains("is done and cannot \(action)"), "\(refused)")
            }
            let still = try await api.call(client, .get, "/v1/campaigns/\(id)").body
            #expect(still["state"] as? String == "done" && (still["counts"] as? [String: Any])?["expired"] as? Int == 2)
        }
    }

    @Test("pause, resume and cancel answer the campaign; moves its state does not allow are 409; unknown ids 404")
    func lifecycle() async throws {
        try await api.withAPI { client, _ in
            #expect(try await api.call(client, .put, "/v1/senders/1065000701", json: Self.sender).status == 200)
            let id = try #require(try await post(client).body["id"] as? String)

            let paused = try await api.call(client, .post, "/v1/campaigns/\(id)/pause")
            #expect(paused.status == 200)
            #expect(paused.body["state"] as? String == "paused")
            #expect(paused.body["waiting_for"] as? String == "paused")
            #expect(try await api.call(client, .post, "/v1/campaigns/\(id)/pause").status == 200, "pausing twice is not an error")
            let list = try await api.call(client, .get, "/v1/campaigns?state=paused")
            #expect((list.body["campaigns"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])

            let resumed = try await api.call(client, .post, "/v1/campaigns/\(id)/resume")
            #expect(resumed.status == 200)
            #expect(resumed.body["state"] as? String == "active")

            let cancelled = try await api.call(client, .post, "/v1/campaigns/\(id)/cancel")
            #expect(cancelled.status == 200)
            #expect(cancelled.body["state"] as? String == "cancelled")
            // The answer's counts are those after the cancel: nothing is left unsent.
            let after = cancelled.body["counts"] as? [String: Any] ?? [:]
            #expect(cancelled.body["unsent"] as? Int == 0 && (after["cancelled"] as? Int ?? 0) + (after["failed"] as? Int ?? 0) == 2, "\(cancelled.body)")
            for action in ["resume", "pause", "cancel"] {
                let refused = try await api.call(client, .post, "/v1/campaigns/\(id)/\(action)")
                #expect(refused.status == 409)
                #expect(code(refused.body) == "campaign_state")
                #expect(api.errorMessage(refused.body).contains("cancelled"))
            }
            let counts = try await api.call(client, .get, "/v1/campaigns/\(id)").body["counts"] as? [String: Any] ?? [:]
            #expect((counts["cancelled"] as? Int ?? 0) >= 1)

            for bad in ["999999", "abc", "0"] {
                let missing = try await api.call(client, .post, "/v1/campaigns/\(bad)/pause")
                #expect(missing.status == 404)
                #expect(code(missing.body) == "not_found")
            }
            #expect(try await api.call(client, .get, "/v1/campaigns/\(id)/pause").status == 405)
        }
    }

    @Test("pausing needs the submit scope")
    func scope() async throws {
        try await api.withAPI { client, _ in
            #expect(try await api.call(client, .put, "/v1/senders/1065000701", json: Self.sender).status == 200)
            let id = try #require(try await post(client).body["id"] as? String)
            let created = try await api.call(client, .post, "/v1/keys", json: #"{"name":"dashboard","scopes":["read"]}"#)
            let reader = try #require(created.body["key"] as? String)
            let denied = try await api.call(client, .post, "/v1/campaigns/\(id)/cancel", key: reader)
            #expect(denied.status == 403)
            #expect(try await api.call(client, .get, "/v1/campaigns/\(id)", key: reader).body["state"] as? String == "active")
            #expect(try await api.call(client, .post, "/v1/campaigns/\(id)/cancel", key: nil).status == 401)
        }
    }

    @Test("schedule_at, expires_at, priority and delivery are kept and shown; bad values are 400 naming the field, nothing journaled")
    func options() async throws {
        try await api.withAPI { client, dispatcher in
            #expect(try await api.call(client, .put, "/v1/senders/1065000701", json: Self.sender).status == 200)
            let start = Date().addingTimeInterval(3_600)
            let formatter = ISO8601DateFormatter()
            let posted = try await post(client, extra: #","schedule_at":"\#(formatter.string(from: start))","expires_at":\#(Int(start.timeIntervalSince1970) + 600),"priority":"transactional","delivery":"at_most_once""#)
            #expect(posted.status == 202)
            let id = try #require(posted.body["id"] as? String)
            let shown = try await api.call(client, .get, "/v1/campaigns/\(id)").body
            #expect(shown["state"] as? String == "scheduled")
            #expect(shown["priority"] as? String == "transactional")
            #expect(shown["delivery"] as? String == "at_most_once")
            let scheduleAt = try #require(shown["schedule_at"] as? String)
            #expect(formatter.date(from: String(scheduleAt.prefix(19)) + "Z").map { abs($0.timeIntervalSince(start)) < 1 } == true)
            #expect(shown["expires_at"] as? String != nil)
            #expect(shown["waiting_for"] as? String == "scheduled")

            let campaignsBefore = try dispatcher.campaignPage(after: nil, limit: 100, state: nil).campaigns.count
            let bad: [(String, String)] = [
                (#","schedule_at":"tomorrow""#, "schedule_at"),
                (#","schedule_at":true"#, "schedule_at"),
                (#","expires_at":1000"#, "expires_at"),
                (#","schedule_at":"\#(formatter.string(from: start))","expires_at":"\#(formatter.string(from: start.addingTimeInterval(-60)))""#, "expires_at"),
                (#","schedule_at":"2099-01-01T00:00:00Z""#, "schedule_at"),
                (#","priority":"urgent""#, "priority"),
                (#","delivery":"exactly_once""#, "delivery"),
            ]
            for (extra, field) in bad {
                let answer = try await post(client, extra: extra)
                #expect(answer.status == 400, "\(extra)")
                #expect(api.errorField(answer.body) == field, "\(extra): \(answer.body)")
            }
            #expect(try dispatcher.campaignPage(after: nil, limit: 100, state: nil).campaigns.count == campaignsBefore)
        }
    }

    @Test("NDJSON headers and CSV queries carry the options too")
    func streamedOptions() async throws {
        try await api.withAPI { client, _ in
            #expect(try await api.call(client, .put, "/v1/senders/1065000701", json: Self.sender).status == 200)
            func send(_ uri: String, _ type: String, _ body: String) async throws -> (Int, [String: Any]) {
                let headers: HTTPFields = [.authorization: "Bearer \(APIRoutesTests.key)", .contentType: type]
                return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
                    (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
                }
            }
            let ndjson = try await send("/v1/campaigns", "application/x-ndjson", #"{"sender":"1065000701",\#(Self.message),"priority":"transactional"}"# + "\n" + #"{"to":"966500001200"}"# + "\n")
            #expect(ndjson.0 == 202)
            let ndjsonID = try #require(ndjson.1["id"] as? String)
            #expect(try await api.call(client, .get, "/v1/campaigns/\(ndjsonID)").body["priority"] as? String == "transactional")
            let badHeader = try await send("/v1/campaigns", "application/x-ndjson", #"{"sender":"1065000701",\#(Self.message),"priority":7}"# + "\n" + #"{"to":"966500001200"}"# + "\n")
            #expect(badHeader.0 == 400)
            #expect(api.errorField(badHeader.1) == "header.priority")

            let csv = try await send("/v1/campaigns?sender=1065000701&template=hello&language=en&delivery=at_most_once&expires_at=\(Int(Date().timeIntervalSince1970) + 600)", "text/csv", "to\n966500001201\n")
            #expect(csv.0 == 202)
            let csvID = try #require(csv.1["id"] as? String)
            let shown = try await api.call(client, .get, "/v1/campaigns/\(csvID)").body
            #expect(shown["delivery"] as? String == "at_most_once")
            #expect(shown["expires_at"] as? String != nil)
            let badQuery = try await send("/v1/campaigns?sender=1065000701&template=hello&language=en&schedule_at=soon", "text/csv", "to\n966500001201\n")
            #expect(badQuery.0 == 400)
            #expect(api.errorField(badQuery.1) == "schedule_at")
        }
    }
}
