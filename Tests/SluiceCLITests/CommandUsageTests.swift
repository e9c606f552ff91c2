import Testing

@testable import sluice

/// An argument mistake found while a command runs is printed as argument-parser prints
/// one found while parsing: with the usage of that command, not the root's.
@Suite struct CommandUsageTests {
    @Test func anArgumentMistakeFoundWhileRunningShowsTheCommandsOwnUsage() {
        #expect(SluiceCommand.commandPath(to: SendersCommand.SetSender.self) == ["sluice", "senders", "set"])
        #expect(SluiceCommand.commandPath(to: SubscriptionsCommand.Create.self) == ["sluice", "subscriptions", "create"])
        let text = SluiceCommand.usageError("no API key", for: SubscriptionsCommand.Delete.self)
        #expect(text.hasPrefix("Error: no API key\nUsage: sluice subscriptions delete "), "\(text)")
        #expect(text.hasSuffix("See 'sluice subscriptions delete --help' for more information.\n"), "\(text)")
    }
}
