import ArgumentParser
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "A campaign's progress: messages per state, and with --follow a live view until it is done."
    )

    @OptionGroup var client: ClientOptions
    @Argument(help: "The campaign id.") var id: String
    @Flag(help: "Refresh every second until the campaign is done (or --max-seconds pass).") var follow = false
    @Option(name: .customLong("max-seconds"), help: "With --follow: stop after this long.") var maxSeconds = 86_400

    func run() async throws {
        let api = try client.client()
        let path = "/v1/campaigns/\(try pathSegment(id))"
        let started = Date()
        var last: (time: Date, sent: Double)?
        while true {
            let answer = try await api.call(.GET, path) as? [String: Any] ?? [:]
            if client.json {
                APIClient.printJSON(answer)
            } else {
                let counts = answer["counts"] as? [String: Any] ?? [:]
                let total = max((answer["total"] as? NSNumber)?.doubleValue ?? 0, 1)
                let sent = (counts["sent"] as? NSNumber)?.doubleValue ?? 0
                var rate = ""
                if let last, Date().timeIntervalSince(last.time) > 0 {
                    rate = String(format: "  %.0f msg/s", (sent - last.sent) / Date().timeIntervalSince(last.time))
                }
                last = (Date(), sent)
                say("campaign \(cell(answer["id"])) \(cell(answer["state"])): \(cell(answer["total"])) messages\(rate)")
                for state in ["queued", "in_flight", "sent", "delivered", "read", "failed", "in_doubt", "unknown"] {
                    let n = (counts[state] as? NSNumber)?.doubleValue ?? 0
                    say("  " + state.padding(toLength: 10, withPad: " ", startingAt: 0) + bar(n / total) + " " + cell(counts[state]))
                }
            }
            let done = answer["state"] as? String == "done"
            guard follow, !done, Date().timeIntervalSince(started) < Double(maxSeconds) else { break }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// A 30-cell bar for a fraction.
    func bar(_ fraction: Double) -> String {
        let cells = 30
        let filled = Int((min(max(fraction, 0), 1) * Double(cells)).rounded())
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled) + "]"
    }
}
