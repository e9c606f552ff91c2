import ArgumentParser
import Foundation

struct CampaignsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaigns",
        abstract: "List, pause, resume and cancel campaigns on a running server.",
        subcommands: [List.self, Pause.self, Resume.self, Cancel.self]
    )

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop sending a campaign until it is resumed; what is on the wire finishes.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The campaign id.") var id: String
        func run() async throws { try await change(client, id, "pause") }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a paused campaign again.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The campaign id.") var id: String
        func run() async throws { try await change(client, id, "resume") }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a campaign: what was not sent ends `cancelled` (kept and counted).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The campaign id.") var id: String
        func run() async throws { try await change(client, id, "cancel") }
    }

    static func change(_ client: ClientOptions, _ id: String, _ action: String) async throws {
        let answer = try await client.client().call(.POST, "/v1/campaigns/\(try pathSegment(id))/\(action)") as? [String: Any] ?? [:]
        if client.json { return APIClient.printJSON(answer) }
        let counts = answer["counts"] as? [String: Any] ?? [:]
        say("campaign \(cell(answer["id"])) is \(cell(answer["state"])): \(cell(answer["unsent"])) unsent, \(cell(counts["sent"])) sent, \(cell(counts["cancelled"])) cancelled")
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Campaigns in id order (all pages), optionally in one state.")
        @OptionGroup var client: ClientOptions
        @Option(help: "receiving, scheduled, active, paused, done or cancelled.") var state: String?
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
                return [cell(c["id"]), cell(c["sender"]), cell(c["state"]), cell(c["priority"]), cell(c["total"]), cell(counts["queued"]),
                        cell(counts["sent"]), cell(counts["delivered"]), cell(counts["failed"]), cell(c["send_rate"])]
            }
            for line in table(["ID", "SENDER", "STATE", "PRIORITY", "TOTAL", "QUEUED", "SENT", "DELIVERED", "FAILED", "MSG/S"], rows) { say(line) }
        }
    }
}
