import Foundation
import SluiceCore
import SluiceEngine
import SluiceMock
import SluiceTestSupport
import Testing

/// Every recipient's fate through the API, against `serve` and the mock (TLS, signed
/// status webhooks): the mock refuses a seeded share of sends with the permanent 131026,
/// so a campaign ends with some messages failed and the rest delivered or read.
@Suite(.serialized) struct CampaignMessagesRoutesTests {
    static let adminKey = "campaign-messages-admin-key-0123"
    static let appSecret = "campaign-messages-app-secret"
    static let phone = "1065000901"

    typealias Answer = JSONAnswer

    static func get(_ port: Int, _ path: String) async throws -> Answer {
        Answer(try await RawHTTPClient.get(port: port, path: path, bearer: adminKey))
    }

    static func post(_ port: Int, _ path: String, _ json: String, key: String? = nil) async throws -> Answer {
        Answer(try await RawHTTPClient.post(
            port: port, path: path, body: Array(json.utf8), contentType: "application/json", bearer: adminKey,
            headers: key.map { ["Idempotency-Key": $0] } ?? [:]))
    }

    /// The campaign once it is done and every sent message's delivery status has come.
    static func done(_ port: Int, _ id: String) async throws -> [String: Any] {
        var body: [String: Any] = [:]
        try await eventually("campaign \(id) done and its statuses in", within: 30) {
            body = try await get(port, "/v1/campaigns/\(id)").json
            let counts = body["counts"] as? [String: Int] ?? [:]
            return body["state"] as? String == "done" && counts["delivered", default: 0] + counts["failed", default: 0] == body["total"] as? Int
        }
        return body
    }

    /// Every message of a campaign with `query`, `limit` at a time, following the cursor.
    static func fates(_ port: Int, _ id: String, query: String = "", limit: Int) async throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await get(port, "/v1/campaigns/\(id)/messages?limit=\(limit)\(query)" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(page.status == 200, "\(page)")
            let messages = try #require(page.json["messages"] as? [[String: Any]])
            #expect(messages.count <= limit)
            out += messages
            cursor = page.json["next_cursor"] as? String
            pages += 1
        } while cursor != nil && pages < 100
        return out
    }

    @Test func failedRecipientsAreListedExportedAndRetried() async throws {
        try await ServeMockStack.run(
            prefix: "sluice-fates", appSecret: Self.appSecret, adminKey: Self.adminKey,
            mock: {
                $0.faults.seed = 7
                $0.faults.errorMix = [.init(code: 131026, share: 0.3)]
            }
        ) { stack in
            try stack.mock.register(phoneNumberID: Self.phone, sender: MockSender(accessToken: "token"))
            try await stack.dispatcher.putSender(phoneNumberID: Self.phone, tierMessagesPerSecond: 200, accessToken: "token", appSecret: Self.appSecret)
            let port = stack.servePort
            // 60 recipients and one of them again: sent once, the repeat rejected by its index.
            let people = (0..<60).map { #"{"to":"\#(966_540_000_000 + $0)","params":["n\#($0)"],"external_id":"crm-\#($0)"}"# }
            let body = #"{"sender":"\#(Self.phone)","name":"Spring sale","labels":["promo","eu"],"message":{"type":"text","text":{"body":"Hi {{1}}"}},"recipients":[\#((people + [people[3]]).joined(separator: ","))]}"#
            let accepted = try await Self.post(port, "/v1/campaigns", body)
            #expect(accepted.status == 202 && accepted.json["accepted"] as? Int == 60 && accepted.json["rejected_count"] as? Int == 1, "\(accepted)")
            let rejected = try #require((accepted.json["rejected"] as? [[String: Any]])?.first)
            #expect(rejected["index"] as? Int == 60 && (rejected["reason"] as? String)?.contains("already a recipient") == true, "\(rejected)")
            let id = try #require(accepted.json["id"] as? String)

            let campaign = try await Self.done(port, id)
            let counts = try #require(campaign["counts"] as? [String: Int])
            let failed = try #require(counts["failed"])
            #expect(failed > 0 && failed < 60, "the seeded share fails some, not all: \(counts)")
            #expect(campaign["failures"] as? [[String: Int]] == [["code": 131026, "count": failed]], "\(campaign)")
            #expect(campaign["name"] as? String == "Spring sale" && campaign["labels"] as? [String] == ["promo", "eu"])

            // The failed ones, 7 a page: each with its code, external id and times.
            let failures = try await Self.fates(port, id, query: "&state=failed", limit: 7)
            #expect(failures.count == failed)
            for m in failures {
                #expect((m["error"] as? [String: Any])?["code"] as? Int == 131026, "\(m)")
                #expect((m["external_id"] as? String)?.hasPrefix("crm-") == true)
                #expect(m["accepted_at"] is String && m["ended_at"] is String && m["sent_at"] is NSNull, "\(m)")
            }
            let all = try await Self.fates(port, id, limit: 25)
            #expect(Set(all.compactMap { $0["to"] as? String }) == Set((0..<60).map { String(966_540_000_000 + $0) }))
            #expect(all.count == 60)
            let delivered = all.filter { $0["state"] as? String == "delivered" || $0["state"] as? String == "read" }
            #expect(delivered.count == 60 - failed)
            #expect(delivered.allSatisfy { $0["sent_at"] is String && $0["delivered_at"] is String && $0["wamid"] is String })
            #expect(try await Self.fates(port, id, query: "&code=131026", limit: 100).count == failed)
            #expect(try await Self.fates(port, id, query: "&state=expired,cancelled", limit: 100).isEmpty)

            // The export: a header and one row per message, streamed.
            let csv = try await RawHTTPClient.getStreamed(port: port, path: "/v1/campaigns/\(id)/messages.csv", bearer: Self.adminKey)
            #expect(csv.status == 200 && csv.head.lowercased().contains("content-type: text/csv"), "\(csv.head)")
            let rows = String(decoding: csv.body, as: UTF8.self).split(separator: "\r\n")
            #expect(rows.first == "id,to,external_id,state,attempts,error_code,error_message,wamid,accepted_at,sent_at,delivered_at,read_at,ended_at")
            #expect(rows.count == 61)
            #expect(rows.filter { $0.contains(",failed,") && $0.contains(",131026,") }.count == failed)

            // The list's filters.
            func listed(_ query: String) async throws -> [String] {
                try #require(try await Self.get(port, "/v1/campaigns?\(query)").json["campaigns"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            }
            #expect(try await listed("label=promo") == [id])
            #expect(try await listed("label=other").isEmpty)
            #expect(try await listed("name=SPRING") == [id])

            // Retry the failed: exactly those recipients, once per key.
            let retried = try await Self.post(port, "/v1/campaigns/\(id)/retry", #"{"states":["failed"],"codes":[131026]}"#, key: "retry-1")
            #expect(retried.status == 202 && retried.json["accepted"] as? Int == failed, "\(retried)")
            let retryID = try #require(retried.json["id"] as? String)
            let again = try await Self.post(port, "/v1/campaigns/\(id)/retry", #"{"states":["failed"],"codes":[131026]}"#, key: "retry-1")
            #expect(again.status == 202 && again.json["id"] as? String == retryID)
            let retry = try await Self.done(port, retryID)
            #expect(retry["retry_of"] as? String == id && retry["name"] as? String == "retry of Spring sale")
            #expect(try await Self.get(port, "/v1/campaigns/\(id)").json["retries"] as? [String] == [retryID])
            let retriedPeople = try await Self.fates(port, retryID, limit: 100)
            #expect(Set(retriedPeople.compactMap { $0["external_id"] as? String }) == Set(failures.compactMap { $0["external_id"] as? String }))
            #expect(Set(retriedPeople.compactMap { $0["to"] as? String }) == Set(failures.compactMap { $0["to"] as? String }))
        }
    }

    @Test func mistakesAreRefusedWithTheField() async throws {
        try await ServeMockStack.run(prefix: "sluice-fates-bad", appSecret: Self.appSecret, adminKey: Self.adminKey) { stack in
            try stack.mock.register(phoneNumberID: Self.phone, sender: MockSender(accessToken: "token"))
            try await stack.dispatcher.putSender(phoneNumberID: Self.phone, tierMessagesPerSecond: 200, accessToken: "token", appSecret: Self.appSecret)
            let port = stack.servePort
            let message = #""message":{"type":"text","text":{"body":"Hi"}}"#
            let sent = try await Self.post(port, "/v1/campaigns", #"{"sender":"\#(Self.phone)",\#(message),"recipients":[{"to":"966540000001"},{"to":"966540000002"}]}"#)
            let id = try #require(sent.json["id"] as? String)
            _ = try await Self.done(port, id)

            for (path, field) in [
                ("/v1/campaigns/\(id)/messages?state=bogus", "state"), ("/v1/campaigns/\(id)/messages?code=x", "code"),
                ("/v1/campaigns/\(id)/messages?limit=0", "limit"), ("/v1/campaigns/\(id)/messages?cursor=abc", "cursor"),
                ("/v1/campaigns?label=has%20space", "label"),
            ] {
                let answer = try await Self.get(port, path)
                #expect(answer.status == 400 && answer.errorField == field, "\(path): \(answer)")
            }
            #expect(try await Self.get(port, "/v1/campaigns/999/messages").status == 404)
            #expect(try await RawHTTPClient.getStreamed(port: port, path: "/v1/campaigns/999/messages.csv", bearer: Self.adminKey).status == 404)

            for (body, status, field) in [
                (#"{"states":["sent"]}"#, 400, "states"), (#"{"states":[]}"#, 400, "states"), (#"{"codes":["x"]}"#, 400, "codes"),
                (#"{"state":["failed"]}"#, 400, "state"),
                // Nothing failed: nothing to retry, and nothing created.
                ("", 422, "states"),
            ] {
                let answer = try await Self.post(port, "/v1/campaigns/\(id)/retry", body)
                #expect(answer.status == status && answer.errorField == field, "\(body): \(answer)")
            }
            #expect(try await Self.post(port, "/v1/campaigns/999/retry", "").status == 404)
            let list = try #require(try await Self.get(port, "/v1/campaigns").json["campaigns"] as? [[String: Any]])
            #expect(list.count == 1, "a refused retry creates no campaign")

            // Duplicates: refused by default in every format, sent when asked; `dedupe` after
            // the recipients of a JSON body is refused.
            let twice = #"[{"to":"966540000009"},{"to":"966540000009"}]"#
            let deduped = try await Self.post(port, "/v1/campaigns", #"{"sender":"\#(Self.phone)",\#(message),"recipients":\#(twice)}"#)
            #expect(deduped.json["accepted"] as? Int == 1 && deduped.json["rejected_count"] as? Int == 1, "\(deduped)")
            let allowed = try await Self.post(port, "/v1/campaigns", #"{"sender":"\#(Self.phone)","dedupe":false,\#(message),"recipients":\#(twice)}"#)
            #expect(allowed.json["accepted"] as? Int == 2, "\(allowed)")
            let late = try await Self.post(port, "/v1/campaigns", #"{"sender":"\#(Self.phone)",\#(message),"recipients":\#(twice),"dedupe":false}"#)
            #expect(late.status == 400 && late.errorField == "dedupe", "\(late)")
            let ndjson = Array(#"{"sender":"\#(Self.phone)",\#(message)}"#.utf8) + Array("\n{\"to\":\"966540000008\"}\n{\"to\":\"966540000008\"}\n".utf8)
            let lines = Answer(try await RawHTTPClient.post(port: port, path: "/v1/campaigns", body: ndjson, contentType: "application/x-ndjson", bearer: Self.adminKey))
            #expect(lines.json["accepted"] as? Int == 1 && (lines.json["rejected"] as? [[String: Any]])?.first?["line"] as? Int == 3, "\(lines)")
            let csv = Array("to,name\n966540000007,A\n966540000007,B\n".utf8)
            let rows = Answer(try await RawHTTPClient.post(
                port: port, path: "/v1/campaigns?sender=\(Self.phone)&template=hello&language=en&dedupe=false&name=csv&labels=a,b", body: csv, contentType: "text/csv", bearer: Self.adminKey))
            #expect(rows.json["accepted"] as? Int == 2, "\(rows)")
            let csvID = try #require(rows.json["id"] as? String)
            let shown = try await Self.get(port, "/v1/campaigns/\(csvID)")
            #expect(shown.json["name"] as? String == "csv" && shown.json["labels"] as? [String] == ["a", "b"], "\(shown)")
            for (name, value) in [("name", #""""#), ("labels", #"["a b"]"#), ("labels", #"["a","a"]"#), ("dedupe", "1"), ("external_id", "")] {
                let body = name == "external_id"
                    ? #"{"sender":"\#(Self.phone)",\#(message),"recipients":[{"to":"966540000006","external_id":""}]}"#
                    : #"{"sender":"\#(Self.phone)",\#(message),"\#(name)":\#(value),"recipients":[{"to":"966540000006"}]}"#
                let answer = try await Self.post(port, "/v1/campaigns", body)
                #expect(answer.status == (name == "external_id" ? 422 : 400), "\(name)=\(value): \(answer)")
                if name != "external_id" { #expect(answer.errorField == name, "\(answer)") }
            }
        }
    }
}
