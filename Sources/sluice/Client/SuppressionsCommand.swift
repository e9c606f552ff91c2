import ArgumentParser
import Foundation

struct SuppressionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suppressions",
        abstract: "List a number's suppression list (contacts that opted out), put a contact on it or take one off.",
        subcommands: [List.self, Add.self, Remove.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The number's suppressed contacts with how and when they joined, a page at a time.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The WhatsApp phone_number_id.") var id: String
        @Option(help: "Contacts per page (1–1000).") var limit = 100
        @Flag(help: "Follow next_cursor to the end of the list.") var all = false
        @Option(help: "Start after the page whose next_cursor this is.") var cursor: String?

        func validate() throws {
            guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
        }

        func run() async throws {
            let api = try client.client()
            let path = "/v1/senders/\(try pathSegment(id))/suppressions?limit=\(limit)"
            var contacts: [[String: Any]] = []
            var next = cursor
            repeat {
                let query = try next.map { "&cursor=\(try pathSegment($0))" } ?? ""
                let page = try await api.call(.GET, path + query) as? [String: Any] ?? [:]
                contacts += page["suppressions"] as? [[String: Any]] ?? []
                next = page["next_cursor"] as? String
            } while all && next != nil
            if client.json { return APIClient.printJSON(["suppressions": contacts, "next_cursor": next.map { $0 as Any } ?? NSNull()]) }
            let rows = contacts.map { [cell($0["wa_id"]), cell($0["source"]), cell($0["since"])] }
            for line in table(["WA_ID", "SOURCE", "SINCE"], rows) { say(line) }
            // Without --all one page is shown: say how to get the rest.
            if let next { say("more: --all, or --cursor \(next)") }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a contact on the number's suppression list: campaign messages to it end `suppressed` without a request.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The WhatsApp phone_number_id.") var id: String
        @Argument(help: "The contact's number, country code first (a leading '+' is dropped).") var waID: String

        func run() async throws {
            let contact = try SuppressionsCommand.contact(waID)
            let (status, answer) = try await client.client().exchange(.PUT, "/v1/senders/\(try pathSegment(id))/suppressions/\(contact)")
            if client.json { return APIClient.printJSON(answer) }
            let since = cell((answer as? [String: Any])?["since"])
            // 201: added now; 200: it was on the list, with its first time and source kept.
            say(status == 201 ? "suppressed \(contact) for sender \(id)" : "\(contact) was already suppressed for sender \(id) (since \(since))")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a contact off the number's suppression list; messages to it are sent again.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The WhatsApp phone_number_id.") var id: String
        @Argument(help: "The contact's number, country code first (a leading '+' is dropped).") var waID: String

        func run() async throws {
            let contact = try SuppressionsCommand.contact(waID)
            try await client.client().call(.DELETE, "/v1/senders/\(try pathSegment(id))/suppressions/\(contact)")
            if !client.json { say("removed \(contact) from the suppression list of sender \(id)") }
        }
    }

    /// A contact as the API names it: digits, no '+' (the server checks the length).
    static func contact(_ waID: String) throws -> String {
        let digits = waID.hasPrefix("+") ? String(waID.dropFirst()) : waID
        guard !digits.isEmpty, digits.utf8.count <= 32, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw ValidationError("'\(waID)' is not a contact's number (digits, country code first)")
        }
        return digits
    }
}
