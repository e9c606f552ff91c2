import Foundation
import Testing

/// `serve` against a mock that misbehaves the way the fault profiles describe: 5xx
/// answers, hangs past the request timeout, connection resets, 130429 storms and a
/// permanent error code, with status webhooks on. Judged from the endpoint's record and
/// the journal itself.
@Suite(.serialized) struct FaultEndToEndTests {
    static let profile = """
        seed = 5
        server_error_share = 0.05
        hang_share = 0.02
        hang_ms = 2500
        reset_share = 0.01
        [[errors]]
        code = 131026
        share = 0.005
        [storm]
        every_ms = 3000
        duration_ms = 400
        """

    @Test func everyAcceptedMessageEndsSentOrFailedWithItsReason() async throws {
        let e2e = DispatchEndToEndTests()
        let port = try freeLoopbackPort()
        let secret = "app-secret-faults"
        let directory = try temporaryDirectory("faults-profile")
        let profilePath = directory + "/faults.toml"
        try Self.profile.write(toFile: profilePath, atomically: true, encoding: .utf8)
        let stack = try await e2e.startMock("faults", extra: [
            "--faults", profilePath,
            "--webhook-url", "http://127.0.0.1:\(port)/webhooks/whatsapp", "--app-secret", secret,
            "--webhook-delays-ms", "10,50,100",
        ])
        // A 1 s timeout turns each 2.5 s hang into an in-doubt message. Its status comes
        // well within the settle window, longer in a sanitized build (several times slower).
        let settle = ProcessInfo.processInfo.environment["SLUICE_SANITIZER"] == nil ? "4" : "12"
        let (serve, api) = try await stack.serve(["--request-timeout-ms", "1000", "--in-doubt-settle", settle], port: port)
        let sender = "1065000020"
        let total = 1_500
        try await e2e.putSender(api, sender, tier: 200, appSecret: secret)
        let campaign = try await e2e.postCampaign(api, sender: sender, count: total, firstRecipient: 966_530_000_000)
        #expect(campaign.accepted == total)
        try await e2e.waitUntilDone(api, campaigns: [campaign.id], timeoutSeconds: 150)

        let final = try jsonObject(try await http("GET", "\(api)/v1/campaigns/\(campaign.id)", key: DispatchEndToEndTests.adminKey).body)
        let counts = try #require(final["counts"] as? [String: Any])
        let sent = (counts["sent"] as? NSNumber)?.intValue ?? -1
        let failed = (counts["failed"] as? NSNumber)?.intValue ?? -1
        #expect(sent + failed == total, "every message ends sent or failed: \(counts)")

        let stats = try await jsonObject(try Self.mockGET(stack, "/__mock/stats"))
        let errors = try #require(stats["errors"] as? [String: Any])
        let count = { (code: String) in (errors[code] as? NSNumber)?.intValue ?? 0 }
        #expect(count("130429") > 0, "a storm was met: \(errors)")
        #expect(count("1") + count("2") > 0, "5xx were answered: \(errors)")
        #expect((stats["hangs"] as? NSNumber)?.intValue ?? 0 > 0)
        #expect((stats["resets"] as? NSNumber)?.intValue ?? 0 > 0)
        #expect(await serve.stop() == 0)
        await stack.mock.stop()

        // Anything left unfinished is named with its state and last error.
        let unfinished = try await Self.journalMessages(dataDirectory: stack.root + "/data", state: nil)
            .filter { !["sent", "delivered", "read", "failed"].contains($0["state"] as? String ?? "") }
        #expect(unfinished.isEmpty, "\(unfinished.prefix(5)); serve log: \(serve.stderrTail())")

        // Failed messages carry the code and text of what failed them.
        let lines = try await Self.journalMessages(dataDirectory: stack.root + "/data", state: "failed")
        #expect(lines.count == failed)
        for line in lines {
            #expect((line["error_code"] as? NSNumber)?.intValue ?? 0 != 0, "\(line)")
            #expect(!((line["error_message"] as? String) ?? "").isEmpty, "\(line)")
        }

        // Judged at the endpoint: every sent message arrived once, nothing else did.
        let sentIDs = try await Self.journalMessages(dataDirectory: stack.root + "/data", state: nil)
            .filter { ["sent", "delivered", "read"].contains($0["state"] as? String ?? "") }
            .compactMap { ($0["id"] as? NSNumber).map { String($0.uint64Value) } }
        #expect(sentIDs.count == sent)
        let callbacks = try readArrivals(stack.record).filter { $0.phoneNumberID == sender }.compactMap(\.callback)
        let distinct = Set(callbacks)
        print("faults: \(total) accepted, \(sent) sent, \(failed) failed; mock errors \(errors), hangs \(stats["hangs"] ?? 0), resets \(stats["resets"] ?? 0); lost \(Set(sentIDs).subtracting(distinct).count), duplicates \(callbacks.count - distinct.count)")
        #expect(distinct == Set(sentIDs), "lost: \(Set(sentIDs).subtracting(distinct).count), unexpected: \(distinct.subtracting(sentIDs).count)")
        #expect(callbacks.count == distinct.count, "in-doubt messages were settled by their statuses, none resent")
        try? FileManager.default.removeItem(atPath: stack.root)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `sluice journal messages --json`, parsed.
    static func journalMessages(dataDirectory: String, state: String?) async throws -> [[String: Any]] {
        var arguments = ["journal", "messages", "--data-dir", dataDirectory, "--limit", "1000000", "--json"]
        if let state { arguments += ["--state", state] }
        let output = try await run(try SluiceBinary.path(), arguments)
        return try output.split(separator: "\n").map { try jsonObject(String($0)) }
    }

    /// A GET to the mock's inspection API over its TLS, trusting its own certificate.
    static func mockGET(_ stack: DispatchEndToEndTests.Stack, _ path: String) async throws -> String {
        try await run("/usr/bin/curl", ["-sS", "--fail", "--max-time", "30", "--cacert", stack.root + "/mock/mock-cert.pem", stack.mockURL + path])
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let result = try await runToEnd(executable, arguments)
        guard result.status == 0 else {
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) exited \(result.status)")
        }
        return result.output
    }
}
