import ArgumentParser
import Foundation
import SluiceCore
import SluiceEngine
import SluiceJournal

struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Inspect, verify and compact a journal (stats, waiting, messages and check run alongside `serve`: reads do not block the writer; compact needs `serve` stopped).",
        subcommands: [Stats.self, Waiting.self, Messages.self, Check.self, Compact.self]
    )

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Table sizes, map size, the last message id and the subscribers' outbox.")
        @Option(name: .customLong("data-dir")) var dataDir = "./sluice-data"

        @Option(name: .customLong("retention-days"), help: "The retention period to report on (default 30, as `serve`).")
        var retentionDays: Double = 30

        func run() throws {
            let journal = try open(dataDir)
            defer { journal.close() }
            let s = try journal.statistics()
            say("file size       \(s.fileBytes) bytes (`sluice journal compact` shrinks it to what is used)")
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
                say("  \(sub.publicID)\(sub.mirrorOf.map { " (mirror of \($0))" } ?? "") \(sub.url): pending \(c.pending), delivered \(c.delivered), failed attempts \(c.failedAttempts), dead \(c.dead)")
            }
            let totals = try journal.retentionTotals()
            say("retention       removed so far: \(totals.campaigns) campaign(s), \(totals.messages) message(s)")
            if retentionDays > 0 {
                let cutoff = Int64(Date().timeIntervalSince1970 * 1000) - Int64(retentionDays * 86_400_000)
                let due = try journal.retentionCandidates(cutoffMilliseconds: cutoff)
                say("                finished more than \(retentionDays) day(s) ago, removed by the next pass: \(due.count) campaign(s), \(due.reduce(0) { $0 + $1.messages }) message(s)")
                for c in due.prefix(20) {
                    let at = Date(timeIntervalSince1970: Double(c.lastChangeMilliseconds) / 1000)
                    say("  campaign \(c.campaign): \(c.messages) message(s), last change \(at)")
                }
            } else {
                say("                retention period 0: campaigns are kept forever")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the journal's invariants (indexes ⇄ message states, campaign counts) in one read transaction; exit 1 when any is broken.")
        @Option(name: .customLong("data-dir")) var dataDir = "./sluice-data"

        func run() throws {
            let journal = try open(dataDir)
            defer { journal.close() }
            let started = Date()
            let report = try journal.check()
            let seconds = Date().timeIntervalSince(started)
            for v in report.violations { say("violation: \(v)") }
            if report.violationCount > report.violations.count {
                say("… and \(report.violationCount - report.violations.count) more violation(s)")
            }
            let summary = "\(report.messages) messages, \(report.campaigns) campaigns, \(report.pending) queued, \(report.due) retry/in doubt, \(report.inFlight) in flight, checked in \(String(format: "%.2f", seconds)) s"
            guard report.isClean else {
                say("journal check: \(report.violationCount) violation(s) in \(summary)")
                throw ExitCode(1)
            }
            say("journal check: ok, \(summary)")
        }
    }

    struct Compact: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite the journal without its free pages and swap the copy in (needs `serve` stopped: refuses while it holds the journal).")
        @Option(name: .customLong("data-dir")) var dataDir = "./sluice-data"

        func run() throws {
            let path = dataDir + "/journal"
            guard FileManager.default.fileExists(atPath: path + "/data.mdb") else { throw ValidationError("no journal at \(path)") }
            let started = Date()
            let report = try Journal.compact(directory: path, configuration: JournalCommand.journalConfiguration(dataDir, writerLock: true))
            let seconds = Date().timeIntervalSince(started)
            say("compacted \(path): \(report.bytesBefore) → \(report.bytesAfter) bytes (\(report.messages) messages, \(String(format: "%.2f", seconds)) s)")
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
        return try Journal(directory: path, configuration: journalConfiguration(dataDir, writerLock: false))
    }

    /// Inspection takes no writer lock, so that it runs alongside `serve`.
    static func journalConfiguration(_ dataDir: String, writerLock: Bool) -> JournalConfiguration {
        var configuration = JournalConfiguration()
        configuration.writerLock = writerLock
        // With the key file readable, payloads print decrypted; without it (another user,
        // a copy of the journal alone) the metadata still prints, payloads as <encrypted>.
        let keyFile = EngineConfiguration.journalKeyFile(dataDirectory: dataDir)
        configuration.encryption = FileManager.default.isReadableFile(atPath: keyFile) ? .keyFile(keyFile) : .inspectWithoutKey
        return configuration
    }
}
