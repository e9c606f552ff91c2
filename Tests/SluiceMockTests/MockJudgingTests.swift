import Foundation
import Logging
import Testing

@testable import SluiceMock

/// Starts a plain or TLS endpoint with `configure` applied, runs `body`, stops it.
func withConfiguredEndpoint(
    tls: Bool = false,
    _ configure: (inout MockConfiguration) -> Void,
    _ body: (MockEndpoint, MockEndpoint.Running, URL) async throws -> Void
) async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    var configuration = MockConfiguration(certificateDirectory: directory.path)
    configuration.tls = tls
    configure(&configuration)
    var logger = Logger(label: "SluiceMockTests")
    logger.logLevel = .warning
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

/// A template send with `parameters` body parameters.
func templateBody(name: String, parameters: Int, to: String = "15551234567") -> String {
    let values = (0..<parameters).map { #"{"type":"text","text":"p\#($0)"}"# }.joined(separator: ",")
    return #"{"messaging_product":"whatsapp","to":"\#(to)","type":"template","template":{"name":"\#(name)","language":{"code":"en_US"},"components":[{"type":"body","parameters":[\#(values)]}]}}"#
}

@Suite("Mock judging over real sockets", .timeLimit(.minutes(1)))
struct MockJudgingTests {
    static let sender = "106540352242922"
    static let other = "106540352242923"

    @Test func tokensAndRegistration() async throws {
        try await withConfiguredEndpoint({ configuration in
            configuration.requireRegisteredSenders = true
            configuration.senders[Self.sender] = MockSender(accessToken: "good-token")
        }) { endpoint, running, directory in
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages"
            let bad = try await Curl.run(Curl.sendArguments(url: url, token: "wrong", body: sendBody()), in: directory)
            #expect(bad.status == 401)
            #expect(bad.errorCode == 190)
            #expect((bad.json["error"] as? [String: Any])?["type"] as? String == "OAuthException")
            let good = try await Curl.run(Curl.sendArguments(url: url, token: "good-token", body: sendBody()), in: directory)
            #expect(good.status == 200, "\(good.body)")

            let otherURL = running.baseURL + "/v21.0/\(Self.other)/messages"
            let unregistered = try await Curl.run(Curl.sendArguments(url: otherURL, body: sendBody()), in: directory)
            #expect(unregistered.status == 401)
            #expect(unregistered.errorCode == 190)

            let put = try await Curl.run(
                ["-X", "PUT", "--data-binary", #"{"tier_mps":80,"access_token":"other-token"}"#, running.baseURL + "/__mock/senders/\(Self.other)"],
                in: directory
            )
            #expect(put.status == 200, "\(put.body)")
            #expect(put.json["tier_mps"] as? Double == 80)
            #expect(endpoint.senders()[Self.other] == MockSender(tierMessagesPerSecond: 80, accessToken: "other-token"))
            let registered = try await Curl.run(Curl.sendArguments(url: otherURL, token: "other-token", body: sendBody()), in: directory)
            #expect(registered.status == 200, "\(registered.body)")

            let badPut = try await Curl.run(
                ["-X", "PUT", "--data-binary", #"{"tier_mps":0}"#, running.baseURL + "/__mock/senders/\(Self.other)"],
                in: directory
            )
            #expect(badPut.status == 400)
            #expect(badPut.errorMessage.contains("tier_mps"))

            let stats = endpoint.stats()
            #expect(stats.arrivals == 2)
            #expect(stats.errors == [190: 2])
            #expect(stats.errorsPerSender == [Self.sender: [190: 1], Self.other: [190: 1]])
        }
    }

    @Test func swiftRegistrationValidates() async throws {
        let endpoint = MockEndpoint(configuration: MockConfiguration(certificateDirectory: "/nonexistent"), logger: Logger(label: "t"))
        #expect(throws: MockError.self) { try endpoint.register(phoneNumberID: "abc", sender: MockSender()) }
        #expect(throws: MockError.self) {
            try endpoint.register(phoneNumberID: "1", sender: MockSender(tierMessagesPerSecond: 0.5))
        }
        try endpoint.register(phoneNumberID: "1", sender: MockSender(tierMessagesPerSecond: 20))
        #expect(endpoint.senders() == ["1": MockSender(tierMessagesPerSecond: 20)])
    }

    @Test func throughputOverTierGets130429() async throws {
        let tier = 5
        let extra = 5
        try await withConfiguredEndpoint({ configuration in
            configuration.pairLimit = false
            configuration.senders[Self.sender] = MockSender(tierMessagesPerSecond: Double(tier))
        }) { endpoint, running, directory in
            // One curl process, one keep-alive connection, requests back to back.
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages?i=[1-\(tier + extra)]"
            let started = ContinuousClock.now
            let burst = try await Curl.run(["-o", "/dev/null"] + Curl.sendArguments(url: url, body: sendBody()), in: directory)
            let elapsed = ContinuousClock.now - started
            #expect(burst.exitCode == 0, "\(burst.stderr)")
            let stats = endpoint.stats()
            #expect(stats.arrivals + (stats.errors[130_429] ?? 0) == tier + extra)
            #expect(stats.arrivals >= tier)
            if elapsed < .milliseconds(900) {
                // The whole burst fell inside one second: exactly the tier got through.
                #expect(stats.arrivals == tier)
                #expect(stats.errors == [130_429: extra])
                #expect(stats.errorsPerSender[Self.sender]?[130_429] == extra)
                let refused = try await Curl.run(Curl.sendArguments(url: running.baseURL + "/v21.0/\(Self.sender)/messages", body: sendBody()), in: directory)
                if ContinuousClock.now - started < .milliseconds(950) {
                    #expect(refused.status == 400)
                    #expect(refused.errorCode == 130_429)
                    #expect(refused.errorMessage == "(#130429) Rate limit hit")
                }
            }
            // Every accepted arrival has left the window a second later.
            try await Task.sleep(for: .milliseconds(1_100))
            let after = try await Curl.run(Curl.sendArguments(url: running.baseURL + "/v21.0/\(Self.sender)/messages", body: sendBody()), in: directory)
            #expect(after.status == 200, "\(after.body)")
        }
    }

    @Test func pairLimitGets131056() async throws {
        try await withConfiguredEndpoint({ configuration in
            configuration.senders[Self.sender] = MockSender()
        }) { endpoint, running, directory in
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages"
            var statuses: [Int] = []
            for _ in 0..<(SenderBook.pairBurst + 1) {
                statuses.append(try await Curl.run(Curl.sendArguments(url: url, body: sendBody(to: "15550000001")), in: directory).status)
            }
            #expect(statuses == Array(repeating: 200, count: SenderBook.pairBurst) + [400])
            let limited = try await Curl.run(Curl.sendArguments(url: url, body: sendBody(to: "+15550000001")), in: directory)
            #expect(limited.errorCode == 131_056)
            let otherRecipient = try await Curl.run(Curl.sendArguments(url: url, body: sendBody(to: "15550000002")), in: directory)
            #expect(otherRecipient.status == 200)
            // Unregistered numbers are not pair-limited (non-strict mode).
            let unregisteredURL = running.baseURL + "/v21.0/\(Self.other)/messages"
            for _ in 0..<(SenderBook.pairBurst + 1) {
                #expect(try await Curl.run(Curl.sendArguments(url: unregisteredURL, body: sendBody(to: "15550000001")), in: directory).status == 200)
            }
            #expect(endpoint.stats().errors == [131_056: 2])
        }
    }

    @Test func templatesAreChecked() async throws {
        try await withConfiguredEndpoint({ configuration in
            configuration.templates = ["order_update": 2]
        }) { endpoint, running, directory in
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages"
            let unknown = try await Curl.run(Curl.sendArguments(url: url, body: templateBody(name: "nope", parameters: 2)), in: directory)
            #expect(unknown.status == 400)
            #expect(unknown.errorCode == 132_001)
            let wrongCount = try await Curl.run(Curl.sendArguments(url: url, body: templateBody(name: "order_update", parameters: 1)), in: directory)
            #expect(wrongCount.status == 400)
            #expect(wrongCount.errorCode == 132_000)
            let good = try await Curl.run(Curl.sendArguments(url: url, body: templateBody(name: "order_update", parameters: 2)), in: directory)
            #expect(good.status == 200, "\(good.body)")
            let text = #"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#
            #expect(try await Curl.run(Curl.sendArguments(url: url, body: text), in: directory).status == 200)
            let invalid = try await Curl.run(Curl.sendArguments(url: url, body: #"{"messaging_product":"whatsapp","to":"x","type":"text","text":{}}"#), in: directory)
            #expect(invalid.status == 400)
            #expect(invalid.errorCode == 131_009)
            let missing = try await Curl.run(Curl.sendArguments(url: url, body: #"{"messaging_product":"whatsapp","type":"text","text":{}}"#), in: directory)
            #expect(missing.status == 400)
            #expect(missing.errorCode == 131_008)
            let unknownType = try await Curl.run(Curl.sendArguments(url: url, body: #"{"messaging_product":"whatsapp","to":"1","type":"fax","fax":{}}"#), in: directory)
            #expect(unknownType.status == 400)
            #expect(unknownType.errorCode == 100)

            let stats = try await Curl.run([running.baseURL + "/__mock/stats"], in: directory)
            #expect(stats.json["arrivals"] as? Int == 2)
            #expect((stats.json["per_sender"] as? [String: Any])?[Self.sender] as? Int == 2)
            let errors = stats.json["errors"] as? [String: Int]
            let expected = ["132001": 1, "132000": 1, "131009": 1, "131008": 1, "100": 1]
            #expect(errors == expected)
            #expect((stats.json["errors_per_sender"] as? [String: [String: Int]])?[Self.sender] == expected)
            #expect(endpoint.stats().errors == [132_001: 1, 132_000: 1, 131_009: 1, 131_008: 1, 100: 1])
        }
    }
}

@Suite("Fault injection over real sockets", .timeLimit(.minutes(1)))
struct FaultInjectionTests {
    static let sender = "106540352242922"

    private func profile(_ change: (inout FaultProfile) -> Void) -> FaultProfile {
        var profile = FaultProfile()
        profile.seed = 7
        change(&profile)
        return profile
    }

    @Test func serverErrors() async throws {
        try await withConfiguredEndpoint({ $0.faults = profile { $0.serverErrorShare = 1 } }) { endpoint, running, directory in
            let url = running.baseURL + "/v21.0/\(Self.sender)/messages"
            for _ in 0..<4 {
                let result = try await Curl.run(Curl.sendArguments(url: url, body: sendBody()), in: directory)
                #expect([500, 503].contains(result.status))
                #expect([1, 2].contains(result.errorCode ?? 0), "\(result.body)")
                #expect((result.json["error"] as? [String: Any])?["fbtrace_id"] is String)
            }
            let stats = endpoint.stats()
            #expect(stats.arrivals == 0)
            #expect((stats.errors[1] ?? 0) + (stats.errors[2] ?? 0) == 4)
        }
    }

    @Test func injectedErrorCode() async throws {
        try await withConfiguredEndpoint({ $0.faults = profile { $0.errorMix = [.init(code: 131_026, share: 1)] } }) { endpoint, running, directory in
            let result = try await Curl.run(Curl.sendArguments(url: running.baseURL + "/v21.0/\(Self.sender)/messages", body: sendBody()), in: directory)
            #expect(result.status == 400)
            #expect(result.errorCode == 131_026)
            #expect(endpoint.stats().errors == [131_026: 1])
            #expect(endpoint.recorder.count == 0)
        }
    }

    @Test(arguments: [false, true]) func hangOutlastsTheClientTimeout(tls: Bool) async throws {
        try await withConfiguredEndpoint(tls: tls, {
            $0.faults = profile {
                $0.hangShare = 1
                $0.hangMilliseconds = 1_500
            }
        }) { endpoint, running, directory in
            let tlsArguments = running.caFile.map { ["--cacert", $0, "--http2"] } ?? []
            let result = try await Curl.run(
                tlsArguments + ["--max-time", "0.5"]
                    + Curl.sendArguments(url: running.baseURL + "/v21.0/\(Self.sender)/messages", body: sendBody()),
                in: directory
            )
            // 28: operation timed out.
            #expect(result.exitCode == 28, "\(result.stderr)")
            #expect(endpoint.stats().hangs == 1)
            #expect(endpoint.recorder.count == 0)
        }
    }

    @Test(arguments: [false, true]) func resetClosesWithoutAnswer(tls: Bool) async throws {
        try await withConfiguredEndpoint(tls: tls, { $0.faults = profile { $0.resetShare = 1 } }) { endpoint, running, directory in
            let tlsArguments = running.caFile.map { ["--cacert", $0, "--http2"] } ?? []
            let result = try await Curl.run(
                tlsArguments + Curl.sendArguments(url: running.baseURL + "/v21.0/\(Self.sender)/messages", body: sendBody()),
                in: directory
            )
            // 52 empty reply, 56 recv failure, 16/92 HTTP/2 stream errors: all "no answer".
            #expect(result.exitCode != 0, "\(result.body)")
            #expect(result.status == 0)
            #expect(endpoint.stats().resets == 1)
            #expect(endpoint.recorder.count == 0)
        }
    }

    @Test func latencyIsApplied() async throws {
        try await withConfiguredEndpoint({ $0.faults = profile { $0.latency = .fixed(milliseconds: 300) } }) { _, running, directory in
            let started = ContinuousClock.now
            let result = try await Curl.run(Curl.sendArguments(url: running.baseURL + "/v21.0/\(Self.sender)/messages", body: sendBody()), in: directory)
            #expect(result.status == 200)
            #expect(ContinuousClock.now - started >= .milliseconds(300))
        }
    }
}
