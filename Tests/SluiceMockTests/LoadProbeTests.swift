import Foundation
import Logging
import Testing

@testable import SluiceMock

/// A throughput probe, not a timed test: runs only with `SLUICE_MOCK_LOAD=<requests>` set;
/// `SLUICE_MOCK_LOAD_HTTP=2` uses HTTP/2 (default HTTP/1.1 keep-alive).
@Suite("Mock load probe")
struct LoadProbeTests {
    static let requests = Int(ProcessInfo.processInfo.environment["SLUICE_MOCK_LOAD"] ?? "") ?? 0

    static let http2 = ProcessInfo.processInfo.environment["SLUICE_MOCK_LOAD_HTTP"] == "2"

    @Test(.enabled(if: requests > 0)) func curlParallel() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = MockConfiguration(certificateDirectory: directory.path)
        configuration.recordFile = directory.appendingPathComponent("arrivals.ndjson").path
        var logger = Logger(label: "SluiceMockLoad")
        logger.logLevel = .warning
        let endpoint = MockEndpoint(configuration: configuration, logger: logger)
        let running = try await endpoint.start()
        let caFile = try #require(running.caFile)
        // curl's URL glob makes one transfer per index; the query is ignored by the route.
        let url = running.baseURL + "/v21.0/106540352242922/messages?i=[1-\(Self.requests)]"
        let started = ContinuousClock.now
        let result = try await Curl.run(
            ["--cacert", caFile, Self.http2 ? "--http2" : "--http1.1", "-Z", "--parallel-max", Self.http2 ? "50" : "20", "-o", "/dev/null"]
                + Curl.sendArguments(url: url, body: sendBody(callback: "load")),
            in: directory
        )
        let elapsed = ContinuousClock.now - started
        await endpoint.stop()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let lines = try String(contentsOfFile: configuration.recordFile!, encoding: .utf8).split(separator: "\n").count
        print("mock load probe: \(endpoint.recorder.count) arrivals in \(seconds) s = \(Int(Double(endpoint.recorder.count) / seconds)) req/s; file lines \(lines); curl exit \(result.exitCode)")
        // curl -Z over HTTP/2 has been seen to resend some requests, so extra arrivals are possible.
        #expect(endpoint.recorder.count >= Self.requests)
        #expect(lines == endpoint.recorder.count)
    }
}
