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
        ]
    )
}

/// Writes a line to stdout at once (no stdio buffering), so that scripts, tests and CI
/// logs see lines such as `sluice listening on …` as soon as they are true.
func say(_ line: String = "") {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
