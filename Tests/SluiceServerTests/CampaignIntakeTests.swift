import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceEngine
@testable import SluiceServer
import SluiceTestSupport
import Testing

/// NDJSON and CSV intake and `Idempotency-Key` through the real router (and a live server
/// where the body must arrive in parts), over a real dispatcher and LMDB journal in a
/// temporary directory. The endpoint is a closed loopback port: these tests are about
/// intake, not sending.
@Suite(.serialized) struct CampaignIntakeTests {
    static let key = "test-admin-key-0123456789"
    static let message = #"{"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"{{1}}"}]}]}}"#
    static let header = #"{"sender":"555","message":\#(message)}"#

    struct Answer {
        var status: Int
        var body: [String: Any]
        var bytes: [UInt8]
        var headers: HTTPFields
        var errorCode: String? { (body["error"] as? [String: Any])?["code"] as? String }
        var errorField: String? { (body["error"] as? [String: Any])?["field"] as? String }
        var errorMessage: String { (body["error"] as? [String: Any])?["message"] as? String ?? "" }
        func int(_ key: String) -> Int? { (body[key] as? NSNumber)?.intValue }
    }

    func configuration(_ dir: String) -> EngineConfiguration {
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"
        configuration.journal.durable = false
        return configuration
    }

    /// Runs `body` against the router over the journal in `directory` (a fresh one,
    /// removed afterwards, when nil), with sender 555 registered.
    func withAPI(
        directory: String? = nil, live: Bool = false, batchRecipients: Int = CampaignUpload.batchRecipientsDefault,
        _ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void
    ) async throws {
        let dir = directory ?? NSTemporaryDirectory() + "sluice-intake-\(UUID().uuidString.prefix(8))"
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let dispatcher = try Dispatcher(configuration: configuration(dir))
        do {
            try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok")
            let router = try APIRoutes.router(
                dispatcher: dispatcher, credential: AdminCredential(key: Self.key, source: "test"), campaignBatchRecipients: batchRecipients)
            try await Application(router: router).test(live ? .live : .router) { client in try await body(client, dispatcher) }
        } catch {
            await dispatcher.shutdown()
            throw error
        }
        await dispatcher.shutdown()
    }

    func post(
        _ client: any TestClientProtocol, _ uri: String = "/v1/campaigns", contentType: String, body: String,
        idempotencyKey: String? = nil, key: String = CampaignIntakeTests.key
    ) async throws -> Answer {
        var headers: HTTPFields = [.contentType: contentType, .authorization: "Bearer \(key)"]
        if let idempotencyKey { headers[CampaignIntakeRoute.idempotencyKeyHeader] = idempotencyKey }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            let bytes = Array(response.body.readableBytesView)
            let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
            return Answer(status: Int(response.status.code), body: object, bytes: bytes, headers: response.headers)
        }
    }

    func rejections(_ answer: Answer) -> [(Int, String)] {
        (answer.body["rejected"] as? [[String: Any]] ?? []).map { (($0["line"] as? NSNumber)?.intValue ?? -1, $0["reason"] as? String ?? "") }
    }

    func ndjson(_ count: Int, from first: Int = 0) -> String {
        (first..<first + count).map { #"{"to":"\#(966_500_000_000 + $0)","params":["n\#($0)"]}"# }.joined(separator: "\n")
    }

    // MARK: Formats

    @Test func ndjsonCampaignIsJournaledWithRejectionsByLine() async throws {
        try await withAPI { client, dispatcher in
            let body = [
                Self.header,
                #"{"to":"966500000001","params":["Ann"]}"#,
                #"{"to":"+966500000002","params":["Bob"]}"#,      // line 3: not digits
                "",                                                  // line 4: blank, skipped
                #"{"to":"966500000003","params":["a","b"]}"#,       // line 5: params count
                #"{"to":"966500000004","params":["Dé \"q\" \u00e9"]}"#,
                #"{"to":"966500000007","parms":["Dan"]}"#,           // line 7: a misspelt key
                #"{"to":966500000005}"#,                             // line 8: to is a number
                #"not json"#,                                         // line 9
                #"{"to":"966500000006","params":["Eve"]}"#,
            ].joined(separator: "\r\n") + "\n"
            let r = try await post(client, contentType: "application/x-ndjson", body: body)
            #expect(r.status == 202, "\(r.body)")
            #expect(r.int("accepted") == 3)
            #expect(r.int("rejected_count") == 5)
            let rejected = rejections(r)
            #expect(rejected.map(\.0) == [3, 5, 7, 8, 9])
            #expect(rejected[0].1.contains("digits"))
            #expect(rejected[1].1.contains("params"))
            #expect(rejected[2].1 == "parms is not a field here (did you mean params?); known: external_id, params, to")
            #expect(rejected[3].1 == "to must be a string")
            let id = try #require(r.body["id"] as? String)
            let progress = try #require(try dispatcher.campaignProgress(CampaignID(UInt64(id)!)))
            #expect(progress.total == 3)
            #expect(progress.state == "active")
            let escaped = try #require(try dispatcher.message(MessageID(2)))
            #expect(escaped.to == "966500000004")
            #expect(escaped.params == ["Dé \"q\" é"], "JSON escapes are decoded")
        }
    }

    @Test func csvCampaignBuildsTheTemplateFromTheQuery() async throws {
        try await withAPI { client, dispatcher in
            let body = "\u{FEFF}name,To,code\n" + [
                "Ann,966500000001,A1",
                #""Smith, Bob",966500000002,"say ""hi""""#,
                "Cy,966500000003",                 // line 4: two fields
                "Di,96650000000x,D4",              // line 5: not digits
                #"Ed,966500000005,"open"#,          // line 6: unclosed quote
                "Fay,966500000006,F6",
            ].joined(separator: "\n")
            let uri = "/v1/campaigns?sender=555&template=order_shipped&language=en_US"
            let r = try await post(client, uri, contentType: "text/csv; charset=utf-8", body: body)
            #expect(r.status == 202, "\(r.body)")
            #expect(r.int("accepted") == 3)
            #expect(rejections(r).map(\.0) == [4, 5, 6])
            let second = try #require(try dispatcher.message(MessageID(2)))
            #expect(second.to == "966500000002")
            #expect(second.params == ["Smith, Bob", #"say "hi""#], "columns other than 'to' fill {{1}}, {{2}} in order")
            let progress = try #require(try dispatcher.campaignProgress(CampaignID(1)))
            #expect(progress.total == 3)
        }
    }

    @Test func aBadHeaderOrQueryIs4xxAndJournalsNothing() async throws {
        try await withAPI { client, dispatcher in
            let row = #"{"to":"966500000001","params":["a"]}"#
            let ndjsonCases: [(String, Int, String)] = [
                ("", 400, "header"),
                ("{sender\n\(row)", 400, "header"),
                (#"["not","an object"]"# + "\n\(row)", 400, "header"),
                (#"{"message":\#(Self.message)}"# + "\n\(row)", 400, "header.sender"),
                (#"{"sender":"555"}"# + "\n\(row)", 400, "header.message"),
                (#"{"sender":"555","message":\#(Self.message),"recipients":[]}"# + "\n\(row)", 400, "header.recipients"),
                (#"{"sender":"777","message":\#(Self.message)}"# + "\n\(row)", 422, "sender"),
                (#"{"sender":"555","message":{"text":{"body":"x"}}}"# + "\n\(row)", 400, "message"),
            ]
            for (body, status, field) in ndjsonCases {
                let r = try await post(client, contentType: "application/x-ndjson", body: body)
                #expect(r.status == status, "\(body) → \(r.body)")
                #expect(r.errorField == field, "\(body) → \(r.body)")
                #expect(!r.errorMessage.isEmpty)
            }
            let csvCases: [(String, String, Int, String)] = [
                ("/v1/campaigns?template=t&language=en", "to\n966500000001", 400, "sender"),
                ("/v1/campaigns?sender=555&language=en", "to\n966500000001", 400, "template"),
                ("/v1/campaigns?sender=555&template=t", "to\n966500000001", 400, "language"),
                ("/v1/campaigns?sender=555&template=t&language=en", "phone,name\n966500000001,a", 400, "header"),
                ("/v1/campaigns?sender=555&template=t&language=en", "to,name,TO\n966500000001,a,b", 400, "header"),
                ("/v1/campaigns?sender=555&template=t&language=en", "", 400, "header"),
                ("/v1/campaigns?sender=777&template=t&language=en", "to\n966500000001", 422, "sender"),
            ]
            for (uri, body, status, field) in csvCases {
                let r = try await post(client, uri, contentType: "text/csv", body: body)
                #expect(r.status == status, "\(uri) \(body) → \(r.body)")
                #expect(r.errorField == field, "\(uri) \(body) → \(r.body)")
            }
            #expect(try dispatcher.campaignProgress(CampaignID(1)) == nil, "nothing was journaled")
        }
    }

    @Test("a JSON body streams in any member order: recipients before sender wait, options after them still apply, a bad element leaves nothing")
    func jsonBodyMembersInAnyOrder() async throws {
        try await withAPI(live: true, batchRecipients: 2) { client, dispatcher in
            let recipients = (0..<5).map { #"{"to":"96650000000\#($0)","params":["p\#($0)"]}"# }.joined(separator: ",")
            let body = #"{"recipients":[\#(recipients)],"sender":"555","priority":"transactional","message":\#(Self.message),"delivery":"at_most_once"}"#
            let r = try await post(client, contentType: "application/json", body: body)
            #expect(r.status == 202, "\(r.body)")
            #expect(r.int("accepted") == 5 && r.int("rejected_count") == 0)
            let id = try #require(r.body["id"] as? String)
            let progress = try #require(try dispatcher.campaignProgress(CampaignID(UInt64(id)!)))
            #expect(progress.total == 5)
            #expect(progress.options.priority == .transactional && progress.options.delivery == .atMostOnce)

            // Element 3 is malformed after two batches were journaled: 400 naming it, and
            // the campaign is gone with its messages.
            let bad = #"{"sender":"555","message":\#(Self.message),"recipients":[\#(recipients),{"to":5}]}"#
            let refused = try await post(client, contentType: "application/json", body: bad)
            #expect(refused.status == 400 && refused.errorField == "recipients[5].to", "\(refused.body)")
            #expect(try dispatcher.campaignProgress(CampaignID(UInt64(id)! + 1)) == nil, "nothing of it is left")
            let twice = try await post(client, contentType: "application/json", body: #"{"sender":"555","sender":"555"}"#)
            #expect(twice.status == 400 && twice.errorField == "sender")
        }
    }

    @Test func noValidRowIs422AndLeavesNoCampaign() async throws {
        try await withAPI { client, dispatcher in
            let r = try await post(client, contentType: "application/x-ndjson", body: Self.header + "\n" + #"{"to":"12"}"#)
            #expect(r.status == 422)
            #expect(r.errorCode == "no_valid_recipients")
            #expect(r.errorMessage.contains("line 2"), "\(r.errorMessage)")
            #expect(try dispatcher.campaignProgress(CampaignID(1)) == nil, "a refused upload leaves nothing")
        }
    }

    @Test func aLineOverTheBoundIs413NamingItAndNothingIsSent() async throws {
        try await withAPI { client, dispatcher in
            let long = #"{"to":"966500000002","params":[""# + String(repeating: "x", count: CampaignIntakeRoute.lineBytesMax) + #""]}"#
            let body = [Self.header, #"{"to":"966500000001","params":["a"]}"#, long, #"{"to":"966500000003","params":["c"]}"#].joined(separator: "\n")
            let r = try await post(client, contentType: "application/x-ndjson", body: body)
            #expect(r.status == 413, "\(r.body)")
            #expect(r.errorCode == "line_too_long")
            #expect(r.errorField == "line 3")
            #expect(r.errorMessage.contains("line 3"))
            let progress = try #require(try dispatcher.campaignProgress(CampaignID(1)))
            #expect(progress.state == "cancelled")
            #expect(progress.total == 0, "the accepted line before it was discarded, never sent")

            let csv = "to,name\n966500000001,a\n966500000002," + String(repeating: "y", count: CampaignIntakeRoute.lineBytesMax)
            let c = try await post(client, "/v1/campaigns?sender=555&template=t&language=en", contentType: "text/csv", body: csv)
            #expect(c.status == 413 && c.errorField == "line 3", "\(c.body)")
        }
    }

    // MARK: Idempotency

    @Test func theSameKeyAndBodyReplayTheFirstAnswerAndJournalNothingTwice() async throws {
        try await withAPI { client, dispatcher in
            let body = Self.header + "\n" + ndjson(3) + "\n" + #"{"to":"1"}"#
            let first = try await post(client, contentType: "application/x-ndjson", body: body, idempotencyKey: "order-2024-0001")
            #expect(first.status == 202)
            #expect(first.headers[CampaignIntakeRoute.replayedHeader] == nil)
            let again = try await post(client, contentType: "application/x-ndjson", body: body, idempotencyKey: "order-2024-0001")
            #expect(again.status == 202)
            #expect(again.bytes == first.bytes, "the same answer, byte for byte")
            #expect(again.headers[CampaignIntakeRoute.replayedHeader] == "true")
            #expect(try dispatcher.campaignProgress(CampaignID(2)) == nil, "no second campaign")
            #expect(try dispatcher.campaignProgress(CampaignID(1))?.total == 3)

            // The JSON and CSV formats too.
            let json = #"{"sender":"555","message":\#(Self.message),"recipients":[{"to":"966500000001","params":["a"]},{"to":"2"}]}"#
            let j1 = try await post(client, contentType: "application/json", body: json, idempotencyKey: "json-1")
            let j2 = try await post(client, contentType: "application/json", body: json, idempotencyKey: "json-1")
            #expect(j1.status == 202 && j2.status == 202 && j1.bytes == j2.bytes, "\(j1.body) \(j2.body)")
            #expect(((j1.body["rejected"] as? [[String: Any]])?.first?["index"] as? NSNumber)?.intValue == 1)
            let csvURI = "/v1/campaigns?sender=555&template=t&language=en"
            let c1 = try await post(client, csvURI, contentType: "text/csv", body: "to,name\n966500000001,a", idempotencyKey: "csv-1")
            let c2 = try await post(client, csvURI, contentType: "text/csv", body: "to,name\n966500000001,a", idempotencyKey: "csv-1")
            #expect(c1.status == 202 && c1.bytes == c2.bytes)
            #expect(try dispatcher.campaignProgress(CampaignID(3))?.total == 1)
            #expect(try dispatcher.campaignProgress(CampaignID(4)) == nil, "three campaigns for six requests")

            // The same key with another query is another request.
            let other = try await post(client, csvURI + "x", contentType: "text/csv", body: "to,name\n966500000001,a", idempotencyKey: "csv-1")
            #expect(other.status == 422 && other.errorCode == "idempotency_key_conflict")
        }
    }

    @Test func theSameKeyWithAnotherBodyIs422AndJournalsNothing() async throws {
        try await withAPI { client, dispatcher in
            let first = try await post(client, contentType: "application/x-ndjson", body: Self.header + "\n" + ndjson(2), idempotencyKey: "k-1")
            #expect(first.status == 202)
            let changed = try await post(client, contentType: "application/x-ndjson", body: Self.header + "\n" + ndjson(3), idempotencyKey: "k-1")
            #expect(changed.status == 422)
            #expect(changed.errorCode == "idempotency_key_conflict")
            #expect(changed.errorField == "Idempotency-Key")
            #expect(changed.errorMessage.contains("k-1"))
            #expect(try dispatcher.campaignProgress(CampaignID(2)) == nil)
            let bad = try await post(client, contentType: "application/x-ndjson", body: Self.header, idempotencyKey: String(repeating: "k", count: 256))
            #expect(bad.status == 400 && bad.errorField == "Idempotency-Key")
        }
    }

    @Test func keysAreScopedPerAPIKey() async throws {
        try await withAPI { client, dispatcher in
            var headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(Self.key)"]
            let created = try await client.execute(uri: "/v1/keys", method: .post, headers: headers, body: ByteBuffer(string: #"{"name":"svc","scopes":["submit"]}"#)) {
                (try? JSONSerialization.jsonObject(with: Data($0.body.readableBytesView))) as? [String: Any] ?? [:]
            }
            let token = try #require(created["key"] as? String)
            headers[.authorization] = "Bearer \(token)"
            let body = Self.header + "\n" + ndjson(1)
            let a = try await post(client, contentType: "application/x-ndjson", body: body, idempotencyKey: "shared")
            let b = try await post(client, contentType: "application/x-ndjson", body: body, idempotencyKey: "shared", key: token)
            #expect(a.status == 202 && b.status == 202)
            #expect(a.body["id"] as? String == "1" && b.body["id"] as? String == "2", "another API key's key is another key")
            #expect(try dispatcher.campaignProgress(CampaignID(2))?.total == 1)
        }
    }

    @Test func aReplayWorksAcrossARestartOfTheSameJournal() async throws {
        let dir = NSTemporaryDirectory() + "sluice-intake-restart-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let body = Self.header + "\n" + ndjson(5)
        let first = Locked<[UInt8]>([])
        try await withAPI(directory: dir) { client, _ in
            let r = try await post(client, contentType: "application/x-ndjson", body: body, idempotencyKey: "restart-1")
            #expect(r.status == 202)
            first.withLock { $0 = r.bytes }
        }
        try await withAPI(directory: dir) { client, dispatcher in
            let r = try await post(client, contentType: "application/x-ndjson", body: body, idempotencyKey: "restart-1")
            #expect(r.status == 202)
            #expect(r.bytes == first.withLock { $0 })
            #expect(r.headers[CampaignIntakeRoute.replayedHeader] == "true")
            let conflict = try await post(client, contentType: "application/x-ndjson", body: body + "\n", idempotencyKey: "restart-1")
            #expect(conflict.status == 422)
            #expect(try dispatcher.campaignProgress(CampaignID(1))?.total == 5)
            #expect(try dispatcher.campaignProgress(CampaignID(2)) == nil, "nothing journaled twice across the restart")
        }
    }

    @Test func aKeyExpiresAfter24Hours() async throws {
        let dir = NSTemporaryDirectory() + "sluice-intake-expiry-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ShiftedClock()
        let dispatcher = try Dispatcher(configuration: configuration(dir), clock: clock)
        do {
            try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok")
            let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: Self.key, source: "test"))
            try await Application(router: router).test(.router) { client in
                let body = Self.header + "\n" + ndjson(1)
                let first = try await post(client, contentType: "application/x-ndjson", body: body, idempotencyKey: "daily")
                clock.setShift(milliseconds: IdempotencyRecord.lifetimeMilliseconds - 1_000)
                let within = try await post(client, contentType: "application/x-ndjson", body: body, idempotencyKey: "daily")
                #expect(within.bytes == first.bytes && within.headers[CampaignIntakeRoute.replayedHeader] == "true", "replayed just before 24 h")
                clock.setShift(milliseconds: IdempotencyRecord.lifetimeMilliseconds + 1_000)
                let after = try await post(client, contentType: "application/x-ndjson", body: body + "\n", idempotencyKey: "daily")
                #expect(after.status == 202, "an expired key takes a new request: \(after.body)")
                #expect(after.body["id"] as? String == "2")
                let replay = try await post(client, contentType: "application/x-ndjson", body: body + "\n", idempotencyKey: "daily")
                #expect(replay.bytes == after.bytes, "and answers its retries from then on")
            }
        } catch {
            await dispatcher.shutdown()
            throw error
        }
        await dispatcher.shutdown()
    }

    // MARK: Streaming

    /// 20 000 rows in batches of 5 000 over a live socket: the first 12 000 are sent, the
    /// journal holds two batches of them while the campaign is still `receiving` (nothing
    /// sent), then the rest arrives and the campaign becomes active.
    @Test func aStreamedCampaignIsJournaledInBatchesAsItArrives() async throws {
        try await withAPI(live: true, batchRecipients: 5_000) { client, dispatcher in
            let head = Array((Self.header + "\n" + ndjson(12_000) + "\n").utf8)
            let tail = Array((ndjson(8_000, from: 12_000) + "\n").utf8)
            let raw = try RawHTTPClient(port: try #require(client.port))
            try await raw.send(request(contentLength: head.count + tail.count))
            try await raw.send(head)
            let midway = try await waitFor(dispatcher, CampaignID(1)) { $0.total >= 10_000 }
            #expect(midway.state == "receiving")
            #expect(midway.total == 10_000, "two whole batches, the third still buffered")
            #expect(midway.queued == midway.total, "nothing of a receiving campaign is sent")
            try await raw.send(tail)
            let answer = try await raw.response()
            raw.closeNormally()
            #expect(answer.status == 202)
            #expect((answer.body["accepted"] as? NSNumber)?.intValue == 20_000)
            let done = try #require(try dispatcher.campaignProgress(CampaignID(1)))
            #expect(done.total == 20_000)
            #expect(done.state == "active")
            #expect(try dispatcher.message(MessageID(20_000))?.to == String(966_500_000_000 + 19_999))
        }
    }

    /// The client goes away mid-upload: the campaign is cancelled, its journaled rows are
    /// deleted and nothing of it is sent.
    @Test func anAbortedUploadIsCancelledAndNothingOfItIsSent() async throws {
        try await withAPI(live: true, batchRecipients: 5_000) { client, dispatcher in
            let head = Array((Self.header + "\n" + ndjson(12_000) + "\n").utf8)
            let raw = try RawHTTPClient(port: try #require(client.port))
            try await raw.send(request(contentLength: head.count * 2))
            try await raw.send(head)
            _ = try await waitFor(dispatcher, CampaignID(1)) { $0.total >= 10_000 }
            raw.abort()
            // Cancelling deletes 5 000 messages per commit: wait for the last one.
            let cancelled = try await waitFor(dispatcher, CampaignID(1)) { $0.state != "receiving" && $0.total == 0 }
            #expect(cancelled.state == "cancelled")
            #expect(cancelled.sent + cancelled.failed + cancelled.inFlight + cancelled.inDoubt == 0)
            let shown = try await client.execute(uri: "/v1/campaigns/1", method: .get, headers: [.authorization: "Bearer \(Self.key)"]) {
                (try? JSONSerialization.jsonObject(with: Data($0.body.readableBytesView))) as? [String: Any] ?? [:]
            }
            #expect(shown["state"] as? String == "cancelled")
        }
    }

    /// A process that stops mid-upload leaves the campaign `receiving`; the next start
    /// cancels it, and new messages never reuse its ids.
    @Test func anUploadLeftReceivingByAStopIsCancelledAtTheNextStart() async throws {
        let dir = NSTemporaryDirectory() + "sluice-intake-stop-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let dispatcher = try Dispatcher(configuration: configuration(dir))
            try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok")
            var upload = try await dispatcher.beginCampaign(senderPhoneNumberID: "555", messageObject: Array(Self.message.utf8), batchRecipients: 100)
            for i in 0..<250 { try await upload.add(RecipientInput(to: String(966_500_000_000 + i), params: ["x"]), position: i + 2) }
            #expect(upload.batchesJournaled == 2)
            #expect(try dispatcher.campaignProgress(upload.id)?.state == "receiving")
            await dispatcher.shutdown()
        }
        let dispatcher = try Dispatcher(configuration: configuration(dir))
        let progress = try #require(try dispatcher.campaignProgress(CampaignID(1)))
        #expect(progress.state == "cancelled")
        #expect(progress.total == 0)
        let receipt = try await dispatcher.submitCampaign(
            senderPhoneNumberID: "555", messageObject: Array(Self.message.utf8), recipients: [RecipientInput(to: "966500000001", params: ["a"])])
        #expect(try dispatcher.message(MessageID(201)) != nil, "ids continue after the discarded ones")
        #expect(receipt.id == CampaignID(2))
        await dispatcher.shutdown()
    }

    func request(contentLength: Int) -> [UInt8] {
        Array((
            "POST /v1/campaigns HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(Self.key)\r\n"
                + "Content-Type: application/x-ndjson\r\nContent-Length: \(contentLength)\r\n\r\n"
        ).utf8)
    }

    func waitFor(_ dispatcher: Dispatcher, _ id: CampaignID, timeoutSeconds: Double = 20, _ condition: (CampaignProgress) -> Bool) async throws -> CampaignProgress {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            if let p = try dispatcher.campaignProgress(id), condition(p) { return p }
            guard Date() < deadline else {
                Issue.record("campaign \(id) did not reach the condition in \(timeoutSeconds) s: \(String(describing: try dispatcher.campaignProgress(id)))")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
