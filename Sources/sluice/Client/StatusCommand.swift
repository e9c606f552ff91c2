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
        // On a terminal the block is redrawn in place; on a pipe every update is printed.
        let display = ProgressDisplay(pipeIntervalSeconds: 0)
        while true {
            let answer = try await api.call(.GET, path) as? [String: Any] ?? [:]
            if client.json {
                APIClient.printJSON(answer)
            } else if follow {
                display.draw(lines(answer))
            } else {
                for line in lines(answer) { say(line) }
            }
            let done = ["done", "cancelled"].contains(answer["state"] as? String ?? "") && (answer["unsent"] as? NSNumber)?.intValue ?? 0 == 0
            guard follow, !done, Date().timeIntervalSince(started) < Double(maxSeconds) else { break }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The campaign's headline, then one bar per state.
    func lines(_ answer: [String: Any]) -> [String] {
        let counts = answer["counts"] as? [String: Any] ?? [:]
        let total = max((answer["total"] as? NSNumber)?.doubleValue ?? 0, 1)
        let rate = (answer["send_rate"] as? NSNumber).map { String(format: "  %.0f msg/s", $0.doubleValue) } ?? ""
        var eta = ""
        if let seconds = (answer["eta_seconds"] as? NSNumber)?.doubleValue { eta = "  ETA " + Self.duration(seconds) }
        if let waiting = answer["waiting_for"] as? String { eta += "  (waiting: \(waiting.replacingOccurrences(of: "_", with: " ")))" }
        var lines = ["campaign \(cell(answer["id"])) \(cell(answer["state"])) [\(cell(answer["priority"]))]: \(cell(answer["total"])) messages\(rate)\(eta)"]
        for state in ["queued", "in_flight", "sent", "delivered", "read", "failed", "in_doubt", "unknown", "expired", "cancelled", "suppressed"] {
            let n = (counts[state] as? NSNumber)?.doubleValue ?? 0
            lines.append("  " + state.padding(toLength: 11, withPad: " ", startingAt: 0) + bar(n / total) + " " + cell(counts[state]))
        }
        return lines
    }

    /// `1 h 05 min`, `4 min 10 s`, `12 s`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s >= 3600 { return String(format: "%d h %02d min", s / 3600, s % 3600 / 60) }
        if s >= 60 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return "\(s) s"
    }

    /// A 30-cell bar for a fraction.
    func bar(_ fraction: Double) -> String {
        let cells = 30
        let filled = Int((min(max(fraction, 0), 1) * Double(cells)).rounded())
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled) + "]"
    }
}
