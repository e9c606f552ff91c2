import Foundation
import Logging
import SluiceCore
import SluiceEngine
import SluiceJournal
import SluiceMock
import Testing
import SluiceTestSupport

/// The messaging limit, embedded, against the mock endpoint over TLS on 127.0.0.1 with a
/// real journal. The window is shortened through `messagingWindowMilliseconds` so that a
/// cap of 250 fills and frees within seconds.
@Suite(.serialized) struct MessagingLimitTests {
    static let message = Array(#"{"type":"text","text":{"body":"Hello {{1}}"}}"#.utf8)

    func withStack(_ body: (MockEndpoint, EngineConfiguration) async throws -> Void) async throws {
        try await withEngineStack(prefix: "sluice-limit") { mock, configuration in
            var configuration = configuration
            // Repeated recipients go at once here: the pair limit would hold them 6 s.
            configuration.pairSpacingMilliseconds = 0
            try await body(mock, configuration)
        }
    }

    func recipient(_ i: Int) -> RecipientInput { RecipientInput(to: String(966_500_000_000 + i), params: ["n\(i)"]) }

    func waitFor(seconds: Double, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool) async throws {
        try await eventually(within: seconds, sourceLocation: sourceLocation) { try condition() }
    }

    @Test func newRecipientsOverTheCapWaitForTheWindowAndRepeatedOnesDoNot() async throws {
        try await withStack { mock, configuration in
            var configuration = configuration
            // Long enough that a stalled test machine cannot see the window free by itself;
            // the test moves the dispatcher's wall clock past it.
            let window: Int64 = 60_000
            configuration.messagingWindowMilliseconds = window
            let clock = ShiftedClock()
            let dispatcher = try Dispatcher(configuration: configuration, clock: clock)
            let sender = try await dispatcher.putSender(
                phoneNumberID: "1101", tierMessagesPerSecond: 500, accessToken: "t", messagingLimit: .set(250))
            #expect(sender.messagingLimit == 250)
            // 250 new recipients fill the window, 20 of them again (free), then 50 new ones (wait).
            let list = (0..<250).map(recipient) + (0..<20).map(recipient) + (250..<300).map(recipient)
            let receipt = try await dispatcher.submitCampaign(senderPhoneNumberID: "1101", messageObject: Self.message, recipients: list, dedupe: false)
            #expect(receipt.accepted == 320)

            // While the cap holds: the snapshot says so.
            try await waitFor(seconds: 10) { mock.recorder.count >= 270 }
            var limited: SenderSnapshot?
            try await waitFor(seconds: 2) {
                limited = dispatcher.senderSnapshots().first { $0.phoneNumberID == "1101" }
                return limited?.limitedUntilMilliseconds != nil
            }
            #expect(mock.recorder.count == 270, "nothing new went while the window was full")
            #expect(limited?.messagingLimit == 250)
            #expect(limited?.uniqueRecipients24h == 250)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            #expect(limited?.limitedUntilMilliseconds.map { $0 > now && $0 <= now + window } == true)
            // The campaign's ETA says what it waits for, and counts the wait.
            let progress = try #require(try dispatcher.campaignProgress(receipt.id))
            #expect(progress.waitingFor == "messaging_limit")
            let until = try #require(limited?.limitedUntilMilliseconds)
            #expect((progress.etaSeconds ?? 0) >= Double(until - Int64(Date().timeIntervalSince1970 * 1000)) / 1000 - 0.3)

            // Nothing more goes while the window is full.
            try await Task.sleep(for: .milliseconds(500))
            #expect(mock.recorder.count == 270)

            // The window passes. The loop holds the sender on its monotonic clock until
            // then; an update of the sender (the same settings) makes it look again now.
            clock.advance(milliseconds: window)
            _ = try await dispatcher.putSender(phoneNumberID: "1101", tierMessagesPerSecond: 500, accessToken: "t", messagingLimit: .set(250))
            try await waitFor(seconds: 15) { mock.recorder.count >= 320 }
            await dispatcher.shutdown()
            let arrivals = mock.recorder.snapshot().sorted { $0.timeNanoseconds < $1.timeNanoseconds }
            #expect(arrivals.count == 320)
            var seen = Set<String>()
            var firsts: [Int64] = []
            var repeats: [Int64] = []
            for a in arrivals {
                if seen.insert(a.to).inserted { firsts.append(a.timeNanoseconds) } else { repeats.append(a.timeNanoseconds) }
            }
            #expect(firsts.count == 300 && repeats.count == 20)
            // Repeated recipients went before the window freed, ahead of the 251st new one.
            // (How long new recipients wait is judged exactly in DispatchCoreTests.)
            #expect(repeats.allSatisfy { $0 < firsts[250] }, "repeats waited for the window")
        }
    }

    @Test func theWindowIsRebuiltFromTheJournalAtStart() async throws {
        try await withStack { mock, configuration in
            var configuration = configuration
            configuration.messagingWindowMilliseconds = 120_000
            var dispatcher = try Dispatcher(configuration: configuration)
            try await dispatcher.putSender(phoneNumberID: "1102", tierMessagesPerSecond: 1000, accessToken: "t", messagingLimit: .set(250))
            _ = try await dispatcher.submitCampaign(senderPhoneNumberID: "1102", messageObject: Self.message, recipients: (0..<250).map(recipient))
            // Not a judge of speed: a fresh-clone run once saw the mock's TLS handshakes stall
            // 5 s behind a parallel test's 21 000 sends.
            try await waitFor(seconds: 30) { try (1...250).allSatisfy { try dispatcher.message(MessageID(UInt64($0)))?.state == .sent } }
            await dispatcher.shutdown()
            #expect(mock.recorder.count == 250)

            dispatcher = try Dispatcher(configuration: configuration)
            var snapshot: SenderSnapshot?
            try await waitFor(seconds: 2) {
                snapshot = dispatcher.senderSnapshots().first { $0.phoneNumberID == "1102" }
                return snapshot != nil
            }
            #expect(snapshot?.uniqueRecipients24h == 250)
            #expect(snapshot?.limitedUntilMilliseconds != nil)
            // One already reached goes; a new recipient waits (and holds its sender).
            _ = try await dispatcher.submitCampaign(senderPhoneNumberID: "1102", messageObject: Self.message, recipients: [recipient(7)])
            try await waitFor(seconds: 5) { mock.recorder.count >= 251 }
            _ = try await dispatcher.submitCampaign(senderPhoneNumberID: "1102", messageObject: Self.message, recipients: [recipient(999)])
            try await waitFor(seconds: 2) { try dispatcher.message(MessageID(252))?.state == .inFlight }
            try await Task.sleep(for: .milliseconds(500))
            let late = mock.recorder.snapshot().filter { $0.to == String(966_500_000_000 + 999) }
            #expect(late.isEmpty, "a new recipient went over the rebuilt cap")
            #expect(mock.recorder.snapshot().filter { $0.to == String(966_500_000_007) }.count == 2)
            let waiting = try #require(try dispatcher.message(MessageID(252)))
            #expect(waiting.attempts == 0, "waiting used no attempt")

            // Lifting the limit lets it go at once (the hold ends with it).
            try await dispatcher.putSender(phoneNumberID: "1102", tierMessagesPerSecond: 1000, accessToken: "t", messagingLimit: .set(nil))
            try await waitFor(seconds: 5) { mock.recorder.snapshot().contains { $0.to == String(966_500_000_000 + 999) } }
            #expect(mock.recorder.snapshot().contains { $0.to == String(966_500_000_000 + 999) })
            await dispatcher.shutdown()
        }
    }
}
