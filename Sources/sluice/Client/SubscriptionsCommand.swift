import ArgumentParser
import Foundation
import SluiceCore

struct SubscriptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscriptions",
        abstract: "List, create, show and delete the URLs that receive status events, incoming messages and account events.",
        subcommands: [List.self, Create.self, Show.self, Delete.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every subscription with its delivery counters (never its secret).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let answer = try await client.client().call(.GET, "/v1/subscriptions")
            if client.json { return APIClient.printJSON(answer) }
            let subscriptions = (answer as? [String: Any])?["subscriptions"] as? [[String: Any]] ?? []
            let rows = subscriptions.map { s -> [String] in
                let deliveries = s["deliveries"] as? [String: Any] ?? [:]
                return [cell(s["id"]), SubscriptionsCommand.list(s["events"]), SubscriptionsCommand.filter(s), cell(s["batch"]),
                        cell(deliveries["pending"]), cell(deliveries["delivered"]), cell(deliveries["failed_attempts"]), cell(deliveries["dead"]), cell(s["url"])]
            }
            for line in table(["ID", "EVENTS", "FILTER", "BATCH", "PENDING", "DELIVERED", "FAILED", "DEAD", "URL"], rows) { say(line) }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a URL for events (needs the admin scope); the secret that signs them is printed once.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The http:// or https:// URL that receives the events.") var url: String
        @Option(help: "What it receives, comma-separated: status (the default), message, account.") var events: String?
        @Option(help: "The secret that signs each POST (16–512 printable characters; default: one is generated).") var secret: String?
        @Option(help: "Events per POST (1–100, default 1).") var batch: Int?
        @Option(help: "Status events only in these states, comma-separated (sent, delivered, read, failed …; default: all).") var states: String?
        @Option(help: "Status events of this campaign only.") var campaign: String?

        func validate() throws {
            let kinds = SubscriberEventKind.allCases.map(\.rawValue)
            for name in SubscriptionsCommand.items(events) where !kinds.contains(name) {
                throw ValidationError("--events: '\(name)' is not an event; use \(kinds.joined(separator: ", "))")
            }
            let reported = MessageState.allCases.filter(\.isReported).map(\.description)
            for name in SubscriptionsCommand.items(states) where !reported.contains(name) {
                throw ValidationError("--states: '\(name)' is not a reported state; use \(reported.joined(separator: ", "))")
            }
            if events != nil && SubscriptionsCommand.items(events).isEmpty { throw ValidationError("--events names no event") }
            if states != nil && SubscriptionsCommand.items(states).isEmpty { throw ValidationError("--states names no state") }
            if let batch, !(1...SubscriptionRecord.batchMaxLimit).contains(batch) {
                throw ValidationError("--batch must be from 1 to \(SubscriptionRecord.batchMaxLimit)")
            }
        }

        func run() async throws {
            var body: [String: Any] = ["url": url]
            if events != nil { body["events"] = SubscriptionsCommand.items(events) }
            if states != nil { body["states"] = SubscriptionsCommand.items(states) }
            if let secret { body["secret"] = secret }
            if let batch { body["batch"] = batch }
            if let campaign { body["campaign"] = campaign }
            let answer = try await client.client().call(.POST, "/v1/subscriptions", json: body) as? [String: Any] ?? [:]
            if client.json { return APIClient.printJSON(answer) }
            say("created \(cell(answer["id"])): \(SubscriptionsCommand.list(answer["events"])) events to \(cell(answer["url"])), \(cell(answer["batch"])) per POST")
            say("secret: \(cell(answer["secret"]))")
            say("the secret is shown only now; store it (it signs X-Sluice-Signature-256)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One subscription with its filter and delivery counters.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The subscription id (sub_…).") var id: String

        func run() async throws {
            let answer = try await client.client().call(.GET, "/v1/subscriptions/\(try pathSegment(id))") as? [String: Any] ?? [:]
            if client.json { return APIClient.printJSON(answer) }
            let deliveries = answer["deliveries"] as? [String: Any] ?? [:]
            for (name, value) in [
                ("id", cell(answer["id"])), ("url", cell(answer["url"])), ("events", SubscriptionsCommand.list(answer["events"])),
                ("filter", SubscriptionsCommand.filter(answer)), ("batch", cell(answer["batch"])), ("created", cell(answer["created_at"])),
                ("pending", cell(deliveries["pending"])), ("delivered", cell(deliveries["delivered"])),
                ("failed", cell(deliveries["failed_attempts"])), ("dead", cell(deliveries["dead"])),
            ] {
                say(name.padding(toLength: 10, withPad: " ", startingAt: 0) + value)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a subscription and the events still waiting for it (needs the admin scope).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The subscription id (sub_…).") var id: String

        func run() async throws {
            try await client.client().call(.DELETE, "/v1/subscriptions/\(try pathSegment(id))")
            if !client.json { say("deleted \(id)") }
        }
    }

    /// `status,message` as its names, blanks dropped.
    static func items(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A JSON array of names as `a,b`.
    static func list(_ value: Any?) -> String {
        (value as? [String]).map { $0.joined(separator: ",") } ?? cell(value)
    }

    /// `campaign 42, delivered,failed`; `-` when every status event goes.
    static func filter(_ subscription: [String: Any]) -> String {
        let filter = subscription["filter"] as? [String: Any] ?? [:]
        var parts: [String] = []
        if let campaign = filter["campaign"] as? String { parts.append("campaign \(campaign)") }
        if let states = filter["states"] as? [String] { parts.append(states.joined(separator: ",")) }
        return parts.isEmpty ? "-" : parts.joined(separator: " ")
    }
}
