import ArgumentParser
import Foundation

@main
struct SluiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A throughput-focused outbound message dispatcher for the WhatsApp Business Platform.",
        subcommands: [
            ServeCommand.self, MockCommand.self, DemoCommand.self, JournalCommand.self, LoadTestCommand.self, ChaosCommand.self,
            SubmitCommand.self, StatusCommand.self, CampaignsCommand.self, SendersCommand.self, SuppressionsCommand.self, MediaCommand.self, KeysCommand.self,
            SubscriptionsCommand.self,
        ]
    )

    /// argument-parser's `main`, but an argument mistake found while running (an id that
    /// is not one, no API key) shows the usage of the command that was run, as one found
    /// while parsing does, not the root's `sluice <subcommand>`. Other errors (the server's
    /// answer, an unreachable server) are one sentence without usage.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try await asyncParseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let mistake as ValidationError {
            writeOut(STDERR_FILENO, usageError(mistake.message, for: type(of: command)))
            exit(withError: ExitCode.validationFailure)
        } catch {
            exit(withError: error)
        }
    }

    /// What argument-parser prints for a `ValidationError` from `validate()`.
    static func usageError(_ message: String, for command: any ParsableCommand.Type) -> String {
        let usage = usageString(for: command)
        let name = commandPath(to: command).joined(separator: " ")
        return "Error: \(message)\nUsage: \(usage)\n  See '\(name) --help' for more information.\n"
    }

    /// `["sluice", "senders", "set"]` for `SendersCommand.SetSender`.
    static func commandPath(to command: any ParsableCommand.Type) -> [String] {
        var pending: [[any ParsableCommand.Type]] = [[Self.self]]
        while let path = pending.popLast() {
            let last = path[path.count - 1]
            if ObjectIdentifier(last) == ObjectIdentifier(command) { return path.map { $0._commandName } }
            pending += last.configuration.subcommands.map { path + [$0] }
        }
        return [configuration.commandName ?? "sluice"]
    }
}

/// Writes a line to stdout at once (no stdio buffering), so that scripts, tests and CI
/// logs see lines such as `sluice listening on …` as soon as they are true.
func say(_ line: String = "") {
    writeOut(STDOUT_FILENO, line + "\n")
}

/// Writes all of `text` to `fd`. When the reader has gone (`sluice campaigns list | head -1`)
/// the process ends as any Unix tool does there, by SIGPIPE, quietly: Foundation's
/// `FileHandle.write` would trap instead (the runtime ignores SIGPIPE, so a write fails
/// with EPIPE).
func writeOut(_ fd: Int32, _ text: String) {
    writeOut(fd, bytes: Array(text.utf8))
}

func writeOut(_ fd: Int32, bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            if errno == EPIPE {
                signal(SIGPIPE, SIG_DFL)
                raise(SIGPIPE)
            }
            return  // another error: output is lost, the command goes on
        }
        offset += n
    }
}
