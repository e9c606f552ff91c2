import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SluiceEngine
import SluiceMock
import SluiceServer
import Testing
import SluiceTestSupport

/// Sender listing, pause and resume through the router, over a dispatcher that sends to
/// the mock endpoint (TLS on 127.0.0.1): a pause must stop arrivals at the endpoint and a
/// resume must bring every queued message through.
@Suite(.serialized) struct SenderRoutesTests {
    static let key = "senders-admin-key-0123456789"

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, json: String? = nil) async throws -> (status: Int, body: [String: Any]) {
        var headers: HTTPFields = [.authorization: "Bearer \(Self.key)"]
        if json != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    @Test func pauseStopsArrivalsAndResumeDrainsTheQueue() async throws {
        let root = NSTemporaryDirectory() + "sluice-senders-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mock = MockEndpoint(configuration: MockConfiguration(certificateDirectory: root + "/mock"), logger: Logger(label: "test.mock"))
        let running = try await mock.start()
        var configuration = EngineConfiguration(dataDirectory: root)
        configuration.graphURL = running.baseURL
        configuration.transport.caFile = running.caFile
        let dispatcher = try Dispatcher(configuration: configuration)
        let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: Self.key, source: "test"))
        do {
            try await Application(router: router).test(.router) { client in
                #expect(try await call(client, .put, "/v1/senders/1065000501", json: #"{"tier_mps": 50, "access_token": "t"}"#).status == 200)
                let total = 150
                let recipients = (0..<total).map { #"{"to":"\#(966_540_000_000 + $0)"}"# }.joined(separator: ",")
                let posted = try await call(client, .post, "/v1/campaigns",
                                            json: #"{"sender":"1065000501","message":{"type":"text","text":{"body":"hi"}},"recipients":[\#(recipients)]}"#)
                #expect(posted.status == 202)

                try await waitFor(seconds: 10) { mock.recorder.count >= 20 }
                let paused = try await call(client, .post, "/v1/senders/1065000501/pause", json: #"{"reason": "template under review"}"#)
                #expect(paused.status == 200)
                #expect(paused.body["paused"] as? Bool == true)
                #expect(paused.body["pause_reason"] as? String == "template under review")
                // Sends already on the wire may land; then nothing more arrives.
                try await Task.sleep(for: .milliseconds(300))
                let atPause = mock.recorder.count
                try await Task.sleep(for: .seconds(1))
                #expect(mock.recorder.count == atPause, "no arrivals while paused")
                #expect(atPause < total)

                let listed = try await call(client, .get, "/v1/senders")
                let senders = try #require(listed.body["senders"] as? [[String: Any]])
                #expect(senders.count == 1)
                #expect(senders.first?["phone_number_id"] as? String == "1065000501")
                #expect(senders.first?["paused"] as? Bool == true)
                #expect(senders.first?["pause_reason"] as? String == "template under review")

                let resumed = try await call(client, .post, "/v1/senders/1065000501/resume")
                #expect(resumed.status == 200 && resumed.body["paused"] as? Bool == false && resumed.body["pause_reason"] == nil)
                try await waitFor(seconds: 15) { mock.recorder.count >= total }
                #expect(mock.recorder.count == total, "every queued message went after the resume")

                #expect(try await call(client, .post, "/v1/senders/999/pause").status == 404)
                #expect(try await call(client, .post, "/v1/senders/1065000501/pause", json: #"{"reason": 7}"#).status == 400)
                #expect(try await call(client, .post, "/v1/senders/1065000501/pause", json: "[").status == 400)
            }
        } catch {
            await dispatcher.shutdown()
            await mock.stop()
            throw error
        }
        await dispatcher.shutdown()
        await mock.stop()
    }

    func waitFor(seconds: Double, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool) async throws {
        try await eventually(within: seconds, every: 50, sourceLocation: sourceLocation) { condition() }
    }
}
