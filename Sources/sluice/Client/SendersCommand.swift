import ArgumentParser
import Foundation
import NIOHTTP1

struct SendersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "senders",
        abstract: "List, register, pause and delete sending numbers on a running server.",
        subcommands: [List.self, SetSender.self, Pause.self, Resume.self, Delete.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every sender with its tier, live rate and pause state.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let answer = try await client.client().call(.GET, "/v1/senders")
            if client.json { return APIClient.printJSON(answer) }
            let senders = (answer as? [String: Any])?["senders"] as? [[String: Any]] ?? []
            let rows = senders.map { s in
                [cell(s["phone_number_id"]), cell(s["tier_mps"]), cell(s["effective_mps"]), cell(s["in_flight"]),
                 limitCell(s), cell(s["paused"]), cell(s["pause_reason"])]
            }
            for line in table(["SENDER", "TIER", "RATE", "IN FLIGHT", "RECIPIENTS 24H", "PAUSED", "REASON"], rows) { say(line) }
        }

        /// `812/2000`, `812/2000 until 14:05:00` while capped, `-` when unlimited.
        func limitCell(_ s: [String: Any]) -> String {
            guard let limit = s["messaging_limit"] as? Int else { return "-" }
            var text = "\(cell(s["unique_recipients_24h"]))/\(limit)"
            if let group = s["group"] as? String { text += " (\(group))" }
            if let until = s["limited_until"] as? String { text += " until \(until)" }
            return text
        }
    }

    struct SetSender: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Register a sender (--tier and --token: PUT, lifts a pause) or change any of its settings alone (PATCH: the rest, and a pause, stay).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The WhatsApp phone_number_id.") var id: String
        @Option(help: "Rate tier in messages per second (1–1000).") var tier: Double?
        @Option(help: "Messages that may go back to back after an idle period (default: 1 when registering, else unchanged).") var burst: Int?
        @Option(help: "The Cloud API access token for this number (default: $SLUICE_SENDER_TOKEN).") var token: String?
        @Option(name: .customLong("app-secret"), help: "The Meta app secret that signs this number's webhooks.") var appSecret: String?
        @Option(name: .customLong("messaging-limit"), help: "Unique recipients per rolling 24 h: 250, 2000, 10000, 100000 or unlimited (default: unchanged).")
        var messagingLimit: String?
        @Option(help: "Sender group sharing one messaging-limit window, or 'none' for the sender alone (default: unchanged).") var group: String?
        @Option(
            name: .customLong("customer-window"),
            help: "enforce: a free-form message to a contact that wrote nothing in 24 h ends failed (131047) without a request; off: sent as given (default: unchanged).")
        var customerWindow: CustomerWindow?

        enum CustomerWindow: String, ExpressibleByArgument, CaseIterable {
            case enforce, off
        }

        func validate() throws {
            _ = try pathSegment(id)
            if let messagingLimit, messagingLimit != "unlimited", Int(messagingLimit) == nil {
                throw ValidationError("--messaging-limit must be 250, 2000, 10000, 100000 or unlimited")
            }
            guard !body(token: token ?? ProcessInfo.processInfo.environment["SLUICE_SENDER_TOKEN"]).isEmpty else {
                throw ValidationError("nothing to set: give --tier and --token to register the sender, or the settings to change")
            }
        }

        /// The fields given, as the API names them.
        func body(token: String?) -> [String: Any] {
            var body: [String: Any] = [:]
            if let tier { body["tier_mps"] = tier }
            if let burst { body["burst"] = burst }
            if let token { body["access_token"] = token }
            if let appSecret { body["app_secret"] = appSecret }
            if let messagingLimit { body["messaging_limit"] = Int(messagingLimit).map { $0 as Any } ?? messagingLimit }
            if let group { body["group"] = group == "none" ? NSNull() : group }
            if let customerWindow { body["customer_window"] = customerWindow.rawValue }
            return body
        }

        func run() async throws {
            let token = token ?? ProcessInfo.processInfo.environment["SLUICE_SENDER_TOKEN"]
            let body = body(token: token)
            // Both tier and token: the whole sender (a registration). Otherwise only what
            // was given, to a sender that exists.
            let method: HTTPMethod = tier != nil && token != nil ? .PUT : .PATCH
            let api = try client.client()
            let answer: [String: Any]?
            do {
                answer = try await api.call(method, "/v1/senders/\(try pathSegment(id))", json: body) as? [String: Any]
            } catch let error as APICallError where method == .PATCH && error.description.contains("404") {
                throw APICallError(description: "sender \(id) is not registered: give --tier and --token to register it")
            }
            if client.json { return APIClient.printJSON(answer) }
            var line = "sender \(id): tier \(cell(answer?["tier_mps"])) msg/s"
            if customerWindow != nil { line += ", customer window \(cell(answer?["customer_window"]))" }
            say(line)
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop sending for a number; its messages wait.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The WhatsApp phone_number_id.") var id: String
        @Option(help: "Why, shown in the API and the list.") var reason: String?

        func run() async throws {
            let answer = try await client.client().call(.POST, "/v1/senders/\(try pathSegment(id))/pause", json: reason.map { ["reason": $0] } ?? [:])
            if client.json { return APIClient.printJSON(answer) }
            say("sender \(id) paused: \(cell((answer as? [String: Any])?["pause_reason"]))")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume sending for a paused number.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The WhatsApp phone_number_id.") var id: String

        func run() async throws {
            let answer = try await client.client().call(.POST, "/v1/senders/\(try pathSegment(id))/resume")
            if client.json { return APIClient.printJSON(answer) }
            say("sender \(id) resumed")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a number that has no live work (refused while any message of it is queued, in flight, retrying or in doubt).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The WhatsApp phone_number_id.") var id: String

        func run() async throws {
            try await client.client().call(.DELETE, "/v1/senders/\(try pathSegment(id))")
            if !client.json { say("deleted sender \(id)") }
        }
    }
}

/// An id as one path segment: digits, letters, `_` and `-` only, so it cannot reach
/// another route.
func pathSegment(_ id: String) throws -> String {
    guard !id.isEmpty, id.utf8.count <= 128, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
        throw ValidationError("'\(id)' is not an id (letters, digits, _ and - only)")
    }
    return id
}
