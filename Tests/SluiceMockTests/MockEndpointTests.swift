import Foundation
import Logging
import Testing

@testable import SluiceMock

@Suite("MockEndpoint over real sockets")
struct MockEndpointTests {
    let logger = {
        var logger = Logger(label: "SluiceMockTests")
        logger.logLevel = .warning
        return logger
    }()
    static let sender = "106540352242922"

    private func withEndpoint(
        tls: Bool = true,
        recordFile: Bool = false,
        _ body: (MockEndpoint, MockEndpoint.Running, URL) async throws -> Void
    ) async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = MockConfiguration(certificateDirectory: directory.path)
        configuration.tls = tls
        if recordFile { configuration.recordFile = directory.appendingPathComponent("arrivals.ndjson").path }
        let endpoint = MockEndpoint(configuration: configuration, logger: logger)
        let running = try await endpoint.start()
        do {
            try await body(endpoint, running, directory)
        } catch {
            await endpoint.stop()
            throw error
        }
        await endpoint.stop()
    }

    @Test func sendOverHTTP2AndHTTP1WithTLS() async throws {
        try await withEndpoint { endpoint, running, directory in
            let caFile = try #require(running.caFile)
            #expect(caFile == directory.appendingPathComponent("mock-cert.pem").path)
            #expect(running.baseURL == "https://127.0.0.1:\(running.port)")
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages"

            let h2 = try await Curl.run(
                ["--cacert", caFile, "--http2"] + Curl.sendArguments(url: url, body: sendBody(callback: "msg-1")),
                in: directory
            )
            #expect(h2.exitCode == 0, "\(h2.stderr)")
            #expect(h2.status == 200)
            #expect(h2.httpVersion == "2")
            let wamid = try #require(((h2.json["messages"] as? [[String: Any]])?.first?["id"]) as? String)
            #expect(wamid.hasPrefix("wamid."))
            #expect(h2.json["messaging_product"] as? String == "whatsapp")
            let contact = (h2.json["contacts"] as? [[String: Any]])?.first
            #expect(contact?["input"] as? String == "15551234567")
            #expect(contact?["wa_id"] as? String == "15551234567")

            let h1 = try await Curl.run(
                ["--cacert", caFile, "--http1.1"] + Curl.sendArguments(url: url, body: sendBody(to: "+4915112345678")),
                in: directory
            )
            #expect(h1.status == 200, "\(h1.stderr)")
            #expect(h1.httpVersion == "1.1")

            let arrivals = endpoint.recorder.snapshot()
            #expect(arrivals.count == 2)
            #expect(arrivals.first?.phoneNumberID == Self.sender)
            #expect(arrivals.first?.callbackData == "msg-1")
            #expect(arrivals.first?.wamid == wamid)
            #expect(arrivals.last?.to == "+4915112345678")
            #expect(arrivals.last?.callbackData == nil)
            let now = Int64(Date().timeIntervalSince1970 * 1e9)
            #expect(arrivals.allSatisfy { abs(now - $0.timeNanoseconds) < 60_000_000_000 })
            #expect(Set(arrivals.map(\.wamid)).count == 2)
            #expect(endpoint.recorder.counts() == [Self.sender: 2])

            // A read receipt on the same endpoint is answered, counted, and is no arrival.
            let read = try await Curl.run(
                ["--cacert", caFile] + Curl.sendArguments(url: url, body: #"{"messaging_product":"whatsapp","status":"read","message_id":"\#(wamid)"}"#),
                in: directory)
            #expect(read.status == 200 && read.json["success"] as? Bool == true, "\(read.body)")

            let stats = try await Curl.run(["--cacert", caFile, running.baseURL + "/__mock/stats"], in: directory)
            #expect(stats.json["arrivals"] as? Int == 2)
            #expect((stats.json["per_sender"] as? [String: Any])?[Self.sender] as? Int == 2)
            #expect((stats.json["read_receipts"] as? [String: Any])?[Self.sender] as? Int == 1)

            let listed = try await Curl.run(
                ["--cacert", caFile, running.baseURL + "/__mock/arrivals?phone_number_id=\(Self.sender)&limit=1"],
                in: directory
            )
            let decoded = try JSONDecoder().decode([Arrival].self, from: Data(listed.body.utf8))
            #expect(decoded == [arrivals[0]])

            let keyAttributes = try FileManager.default.attributesOfItem(
                atPath: directory.appendingPathComponent("mock-key.pem").path
            )
            #expect((keyAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
    }

    @Test func rejectsLikeTheCloudAPI() async throws {
        try await withEndpoint(tls: false) { endpoint, running, directory in
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages"

            let noToken = try await Curl.run(Curl.sendArguments(url: url, token: nil, body: sendBody()), in: directory)
            #expect(noToken.status == 401)
            #expect(noToken.errorCode == 190)
            #expect((noToken.json["error"] as? [String: Any])?["type"] as? String == "OAuthException")
            #expect((noToken.json["error"] as? [String: Any])?["fbtrace_id"] is String)

            let emptyToken = try await Curl.run(Curl.sendArguments(url: url, token: " ", body: sendBody()), in: directory)
            #expect(emptyToken.status == 401)
            #expect(emptyToken.errorCode == 190)

            let cases: [(body: String, code: Int, field: String)] = [
                ("not json", 100, "body"),
                (#"{"to":"1555","type":"text","text":{"body":"hi"}}"#, 131_008, "messaging_product"),
                (#"{"messaging_product":"sms","to":"1555","type":"text","text":{"body":"hi"}}"#, 100, "messaging_product"),
                (#"{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}"#, 131_008, "to"),
                (#"{"messaging_product":"whatsapp","to":"call-me","type":"text","text":{"body":"hi"}}"#, 131_009, "to"),
                (#"{"messaging_product":"whatsapp","to":"1555","text":{"body":"hi"}}"#, 131_008, "type"),
                (#"{"messaging_product":"whatsapp","to":"1555","type":"fax","fax":{}}"#, 100, "type"),
                (#"{"messaging_product":"whatsapp","to":"1555","type":"template"}"#, 131_008, "template"),
                (#"{"messaging_product":"whatsapp","to":"1555","type":"text","text":"hi"}"#, 131_009, "text"),
                (
                    #"{"messaging_product":"whatsapp","to":"1555","type":"text","text":{},"biz_opaque_callback_data":7}"#,
                    131_009, "biz_opaque_callback_data"
                ),
            ]
            for (body, code, field) in cases {
                let result = try await Curl.run(Curl.sendArguments(url: url, body: body), in: directory)
                #expect(result.status == 400, "\(body)")
                #expect(result.errorCode == code, "\(body)")
                #expect(result.errorDetails.contains(field), "\(body) → \(result.errorDetails)")
            }

            let badSender = try await Curl.run(
                Curl.sendArguments(url: running.baseURL + "/v21.0/not-a-number/messages", body: sendBody()),
                in: directory
            )
            #expect(badSender.status == 400)
            #expect(badSender.errorCode == 100)

            let unknown = try await Curl.run(
                Curl.sendArguments(url: running.baseURL + "/v21.0/\(Self.sender)/message_templates", body: sendBody()),
                in: directory
            )
            #expect(unknown.status == 404)
            #expect(endpoint.recorder.count == 0)
        }
    }

    @Test func plainHTTP1() async throws {
        try await withEndpoint(tls: false) { endpoint, running, directory in
            #expect(running.caFile == nil)
            #expect(running.baseURL == "http://127.0.0.1:\(running.port)")
            let result = try await Curl.run(
                ["--http1.1"]
                    + Curl.sendArguments(url: running.baseURL + "/v17.0/\(Self.sender)/messages", body: sendBody(callback: "c")),
                in: directory
            )
            #expect(result.status == 200, "\(result.stderr)")
            #expect(result.httpVersion == "1.1")
            #expect(endpoint.recorder.snapshot().map(\.callbackData) == ["c"])
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("mock-cert.pem").path))
        }
    }

    @Test func untrustedClientFailsVerification() async throws {
        try await withEndpoint { endpoint, running, directory in
            let result = try await Curl.run(
                Curl.sendArguments(url: running.baseURL + "/v21.0/\(Self.sender)/messages", body: sendBody()),
                in: directory
            )
            // 60: peer certificate cannot be authenticated with known CA certificates.
            #expect(result.exitCode == 60, "\(result.stderr)")
            #expect(endpoint.recorder.count == 0)
        }
    }

    @Test func recordFileIsCompleteAfterStopAndRestartReusesCertificate() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = MockConfiguration(certificateDirectory: directory.path)
        let recordPath = directory.appendingPathComponent("arrivals.ndjson").path
        configuration.recordFile = recordPath
        configuration.latencyMilliseconds = 5

        let first = MockEndpoint(configuration: configuration, logger: logger)
        let running = try await first.start()
        let caFile = try #require(running.caFile)
        let pem = try Data(contentsOf: URL(fileURLWithPath: caFile))
        let url = running.baseURL + "/v21.0/\(Self.sender)/messages"
        for index in 0..<3 {
            let result = try await Curl.run(
                ["--cacert", caFile] + Curl.sendArguments(url: url, body: sendBody(callback: "m\"\(index)\\")),
                in: directory
            )
            #expect(result.status == 200, "\(result.stderr)")
        }
        await first.stop()

        let lines = try String(contentsOfFile: recordPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let decoded = try lines.map { try JSONDecoder().decode(Arrival.self, from: Data($0.utf8)) }
        #expect(decoded == first.recorder.snapshot())
        #expect(decoded.map(\.callbackData) == ["m\"0\\", "m\"1\\", "m\"2\\"])

        let second = MockEndpoint(configuration: configuration, logger: logger)
        let rerun = try await second.start()
        #expect(try Data(contentsOf: URL(fileURLWithPath: caFile)) == pem)
        let again = try await Curl.run(
            ["--cacert", caFile] + Curl.sendArguments(url: rerun.baseURL + "/v21.0/\(Self.sender)/messages", body: sendBody()),
            in: directory
        )
        #expect(again.status == 200, "\(again.stderr)")
        await second.stop()
        // The record file is appended to across restarts.
        #expect(try String(contentsOfFile: recordPath, encoding: .utf8).split(separator: "\n").count == 4)
    }

    @Test func recordFileKeepsUpWhileRunning() async throws {
        try await withEndpoint(tls: false, recordFile: true) { endpoint, running, directory in
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages"
            let result = try await Curl.run(Curl.sendArguments(url: url, body: sendBody()), in: directory)
            #expect(result.status == 200)
            // The flusher writes at least every flushIntervalMilliseconds; allow generous slack under load.
            try await Task.sleep(for: .milliseconds(ArrivalRecorder.flushIntervalMilliseconds * 10))
            let text = try String(contentsOf: directory.appendingPathComponent("arrivals.ndjson"), encoding: .utf8)
            #expect(text.split(separator: "\n").count == 1)
        }
    }

    @Test func secondStartIsRejected() async throws {
        try await withEndpoint(tls: false) { endpoint, _, _ in
            await #expect(throws: MockError.alreadyRunning) {
                _ = try await endpoint.start()
            }
        }
    }
}
