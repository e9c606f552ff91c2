import Foundation
import Testing

@testable import SluiceMock

/// What the mock offers a client that opens connections ahead: the number's node to read,
/// and a connection setup time that models the round trips to a distant endpoint.
@Suite("The mock as a distant endpoint")
struct DistantEndpointTests {
    static let sender = "106540352242922"

    private func withEndpoint(setupMilliseconds: Int, _ body: (MockEndpoint, MockEndpoint.Running, URL) async throws -> Void) async throws {
        try await withConfiguredEndpoint(tls: true, { configuration in
            configuration.connectionSetupMilliseconds = setupMilliseconds
            configuration.senders[Self.sender] = MockSender(tierMessagesPerSecond: 80, accessToken: "right")
        }, body)
    }

    @Test func theNumbersNodeIsReadWithItsTokenAndCounted() async throws {
        try await withEndpoint(setupMilliseconds: 0) { endpoint, running, directory in
            let caFile = try #require(running.caFile)
            let url = running.baseURL + "/v21.0/\(Self.sender)"
            let read = try await Curl.run(["--cacert", caFile, "-H", "Authorization: Bearer right", url], in: directory)
            #expect(read.status == 200 && read.json["id"] as? String == Self.sender, "\(read.body)")
            #expect((read.json["throughput"] as? [String: Any])?["level"] as? String == "STANDARD")
            let wrong = try await Curl.run(["--cacert", caFile, "-H", "Authorization: Bearer wrong", url], in: directory)
            #expect(wrong.status == 401 && wrong.errorCode == 190)
            let notANumber = try await Curl.run(["--cacert", caFile, "-H", "Authorization: Bearer right", running.baseURL + "/v21.0/abc"], in: directory)
            #expect(notANumber.status == 400 && notANumber.errorCode == 100)
            let stats = endpoint.stats()
            #expect(stats.phoneNumberReads == [Self.sender: 1], "only the accepted read counts")
            #expect(stats.arrivals == 0, "a read is not a message")
            // The inspection routes are not taken for numbers.
            let inspection = try await Curl.run(["--cacert", caFile, running.baseURL + "/__mock/stats"], in: directory)
            #expect(inspection.status == 200 && inspection.json["phone_number_reads"] != nil)
        }
    }

    @Test func sendsRefusedOverTheTierAreRecordedWithTheirArrivalStamp() async throws {
        var refusalFile = ""
        try await withConfiguredEndpoint(tls: true, { configuration in
            refusalFile = configuration.certificateDirectory + "/refusals.ndjson"
            configuration.refusalRecordFile = refusalFile
            configuration.senders[Self.sender] = MockSender(tierMessagesPerSecond: 1)
        }) { endpoint, running, directory in
            let caFile = try #require(running.caFile)
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages"
            // Tier 1: the second send within the second is refused. One curl sends both on
            // one connection (`--next`), a moment apart however busy the machine.
            _ = try await Curl.run(
                ["--cacert", caFile] + Curl.sendArguments(url: url, body: sendBody(to: "15550000001")) + ["--next", "--cacert", caFile]
                    + Curl.sendArguments(url: url, body: sendBody(to: "15550000002")),
                in: directory)
            let lines = try String(contentsOfFile: refusalFile, encoding: .utf8).split(separator: "\n")
            try #require(lines.count == 1, "refusals: \(lines)")
            let refusal = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(refusal["phone_number_id"] as? String == Self.sender && refusal["to"] as? String == "15550000002")
            let accepted = try #require(endpoint.recorder.snapshot().first)
            let refusedAt = try #require((refusal["t"] as? NSNumber)?.int64Value)
            #expect(refusedAt > accepted.timeNanoseconds && refusedAt - accepted.timeNanoseconds < 1_000_000_000, "stamped on the arrival clock")
            #expect(endpoint.stats().errors[130_429] == 1)
        }
    }
    @Test func aNewConnectionWaitsItsSetupTimeAndAnOpenOneDoesNot() async throws {
        try await withEndpoint(setupMilliseconds: 300) { endpoint, running, directory in
            let caFile = try #require(running.caFile)
            let url = running.baseURL + "/v21.0/\(Self.sender)"
            // Two requests on one curl connection: the TLS handshake completes only after
            // the setup time; the second request reuses the connection and pays nothing.
            let result = try await Curl.run(
                ["--cacert", caFile, "-H", "Authorization: Bearer right", "-w", "%{time_appconnect} %{time_total}\n",
                 "-o", "/dev/null", url, "-o", "/dev/null", url],
                in: directory)
            #expect(result.exitCode == 0, "\(result.stderr)")
            let lines = result.body.split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
            try #require(lines.count == 2 && lines.allSatisfy { $0.count == 2 }, "\(result.body)")
            #expect(lines[0][0] >= 0.3, "TLS completed after \(lines[0][0]) s, setup 0.3 s")
            #expect(lines[1][1] < lines[0][0], "the reused connection's request took \(lines[1][1]) s")
            #expect(endpoint.stats().phoneNumberReads[Self.sender] == 2)
        }
    }
}
