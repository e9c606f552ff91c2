import Benchmark
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceServer

/// `serve`'s status path in process: Meta's signed status webhooks through the real router
/// (parse, signature, sender, journal write with group commit, answer), against a
/// dispatcher on a durable journal in a temporary directory. The reference is the same
/// router answering Meta's verification GET: what Hummingbird costs before our work.
final class Fixture: @unchecked Sendable {
    static let phone = "106540352242922"
    static let secret = "bench-app-secret"
    static let key = "bench-admin-key-0123456789"
    static let verifyToken = "bench-verify-token"

    private(set) var dispatcher: Dispatcher!
    private(set) var router: Router<BasicRequestContext>!
    private(set) var directory = ""
    /// `count` signed bodies of `statuses` statuses each, for message 1.
    private(set) var bodies: [(body: ByteBuffer, signature: String)] = []

    func open(statuses: Int, distinct: Int = 64) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-webhook-bench-\(UUID().uuidString)").path
        var configuration = EngineConfiguration(dataDirectory: directory)
        configuration.graphURL = "https://127.0.0.1:9"
        configuration.warmStart = false
        dispatcher = try Dispatcher(configuration: configuration)
        try await dispatcher.putSender(phoneNumberID: Self.phone, tierMessagesPerSecond: 80, accessToken: "t", appSecret: Self.secret)
        _ = try await dispatcher.setSenderPaused(phoneNumberID: Self.phone, paused: true, reason: "benchmark")
        _ = try await dispatcher.submitCampaign(
            senderPhoneNumberID: Self.phone, messageObject: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8),
            recipients: [RecipientInput(to: "966500000001", params: [])])
        router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: Self.key, source: "bench"), webhookVerifyToken: Self.verifyToken)
        bodies = (0..<distinct).map { n in
            let list = (0..<statuses).map { i in
                #"{"id":"wamid.BENCH\#(n).\#(i)","status":"delivered","timestamp":"1749979800","recipient_id":"966500000001","biz_opaque_callback_data":"1"}"#
            }.joined(separator: ",")
            let text = #"{"object":"whatsapp_business_account","entry":[{"id":"0","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550242922","phone_number_id":"\#(Self.phone)"},"statuses":[\#(list)]}}]}]}"#
            return (ByteBuffer(string: text), WebhookSignature.header(secret: Array(Self.secret.utf8), body: Array(text.utf8)))
        }
    }

    func close() async {
        await dispatcher.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

let perPost = BenchmarkMetric.custom("CPU µs/POST", polarity: .prefersSmaller, useScalingFactor: false)

/// CPU seconds of this process so far (user + system).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let benchmarks: @Sendable () -> Void = {
    // Each iteration: `concurrent` webhooks at once, as Meta's arrive over many connections.
    let concurrent = 64
    let configuration = Benchmark.Configuration(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, perPost], maxDuration: .seconds(5), maxIterations: 1_000)

    for statuses in [1, 100] {
        let fixture = Fixture()
        Benchmark("Status webhooks, \(statuses) status(es) per POST, \(concurrent) at once", configuration: configuration, closure: { measured in
            // The test client's closure is @Sendable; the benchmark is used from it alone.
            nonisolated(unsafe) let benchmark = measured
            let app = Application(router: fixture.router)
            try await app.test(.router) { client in
                let cpu = processCPUSeconds()
                benchmark.startMeasurement()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<concurrent {
                        let (body, signature) = fixture.bodies[i % fixture.bodies.count]
                        group.addTask {
                            try await client.execute(
                                uri: "/webhooks/whatsapp", method: .post, headers: [.contentType: "application/json", .init("X-Hub-Signature-256")!: signature],
                                body: body
                            ) { response in precondition(response.status == .ok, "\(response.status)") }
                        }
                    }
                    try await group.waitForAll()
                }
                benchmark.stopMeasurement()
                benchmark.measurement(perPost, Int((processCPUSeconds() - cpu) * 1e6 / Double(concurrent)))
            }
        }, setup: { try await fixture.open(statuses: statuses) }, teardown: { await fixture.close() })
    }

    let reference = Fixture()
    Benchmark("Reference: Meta's verification GET on the same router, \(concurrent) at once", configuration: configuration, closure: { measured in
        nonisolated(unsafe) let benchmark = measured
        let app = Application(router: reference.router)
        try await app.test(.router) { client in
            let cpu = processCPUSeconds()
            benchmark.startMeasurement()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrent {
                    group.addTask {
                        try await client.execute(
                            uri: "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=\(Fixture.verifyToken)", method: .get
                        ) { response in precondition(response.status == .ok, "\(response.status)") }
                    }
                }
                try await group.waitForAll()
            }
            benchmark.stopMeasurement()
            benchmark.measurement(perPost, Int((processCPUSeconds() - cpu) * 1e6 / Double(concurrent)))
        }
    }, setup: { try await reference.open(statuses: 1) }, teardown: { await reference.close() })
}
