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
    let bytes = Array(text.utf8)
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
