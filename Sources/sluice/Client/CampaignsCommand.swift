import ArgumentParser
import Foundation

struct CampaignsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaigns",
        abstract: "List campaigns on a running server with their progress.",
        subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Campaigns in id order (all pages), optionally in one state.")
        @OptionGroup var client: ClientOptions
        @Option(help: "receiving, active, done or cancelled.") var state: String?
        @Option(help: "At most this many.") var limit = 1_000

        func run() async throws {
            let api = try client.client()
            var all: [[String: Any]] = []
            var after: String?
            repeat {
                var query = "limit=\(min(500, max(1, limit - all.count)))"
                if let state { query += "&state=\(try pathSegment(state))" }
                if let after { query += "&after=\(after)" }
                let page = try await api.call(.GET, "/v1/campaigns?" + query) as? [String: Any] ?? [:]
                all += page["campaigns"] as? [[String: Any]] ?? []
                after = page["next"] as? String
            } while after != nil && all.count < limit
            if client.json { return APIClient.printJSON(["campaigns": all]) }
            let rows = all.map { c -> [String] in
                let counts = c["counts"] as? [String: Any] ?? [:]
                return [cell(c["id"]), cell(c["sender"]), cell(c["state"]), cell(c["total"]), cell(counts["queued"]), cell(counts["sent"]),
                        cell(counts["delivered"]), cell(counts["failed"])]
            }
            for line in table(["ID", "SENDER", "STATE", "TOTAL", "QUEUED", "SENT", "DELIVERED", "FAILED"], rows) { say(line) }
        }
    }
}
