import ArgumentParser
import Foundation
import SluiceCore
import SluiceJournal

struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Inspect a journal (run it while `serve` is stopped, or alongside it: reads do not block the writer).",
        subcommands: [Stats.self, Waiting.self]
    )

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Table sizes, map size and the last message id.")
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

    static func open(_ dataDir: String) throws -> Journal {
        let path = dataDir + "/journal"
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else {
            throw ValidationError("no journal at \(path)")
        }
        return try Journal(directory: path)
    }
}
