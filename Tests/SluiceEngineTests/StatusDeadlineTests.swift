import Foundation
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceEngine

/// The status deadline: `sent` messages with no later status end `unknown`, counted in
/// their campaign and reported to subscribers; others are left alone. The deadline is an
/// hour, crossed by moving the dispatcher's wall clock.
@Suite struct StatusDeadlineTests {
    @Test func sentMessagesWithoutAStatusByTheDeadlineEndUnknown() async throws {
        let dir = NSTemporaryDirectory() + "sluice-deadline-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"  // closed: nothing is really sent
        configuration.journal.durable = false
        configuration.statusDeadlineMilliseconds = 3_600_000
        let clock = ShiftedClock()
        let dispatcher = try Dispatcher(configuration: configuration, clock: clock)
        do {
            try await dispatcher.putSender(phoneNumberID: "777", tierMessagesPerSecond: 80, accessToken: "tok")
            _ = try await dispatcher.submitCampaign(
                senderPhoneNumberID: "777", messageObject: Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8),
                recipients: (1...3).map { RecipientInput(to: "96650000000\($0)") })
            let ids = (1...3).map { MessageID(UInt64($0)) }
            try await eventually("the campaign's messages leave the queue", within: 20) {
                try !ids.contains(where: { try dispatcher.message($0)?.state == .queued })
            }
            let sub = try await dispatcher.createSubscription(url: "http://127.0.0.1:9/x", secret: "secret-secret-secret", campaign: nil, states: [.unknown])
            _ = try await dispatcher.applyStatuses([
                StatusUpdate(message: ids[0], status: .sent), StatusUpdate(message: ids[1], status: .sent),
                StatusUpdate(message: ids[2], status: .delivered),
            ])
            // Before the deadline nothing moves.
            #expect(try await dispatcher.sweepStatusDeadlines().unknown == 0)
            _ = try await dispatcher.applyStatuses([StatusUpdate(message: ids[1], status: .delivered)])
            clock.advance(milliseconds: 3_600_000 + 60_000)
            let step = try await dispatcher.sweepStatusDeadlines()
            #expect(step.unknown == 1 && !step.more)
            #expect(try dispatcher.message(ids[0])?.state == .unknown)
            #expect(try dispatcher.message(ids[1])?.state == .delivered)
            #expect(try dispatcher.message(ids[2])?.state == .delivered)
            let progress = try #require(try dispatcher.campaignProgress(CampaignID(1)))
            #expect(progress.unknown == 1 && progress.delivered == 2 && progress.state == "done")
            let events = try dispatcher.outboxHeads(subscription: sub.id, dueMilliseconds: .max, limit: 10).entries
            #expect(events.map(\.event.status?.state) == [.unknown] && events.map(\.event.status?.message) == [ids[0]])
            // Nothing is moved twice.
            #expect(try await dispatcher.sweepStatusDeadlines().unknown == 0)
        } catch {
            await dispatcher.shutdown()
            throw error
        }
        await dispatcher.shutdown()
    }
}

@Suite struct DeliveryPolicyTests {
    @Test func backoffGrowsWithJitterAndEndsDead() {
        let policy = DeliveryPolicy(delayMillisecondsBase: 1_000, delayMillisecondsMax: 8_000, retryPeriodMilliseconds: 60_000, attemptsMax: 10)
        var rng = SystemRandomNumberGenerator()
        for (attempts, envelope) in [(1, 1_000), (2, 2_000), (4, 8_000), (9, 8_000)] {
            #expect(policy.envelopeMilliseconds(attempts: UInt32(attempts)) == Int64(envelope))
            for _ in 0..<50 {
                guard case .retry(let at) = policy.afterFailure(attempts: UInt32(attempts), eventMilliseconds: 0, nowMilliseconds: 100, using: &rng) else {
                    Issue.record("dead too early")
                    return
                }
                #expect(at >= 100 + Int64(envelope) / 2 && at <= 100 + Int64(envelope))
            }
        }
        #expect(policy.afterFailure(attempts: 10, eventMilliseconds: 0, nowMilliseconds: 100, using: &rng) == .dead)
        #expect(policy.afterFailure(attempts: 1, eventMilliseconds: 0, nowMilliseconds: 60_000, using: &rng) == .dead)
        // The last retry is at the end of the period, not after it.
        #expect(policy.afterFailure(attempts: 4, eventMilliseconds: 0, nowMilliseconds: 59_000, using: &rng) == .retry(atMilliseconds: 60_000))
    }
}

@Suite struct DeadlineSweepTests {
    @Test func aPassEndsAtTheFirstIDCreatedAfterTheCutoff() {
        var sweep = DeadlineSweep()
        // No sample yet: no bound.
        #expect(sweep.bound(cutoff: 0) == MessageID(UInt64.max))
        sweep.sample(MessageIDSample(milliseconds: 1_000, next: MessageID(10)), cutoff: 0, spacingMilliseconds: 100)
        sweep.sample(MessageIDSample(milliseconds: 1_050, next: MessageID(15)), cutoff: 0, spacingMilliseconds: 100)  // too soon: not kept
        sweep.sample(MessageIDSample(milliseconds: 1_100, next: MessageID(20)), cutoff: 0, spacingMilliseconds: 100)
        sweep.sample(MessageIDSample(milliseconds: 1_200, next: MessageID(30)), cutoff: 0, spacingMilliseconds: 100)
        #expect(sweep.samples.map(\.next) == [MessageID(10), MessageID(20), MessageID(30)])
        // Ids from 10 on were created at 1 000 or later: none was sent before a cutoff of 999.
        #expect(sweep.bound(cutoff: 999) == MessageID(10))
        #expect(sweep.bound(cutoff: 1_000) == MessageID(20))
        #expect(sweep.bound(cutoff: 1_150) == MessageID(30))
        // Samples the cutoff passed are dropped; the one just taken always bounds.
        sweep.sample(MessageIDSample(milliseconds: 1_300, next: MessageID(40)), cutoff: 1_150, spacingMilliseconds: 100)
        #expect(sweep.samples.map(\.next) == [MessageID(30), MessageID(40)])
        #expect(sweep.bound(cutoff: 1_250) == MessageID(40))
    }
}
