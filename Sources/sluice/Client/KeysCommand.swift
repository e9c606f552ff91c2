import ArgumentParser
import Foundation

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke API keys on a running server (needs the admin scope).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; its secret is printed once.")
        @OptionGroup var client: ClientOptions
        @Option(help: "A label such as billing-service.") var name: String
        @Option(name: .customLong("scope"), help: "admin, submit or read; repeat for several.") var scopes: [String] = []

        func validate() throws {
            if scopes.isEmpty { throw ValidationError("give at least one --scope (admin, submit, read)") }
        }

        func run() async throws {
            let answer = try await client.client().call(.POST, "/v1/keys", json: ["name": name, "scopes": scopes])
            if client.json { return APIClient.printJSON(answer) }
            let key = answer as? [String: Any]
            say("created \(cell(key?["id"])) (\(scopes.joined(separator: ", ")))")
            say("key: \(cell(key?["key"]))")
            say("the secret is shown only now; store it")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every key, revoked ones too (no secrets).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let answer = try await client.client().call(.GET, "/v1/keys")
            if client.json { return APIClient.printJSON(answer) }
            let keys = (answer as? [String: Any])?["keys"] as? [[String: Any]] ?? []
            let rows = keys.map { k in
                [cell(k["id"]), cell(k["name"]), ((k["scopes"] as? [String]) ?? []).joined(separator: ","), cell(k["created_at"]), cell(k["revoked_at"])]
            }
            for line in table(["ID", "NAME", "SCOPES", "CREATED", "REVOKED"], rows) { say(line) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it stops working at once.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key id (key_…).") var id: String

        func run() async throws {
            try await client.client().call(.DELETE, "/v1/keys/\(try pathSegment(id))")
            if !client.json { say("revoked \(id)") }
        }
    }
}
