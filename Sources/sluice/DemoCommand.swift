import ArgumentParser
import Foundation
import Logging
import SluiceCore
import SluiceEngine
import SluiceMock

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start a mock Cloud API endpoint and the dispatcher in one process, send a campaign from two senders at different tiers, and show the pacing as the endpoint saw it."
    )

    @Option(help: "How long each campaign should take at its sender's tier, in seconds.")
    var seconds = 8
    @Option(name: .customLong("tiers"), help: "Tiers of the two demo senders in messages per second, comma-separated.")
    var tiers = "80,250"
    @Option(name: .customLong("data-dir"), help: "Journal directory (default: a fresh temporary directory, removed afterwards).")
    var dataDir: String?

    func run() async throws {
        guard (1...120).contains(seconds) else { throw ValidationError("seconds must be between 1 and 120") }
        let tierValues = try tiers.split(separator: ",").map { part -> Double in
            guard let t = Double(part.trimmingCharacters(in: .whitespaces)), CampaignIntake.tierRange.contains(t) else {
                throw ValidationError("tiers must be numbers between 1 and 1000, got '\(part)'")
            }
            return t
        }
        guard !tierValues.isEmpty, tierValues.count <= 8 else { throw ValidationError("give 1 to 8 tiers") }

        var logger = Logger(label: "sluice.demo")
        logger.logLevel = .warning
        let temporary = dataDir == nil
        let root = dataDir ?? (NSTemporaryDirectory() + "sluice-demo-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if temporary { try? FileManager.default.removeItem(atPath: root) } }

        say("Sluice demo: a mock WhatsApp Cloud API endpoint (TLS) and the dispatcher, in one process, on loopback.")
        let mock = MockEndpoint(configuration: MockConfiguration(certificateDirectory: root + "/mock"), logger: logger)
        let running = try await mock.start()
        say("  mock endpoint   \(running.baseURL)")

        var engine = EngineConfiguration(dataDirectory: root)
        engine.graphURL = running.baseURL
        engine.transport.caFile = running.caFile
        let dispatcher = try Dispatcher(configuration: engine, logger: logger)
        say("  journal         \(root)/journal (LMDB, durable group commit)")

        struct Lane {
            var phoneNumberID: String
            var tier: Double
            var campaign: CampaignID
            var total: Int
        }
        var lanes: [Lane] = []
        let message = Array(#"{"type":"text","text":{"body":"Hello {{1}}, your order {{2}} has shipped."}}"#.utf8)
        for (i, tier) in tierValues.enumerated() {
            let phone = "10650000000\(i + 1)"
            try await dispatcher.putSender(phoneNumberID: phone, tierMessagesPerSecond: tier, accessToken: "demo-token-\(i + 1)")
            let count = Int(tier) * seconds
            let recipients = (0..<count).map { n in
                RecipientInput(to: String(966_500_000_000 + i * 10_000_000 + n), params: ["customer \(n)", "#\(10_000 + n)"])
            }
            let receipt = try await dispatcher.submitCampaign(senderPhoneNumberID: phone, messageObject: message, recipients: recipients)
            lanes.append(Lane(phoneNumberID: phone, tier: tier, campaign: receipt.id, total: receipt.accepted))
            say("  sender \(phone) at \(Int(tier)) msg/s: campaign \(receipt.id) with \(receipt.accepted) messages journaled")
        }
        say("")

        let display = ProgressDisplay()
        let started = Date()
        let deadline = started.addingTimeInterval(Double(seconds) * 3 + 30)
        var previous: [String: (count: Int, at: Date)] = [:]
        var allDone = false
        while !allDone && Date() < deadline {
            try await Task.sleep(for: .milliseconds(250))
            let perSender = mock.recorder.counts()
            let now = Date()
            var lines: [String] = []
            allDone = true
            for lane in lanes {
                let progress = try dispatcher.campaignProgress(lane.campaign)
                let arrived = perSender[lane.phoneNumberID] ?? 0
                let last = previous[lane.phoneNumberID] ?? (0, started)
                let rate = now.timeIntervalSince(last.at) > 0 ? Double(arrived - last.count) / now.timeIntervalSince(last.at) : 0
                previous[lane.phoneNumberID] = (arrived, now)
                if progress?.state != "done" { allDone = false }
                let fraction = Double(progress?.sent ?? 0) / Double(max(lane.total, 1))
                lines.append(
                    "  \(lane.phoneNumberID) \(ProgressDisplay.bar(fraction)) \(pad(String(progress?.sent ?? 0), 6, right: true))/\(lane.total)"
                        + (progress?.state == "done" ? "   done      " : "  \(pad(String(format: "%.0f", rate), 5, right: true)) msg/s")
                        + " (tier \(Int(lane.tier)))"
                        + "  failed \(progress?.failed ?? 0)  in flight \(progress?.inFlight ?? 0)")
            }
            display.draw(lines, force: allDone)
        }

        let finals = try lanes.map { try dispatcher.campaignProgress($0.campaign) }
        await dispatcher.shutdown()
        let arrivals = mock.recorder.snapshot()
        await mock.stop()

        say("")
        say("Summary, as the endpoint saw it (WhatsApp counts at its end):")
        say("  sender           tier   sent  arrived  mean rate  of tier  most in any 1 s")
        var broken = false
        for (lane, progress) in zip(lanes, finals) {
            let times = arrivals.filter { $0.phoneNumberID == lane.phoneNumberID }.map(\.timeNanoseconds).sorted()
            let mean = ArrivalWindow.meanRate(sortedTimes: times) ?? 0
            let peak = ArrivalWindow.maxCount(sortedTimes: times)
            let ok = times.count == lane.total && peak <= Int(lane.tier)
            if !ok { broken = true }
            say(
                "  \(pad(lane.phoneNumberID, 15)) \(pad(String(Int(lane.tier)), 5, right: true)) \(pad(String(progress?.sent ?? 0), 6, right: true))"
                    + " \(pad(String(times.count), 8, right: true)) \(pad(String(format: "%.1f/s", mean), 10, right: true))"
                    + " \(pad(String(format: "%.1f%%", 100 * mean / lane.tier), 8, right: true)) \(pad(String(peak), 16, right: true))"
                    + (ok ? "" : "  <- check"))
        }
        say(String(format: "  wall time %.1f s", Date().timeIntervalSince(started)))
        if broken { throw ExitCode(1) }
    }
}
