import ArgumentParser
import Foundation

struct CampaignsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaigns",
        abstract: "List, pause, resume, cancel and retry campaigns on a running server; list or export their messages.",
        subcommands: [List.self, Pause.self, Resume.self, Cancel.self, Messages.self, Export.self, Retry.self]
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
        @Option(help: "Only campaigns with this label.") var label: String?
        @Option(help: "Only campaigns whose name contains this (case-insensitive).") var name: String?

        func run() async throws {
            let api = try client.client()
            var all: [[String: Any]] = []
            var after: String?
            repeat {
                var query = "limit=\(min(500, max(1, limit - all.count)))"
                if let state { query += "&state=\(try pathSegment(state))" }
                if let label { query += "&" + SubmitCommand.query([("label", label)]) }
                if let name { query += "&" + SubmitCommand.query([("name", name)]) }
                if let after { query += "&after=\(after)" }
                let page = try await api.call(.GET, "/v1/campaigns?" + query) as? [String: Any] ?? [:]
                all += page["campaigns"] as? [[String: Any]] ?? []
                after = page["next"] as? String
            } while after != nil && all.count < limit
            if client.json { return APIClient.printJSON(["campaigns": all]) }
            let rows = all.map { c -> [String] in
                let counts = c["counts"] as? [String: Any] ?? [:]
                return [cell(c["id"]), cell(c["name"]), cell(c["sender"]), cell(c["state"]), cell(c["priority"]), cell(c["total"]), cell(counts["queued"]),
                        cell(counts["sent"]), cell(counts["delivered"]), cell(counts["failed"]), cell(c["send_rate"])]
            }
            for line in table(["ID", "NAME", "SENDER", "STATE", "PRIORITY", "TOTAL", "QUEUED", "SENT", "DELIVERED", "FAILED", "MSG/S"], rows) { say(line) }
        }
    }

    /// `--state failed,unknown --code 131026` as the messages query.
    struct MessageFilterOptions: ParsableArguments {
        @Option(help: "Comma-separated message states (queued, in_flight, sent, retry_at, failed, in_doubt, delivered, read, unknown, expired, cancelled, suppressed).")
        var state: String?
        @Option(help: "Comma-separated error codes.") var code: String?

        var items: [(String, String)] { [("state", state), ("code", code)].compactMap { name, value in value.map { (name, $0) } } }
    }

    struct Messages: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A campaign's messages and their fate: state, error, wamid and times (all pages, or --limit).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The campaign id.") var id: String
        @OptionGroup var filter: MessageFilterOptions
        @Option(help: "At most this many.") var limit = 1_000

        func run() async throws {
            let api = try client.client()
            let path = "/v1/campaigns/\(try pathSegment(id))/messages"
            var all: [[String: Any]] = []
            var cursor: String?
            repeat {
                var items = filter.items + [("limit", String(min(1_000, max(1, limit - all.count))))]
                if let cursor { items.append(("cursor", cursor)) }
                let page = try await api.call(.GET, path + "?" + SubmitCommand.query(items)) as? [String: Any] ?? [:]
                all += page["messages"] as? [[String: Any]] ?? []
                cursor = page["next_cursor"] as? String
            } while cursor != nil && all.count < limit
            if client.json { return APIClient.printJSON(["messages": all]) }
            let rows = all.map { m -> [String] in
                let error = m["error"] as? [String: Any]
                return [cell(m["id"]), cell(m["to"]), cell(m["external_id"]), cell(m["state"]), cell(m["attempts"]), cell(error?["code"]),
                        cell(error?["message"]), cell(m["ended_at"] is String ? m["ended_at"] : m["sent_at"])]
            }
            for line in table(["ID", "TO", "EXTERNAL ID", "STATE", "ATTEMPTS", "CODE", "ERROR", "LAST CHANGE"], rows) { say(line) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A campaign's messages as CSV on stdout, streamed (redirect it to a file).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The campaign id.") var id: String
        @OptionGroup var filter: MessageFilterOptions

        func run() async throws {
            let query = filter.items.isEmpty ? "" : "?" + SubmitCommand.query(filter.items)
            try await client.client().download("/v1/campaigns/\(try pathSegment(id))/messages.csv" + query, to: STDOUT_FILENO)
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A new campaign of the recipients that did not get through: failed and unknown by default.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The campaign id.") var id: String
        @Option(help: "Comma-separated: failed, unknown, expired, cancelled.") var states = "failed,unknown"
        @Option(help: "Comma-separated error codes (default: any).") var codes: String?
        @Option(name: .customLong("idempotency-key"), help: "Retrying again with the same key returns the first answer and creates nothing.")
        var idempotencyKey: String?

        func validate() throws {
            guard codes?.split(separator: ",", omittingEmptySubsequences: false).allSatisfy({ Int32($0) != nil }) ?? true else {
                throw ValidationError("--codes must be comma-separated integers, got '\(codes ?? "")'")
            }
        }

        func run() async throws {
            var body: [String: Any] = ["states": states.split(separator: ",").map(String.init)]
            if let codes { body["codes"] = codes.split(separator: ",").compactMap { Int32($0) }.map(Int.init) }
            let answer = try await client.client().call(.POST, "/v1/campaigns/\(try pathSegment(id))/retry", json: body, idempotencyKey: idempotencyKey) as? [String: Any] ?? [:]
            if client.json { return APIClient.printJSON(answer) }
            say("campaign \(cell(answer["id"])) retries \(cell(answer["accepted"])) recipient(s) of campaign \(id)")
        }
    }
}
