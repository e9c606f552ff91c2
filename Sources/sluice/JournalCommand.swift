import ArgumentParser
import Foundation
import SluiceCore
import SluiceEngine
import SluiceJournal

struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Inspect a journal (run it while `serve` is stopped, or alongside it: reads do not block the writer).",
        subcommands: [Stats.self, Waiting.self, Messages.self]
    )

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Table sizes, map size, the last message id and the subscribers' outbox.")
        @Option(name: .customLong("data-dir")) var dataDir = "./sluice-data"

        func run() throws {
            let journal = try open(dataDir)
            defer { journal.close() }
            let s = try journal.statistics()
            say("map size        \(s.mapSizeBytes) bytes (\(s.usedBytes) used)")
            say("messages        \(s.messages) (last id \(s.lastMessageID.map(String.init(describing:)) ?? "none"))")
            say("queued          \(s.pending)")
            say("retry/in doubt  \(s.due)")
            say("in flight       \(s.inFlight)")
            say("campaigns       \(s.campaigns)")
            say("senders         \(s.senders)")
            say("subscriptions   \(s.subscriptions)")
            say("outbox          \(s.outbox) event(s) waiting for delivery")
            for sub in try journal.subscriptions() {
                let c = sub.counters
                say("  \(sub.publicID) \(sub.url): pending \(c.pending), delivered \(c.delivered), failed attempts \(c.failedAttempts), dead \(c.dead)")
            }
        }
    }

    struct Waiting: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Messages waiting to retry or in doubt, with their last error.")
        @Option(name: .customLong("data-dir")) var dataDir = "./sluice-data"
        @Option(help: "At most this many per sender.") var limit = 50

        func run() throws {
            let journal = try open(dataDir)
            defer { journal.close() }
            for sender in try journal.senders() {
                let waiting = try journal.dueMessages(sender: sender.id, notAfterMilliseconds: Int64.max, limit: limit)
                for m in waiting {
                    let at = Date(timeIntervalSince1970: Double(m.notBeforeMilliseconds) / 1000)
                    say("\(sender.phoneNumberID) message \(m.id) \(m.state) attempts \(m.attempts) not before \(at) error \(m.errorCode) \(m.errorMessage ?? "")")
                }
            }
        }
    }

    struct Messages: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Messages with their state, attempts and last error, in id order (a full scan), then a count per state.")
        @Option(name: .customLong("data-dir")) var dataDir = "./sluice-data"
        @Option(help: "Only this campaign's messages.") var campaign: UInt64?
        @Option(help: "Only messages in this state (queued, in_flight, sent, retry_at, failed, in_doubt, delivered, read, unknown).")
        var state: String?
        @Option(help: "At most this many lines.") var limit = 100
        @Flag(help: "One JSON object per line.") var json = false

        func validate() throws {
            if let state, !MessageState.allCases.contains(where: { $0.description == state }) {
                throw ValidationError("--state must be one of \(MessageState.allCases.map(\.description).joined(separator: ", ")), got '\(state)'")
            }
            if limit < 0 { throw ValidationError("--limit must be ≥ 0") }
        }

        func run() throws {
            let journal = try open(dataDir)
            defer { journal.close() }
            var perState: [MessageState: Int] = [:]
            var shown = 0
            var after: MessageID?
            while true {
                let page = try journal.messages(after: after, limit: 10_000)
                guard let last = page.last else { break }
                after = last.id
                for m in page where campaign == nil || m.campaign.rawValue == campaign {
                    guard state == nil || m.state.description == state else { continue }
                    perState[m.state, default: 0] += 1
                    guard shown < limit else { continue }
                    shown += 1
                    say(json ? Self.jsonLine(m) : "message \(m.id) campaign \(m.campaign) to \(m.to) \(m.state) attempts \(m.attempts) error \(m.errorCode) \(m.errorMessage ?? "")")
                }
            }
            if !json {
                let counts = MessageState.allCases.compactMap { s in perState[s].map { "\(s) \($0)" } }
                say("total \(perState.values.reduce(0, +))" + (counts.isEmpty ? "" : ": " + counts.joined(separator: ", ")))
            }
        }

        static func jsonLine(_ m: MessageRecord) -> String {
            let object: [String: Any] = [
                "id": m.id.rawValue, "campaign": m.campaign.rawValue, "to": m.to, "state": m.state.description,
                "attempts": Int(m.attempts), "error_code": Int(m.errorCode), "error_message": m.errorMessage ?? NSNull(),
                "wamid": m.wamid ?? NSNull(),
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    static func open(_ dataDir: String) throws -> Journal {
        let path = dataDir + "/journal"
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else {
            throw ValidationError("no journal at \(path)")
        }
        var configuration = JournalConfiguration()
        // With the key file readable, payloads print decrypted; without it (another user,
        // a copy of the journal alone) the metadata still prints, payloads as <encrypted>.
        let keyFile = EngineConfiguration.journalKeyFile(dataDirectory: dataDir)
        configuration.encryption = FileManager.default.isReadableFile(atPath: keyFile) ? .keyFile(keyFile) : .inspectWithoutKey
        return try Journal(directory: path, configuration: configuration)
    }
}
