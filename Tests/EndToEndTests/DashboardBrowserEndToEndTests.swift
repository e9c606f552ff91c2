import Foundation
import Testing

/// The dashboard in a real browser: `scripts/dashboard-check.py` drives headless Chromium
/// (Debian's, through Debian's chromedriver, with selenium from `.venv-ci/`) against the
/// built `sluice serve`, whose mock endpoint fails a fifth of the sends with 131026.
/// Skipped where those are not installed, except under CI, where `scripts/bootstrap`
/// installs them and the test must run.
@Suite struct DashboardBrowserEndToEndTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let python = root + "/.venv-ci/bin/python"
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    /// What is missing to run the browser, in words; empty when nothing is.
    static var missing: [String] {
        var missing: [String] = []
        let fm = FileManager.default
        if !fm.isExecutableFile(atPath: chromium) { missing.append(chromium + " (apt chromium)") }
        if !fm.isExecutableFile(atPath: chromedriver) { missing.append(chromedriver + " (apt chromium-driver)") }
        let packages = (try? fm.contentsOfDirectory(atPath: root + "/.venv-ci/lib")) ?? []
        let selenium = packages.contains { fm.fileExists(atPath: root + "/.venv-ci/lib/\($0)/site-packages/selenium/__init__.py") }
        if !fm.isExecutableFile(atPath: python) || !selenium { missing.append("selenium in .venv-ci/") }
        return missing
    }

    static var runs: Bool { missing.isEmpty || ProcessInfo.processInfo.environment["CI"] == "true" }
    static var skipReason: Comment { Comment(rawValue: "the browser test needs \(missing.joined(separator: ", ")): run scripts/bootstrap") }

    @Test(.enabled(if: runs, skipReason), .timeLimit(.minutes(5)))
    func theDashboardShowsTheCampaignItsFailuresAndTheNumbersChart() async throws {
        #expect(Self.missing.isEmpty, "under CI the browser must be installed: \(Self.missing)")
        let e2e = DispatchEndToEndTests()
        let port = try freeLoopbackPort()
        let secret = "app-secret-dashboard"
        let stack = try await e2e.startMock("dashboard", extra: [
            "--error-share", "131026=0.2", "--fault-seed", "16",
            "--webhook-url", "http://127.0.0.1:\(port)/webhooks/whatsapp", "--app-secret", secret,
            "--webhook-delays-ms", "10,50,100",
        ])
        // Now and then a send's HTTP/2 stream ends unclean at the mock ("curl 18") and the
        // message is in doubt: settled (resent) after 3 s rather than the default 10 min,
        // so that the campaign ends within the test.
        let (serve, api) = try await stack.serve(["--in-doubt-settle", "3"], port: port)
        let sender = "1065000016"
        try await e2e.putSender(api, sender, tier: 40, appSecret: secret)
        // Paced over several seconds, so that the number's chart has a few points to draw.
        let recipients = (0..<200).map { #"{"to":"\#(966_560_000_000 + $0)","params":["n\#($0)"],"external_id":"crm-\#($0)"}"# }
        let body = #"{"sender":"\#(sender)","name":"Autumn sale","labels":["promo","eu"],"message":{"type":"text","text":{"body":"Hi {{1}}"}},"recipients":[\#(recipients.joined(separator: ","))]}"#
        let posted = try await http("POST", "\(api)/v1/campaigns", key: DispatchEndToEndTests.adminKey, json: body)
        try #require(posted.status == 202, "POST campaign: \(posted.status) \(posted.body)")
        let campaign = try #require(try jsonObject(posted.body)["id"] as? String)

        // Screenshots stay under .build/, out of the tree CI checks out.
        let screenshots = Self.root + "/.build/dashboard-check"
        let result = try await runToEnd(
            "/usr/bin/timeout", ["--kill-after=10", "240", Self.python, Self.root + "/scripts/dashboard-check.py",
                                 "--url", api, "--key", DispatchEndToEndTests.adminKey, "--campaign", campaign, "--sender", sender,
                                 "--screenshots", screenshots],
            mergeErrors: true)
        print(result.output)
        let final = try await http("GET", "\(api)/v1/campaigns/\(campaign)", key: DispatchEndToEndTests.adminKey).body
        #expect(result.status == 0, "scripts/dashboard-check.py exited \(result.status):\n\(result.output.suffix(6000))\ncampaign: \(final)\nserve: \(serve.stderrTail())")
        #expect(result.output.contains("dashboard-check: every check passed"))
        for name in ["campaigns.png", "numbers.png", "campaign.png"] {
            #expect(FileManager.default.fileExists(atPath: "\(screenshots)/\(name)"), "\(name) saved")
        }
        // A stream still open at shutdown ends cleanly (the chunked body is finished) and
        // does not hold serve up.
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        listener.arguments = ["-sSN", "--max-time", "60", "-o", "/dev/null", "-H", "Authorization: Bearer \(DispatchEndToEndTests.adminKey)", "\(api)/v1/stream"]
        try listener.run()
        try await Task.sleep(for: .seconds(2))
        #expect(await serve.stop() == 0, "serve stops cleanly with a stream open: \(serve.stderrTail())")
        let deadline = Date().addingTimeInterval(10)
        while listener.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if listener.isRunning { listener.terminate() }
        #expect(!listener.isRunning && listener.terminationStatus == 0, "the stream ended with its body finished (curl exit \(listener.terminationStatus))")
        await stack.mock.stop()
        try? FileManager.default.removeItem(atPath: stack.root)
    }
}
