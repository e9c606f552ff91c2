import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceEngine
import SluiceServer
import Testing

/// `/metrics` and `/readyz` through the router over a real dispatcher whose endpoint is a
/// closed loopback port, so that every send ends `not_sent` and shows up as an error.
@Suite struct MetricsTests {
    static let key = "metrics-admin-key-0123456789"

    func get(_ client: any TestClientProtocol, _ uri: String, key: String? = MetricsTests.key) async throws -> (status: Int, text: String) {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(uri: uri, method: .get, headers: headers) { response in
            (Int(response.status.code), String(buffer: response.body))
        }
    }

    /// The value of the sample line `name{labels} value`, if present.
    func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func metricsShowSendersErrorsAndTheJournalAndReadyzFollowsTheDispatcher() async throws {
        let dir = NSTemporaryDirectory() + "sluice-metrics-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"
        configuration.journal.durable = false
        let dispatcher = try Dispatcher(configuration: configuration)
        let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: Self.key, source: "test"))
        try await Application(router: router).test(.router) { client in
            #expect(try await get(client, "/metrics", key: nil).status == 401)
            let ready = try await get(client, "/readyz", key: nil)
            #expect(ready.status == 200 && ready.text.contains("ready"))

            try await dispatcher.putSender(phoneNumberID: "1065000777", tierMessagesPerSecond: 80, accessToken: "t")
            let recipients = (0..<3).map { RecipientInput(to: String(966_500_000_000 + $0), params: []) }
            _ = try await dispatcher.submitCampaign(
                senderPhoneNumberID: "1065000777", messageObject: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8), recipients: recipients)

            let errors = #"sluice_send_errors_total{sender="1065000777",code="not_sent"}"#
            var text = ""
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                let scrape = try await get(client, "/metrics")
                #expect(scrape.status == 200)
                text = scrape.text
                if (sample(text, errors) ?? 0) >= 3 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect((sample(text, errors) ?? 0) >= 3, "every send to the closed port counted: \(text)")
            #expect(sample(text, #"sluice_sender_tier_messages_per_second{sender="1065000777"}"#) == 80)
            #expect(sample(text, #"sluice_sender_paused{sender="1065000777"}"#) == 0)
            #expect(sample(text, #"sluice_messages_sent_total{sender="1065000777"}"#) == 0)
            #expect(sample(text, #"sluice_sender_send_rate_messages_per_second{sender="1065000777"}"#) == 0, "nothing was sent")
            #expect(sample(text, "sluice_journal_messages") == 3)
            #expect((sample(text, "sluice_journal_map_bytes") ?? 0) > 0)
            #expect(sample(text, "sluice_pacing_lag_seconds") != nil)
            #expect(sample(text, "sluice_dispatch_campaigns_held") == 1, "the one campaign")
            #expect(sample(text, "sluice_outbox_pending") == 0)
            #expect(text.contains("# TYPE sluice_send_errors_total counter"))
            #expect(text.contains("hb_requests"), "the HTTP request counter of MetricsMiddleware")
            #expect(text.contains("http_server_request_duration"), "the HTTP latency histogram")

            // A deleted sender's series leave the scrape; another sender's stay.
            try await dispatcher.putSender(phoneNumberID: "1065000778", tierMessagesPerSecond: 250, accessToken: "t")
            // The loop publishes sender snapshots as it runs: scrape until they show.
            func scrape(until done: (String) -> Bool) async throws -> String {
                var text = ""
                for _ in 0..<50 {
                    text = try await get(client, "/metrics").text
                    if done(text) { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                return text
            }
            let two = try await scrape { $0.contains(#"sender="1065000778""#) }
            #expect(sample(two, #"sluice_sender_tier_messages_per_second{sender="1065000778"}"#) == 250)
            _ = try await dispatcher.deleteSender(phoneNumberID: "1065000778")
            let one = try await scrape { !$0.contains(#"sender="1065000778""#) }
            #expect(!one.contains(#"sender="1065000778""#), "\(one)")
            #expect(sample(one, #"sluice_sender_tier_messages_per_second{sender="1065000777"}"#) == 80)
            #expect((sample(one, errors) ?? 0) >= 3)

            await dispatcher.shutdown()
            let stopped = try await get(client, "/readyz", key: nil)
            #expect(stopped.status == 503)
        }
        await dispatcher.shutdown()
    }
}
