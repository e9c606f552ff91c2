import Foundation
import SluiceCore
import SluiceJournal
import SluiceTestSupport
import Testing
@testable import SluiceEngine

/// Retention: a finished campaign older than the period goes with all its messages; an
/// unfinished one and a recently finished one stay; the journal stays consistent. The
/// period is an hour, crossed by moving the dispatcher's wall clock.
@Suite struct RetentionTests {
    @Test func finishedCampaignsOlderThanThePeriodAreRemoved() async throws {
        let dir = NSTemporaryDirectory() + "sluice-retention-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"  // closed: nothing is really sent
        configuration.journal.durable = false
        configuration.retentionMilliseconds = 3_600_000
        let clock = ShiftedClock()
        let dispatcher = try Dispatcher(configuration: configuration, clock: clock)
        do {
            try await dispatcher.putSender(phoneNumberID: "778", tierMessagesPerSecond: 80, accessToken: "tok")
            let body = Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8)
            /// A campaign whose messages all end `delivered` by webhook.
            func finishedCampaign(_ n: Int) async throws -> (CampaignID, [MessageID]) {
                let receipt = try await dispatcher.submitCampaign(
                    senderPhoneNumberID: "778", messageObject: body, recipients: (1...n).map { RecipientInput(to: "9665000\($0)") })
                let ids = try dispatcher.journal.messages(after: nil, limit: 1_000).filter { $0.campaign == receipt.id }.map(\.id)
                #expect(ids.count == n)
                try await eventually("the campaign's messages leave the queue", within: 20) {
                    try !ids.contains(where: { try dispatcher.message($0)?.state == .queued })
                }
                _ = try await dispatcher.applyStatuses(ids.map { StatusUpdate(message: $0, status: .delivered) })
                return (receipt.id, ids)
            }
            let (old, oldIDs) = try await finishedCampaign(3)
            // Scheduled a day ahead: its messages stay queued.
            let waiting = try await dispatcher.submitCampaign(
                senderPhoneNumberID: "778", messageObject: body, recipients: [RecipientInput(to: "96650009")],
                options: CampaignOptions(scheduleAtMilliseconds: dispatcher.clock.wallMilliseconds() + 86_400_000))
            #expect(try await dispatcher.sweepRetention() == RetentionStep())
            clock.advance(milliseconds: 3_600_000 + 60_000)
            let (recent, recentIDs) = try await finishedCampaign(2)
            // The loop's snapshot (every ~200 ms) holds the three campaigns.
            try await eventually("the loop holds 3 campaigns", within: 20) { dispatcher.campaignsHeld() == 3 }

            let step = try await dispatcher.sweepRetention()
            #expect(step == RetentionStep(campaigns: [old], messages: 3))
            #expect(try dispatcher.journal.campaign(old) == nil)
            for id in oldIDs { #expect(try dispatcher.message(id) == nil) }
            // The loop forgets the removed campaign; the other two stay cached.
            try await eventually("the loop holds 2 campaigns", within: 20) { dispatcher.campaignsHeld() == 2 }
            #expect(try dispatcher.journal.campaign(waiting.id)?.counts[.queued] == 1)
            #expect(try dispatcher.journal.campaign(recent)?.counts[.delivered] == 2)
            for id in recentIDs { #expect(try dispatcher.message(id)?.state == .delivered) }
            #expect(try dispatcher.journal.retentionTotals() == RetentionTotals(campaigns: 1, messages: 3))
            let check = try dispatcher.journal.check()
            #expect(check.isClean, "\(check.violations)")
            #expect(check.campaigns == 2 && check.messages == 3)
            // A late webhook for a removed message changes nothing.
            _ = try await dispatcher.applyStatuses([StatusUpdate(message: oldIDs[0], status: .read)])
            #expect(try dispatcher.message(oldIDs[0]) == nil)
            #expect(try await dispatcher.sweepRetention() == RetentionStep())
        } catch {
            await dispatcher.shutdown()
            throw error
        }
        await dispatcher.shutdown()
    }
}
