import Foundation
import SluiceCore
import SluiceEngine
import SluiceServer
import Testing
import SluiceTestSupport

/// Cancelling a large campaign queues one `cancelled` event per message; a later
/// campaign's statuses reach a subscriber on 127.0.0.1 while that flood is still being
/// delivered, not after it.
@Suite struct SubscriptionLanesTests {
    @Test(.timeLimit(.minutes(2)))
    func anotherCampaignsStatusesGoOutWhileACancelledCampaignsEventsAreDelivered() async throws {
        let flood = 20_000
        // A subscriber taking 4 ms per event, so that the flood lasts.
        let received = SubscriptionsTests.Received(failFirst: 0, answerMilliseconds: 4)
        try await SubscriptionsTests().withReceiver(received) { port in
            try await SubscriptionsTests().withAPI { _, dispatcher in
                let object = Array(#"{"type":"text","text":{"body":"hi"}}"#.utf8)
                try await dispatcher.putSender(phoneNumberID: "555", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: SubscriptionsTests.appSecret)
                try await dispatcher.putSender(phoneNumberID: "556", tierMessagesPerSecond: 80, accessToken: "tok", appSecret: SubscriptionsTests.appSecret)
                let a = try await dispatcher.submitCampaign(
                    senderPhoneNumberID: "555", messageObject: object, recipients: (0..<flood).map { RecipientInput(to: String(966_500_000_000 + $0)) })
                let b = try await dispatcher.submitCampaign(
                    senderPhoneNumberID: "556", messageObject: object, recipients: (0..<3).map { RecipientInput(to: String(966_510_000_000 + $0)) })
                #expect(a.id < b.id)
                _ = try await dispatcher.createSubscription(url: "http://127.0.0.1:\(port)/hook", secret: "hook-secret-0123456789", campaign: nil, states: nil)

                var configuration = SubscriberDeliveryConfiguration()
                configuration.pollIntervalMilliseconds = 20
                let delivery = SubscriberDelivery(dispatcher: dispatcher, configuration: configuration)
                let running = Task { try await delivery.run() }

                // Cancel A: about 20 000 `cancelled` events, all ahead of B's by message id.
                _ = try await dispatcher.setCampaignState(a.id, .withdrawn)
                try await eventually("A's cancelled events are journaled", within: 30) { try dispatcher.journalStatistics().outbox >= flood / 2 }
                // Messages are numbered in upload order: A's first, then B's.
                let bMessages = (1...3).map { MessageID(UInt64(flood + $0)) }
                try await eventually("B's messages leave the queue", within: 20) { try bMessages.allSatisfy { try dispatcher.message($0)?.state != .queued } }
                _ = try await dispatcher.applyStatuses(bMessages.map { StatusUpdate(message: $0, status: .sent, wamid: "wamid.B\($0)") })
                let journaled = ContinuousClock.now
                let bID = b.id.description
                try await eventually("B's statuses reach the subscriber", within: 20) { received.events().filter { $0.campaign == bID }.count == 3 }
                let waited = ContinuousClock.now - journaled
                let waiting = try dispatcher.journalStatistics().outbox
                running.cancel()
                try await running.value

                let list = received.events()
                let lastB = try #require(list.lastIndex { $0.campaign == bID })
                let cancelledBefore = list[..<lastB].filter { $0.status == "cancelled" }.count
                #expect(list.filter { $0.campaign == bID }.map(\.status) == ["sent", "sent", "sent"])
                #expect(waiting >= flood / 4, "A's flood still waiting (\(waiting) events) when B's statuses arrived")
                #expect(cancelledBefore < flood / 4, "\(cancelledBefore) of A's cancelled events were delivered before B's statuses")
                #expect(waited < .seconds(5), "B's statuses took \(waited)")
            }
        }
    }
}
