import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceMock
import SluiceServer
import Testing
import SluiceTestSupport

/// The receive side end to end over real sockets: the mock's simulated customers send
/// signed incoming messages of every type to `serve`'s webhook route; `serve` journals
/// them, fetches their media from the mock with the number's token, and delivers every
/// message to a subscriber in order per contact, media described and servable.
@Suite struct InboundTrafficTests {
    static let adminKey = "inbound-admin-key-0123456789"
    static let appSecret = "inbound-app-secret"
    static let phone = "1065000701"

    @Test func everyMessageTypeReachesTheSubscriberInOrderPerContactWithItsMediaStored() async throws {
        try await ServeMockStack.run(prefix: "sluice-inbound", appSecret: Self.appSecret, adminKey: Self.adminKey, webhook: { $0.inboundMessagesPerSecond = 40 }) { stack in
            let received = SubscriptionsTests.Received(failFirst: 0)
            try await SubscriptionsTests().withReceiver(received) { receiverPort in
                _ = try await stack.dispatcher.createSubscription(
                    url: "http://127.0.0.1:\(receiverPort)/hook", secret: "hook-secret-0123456789", campaign: nil, states: nil, events: [.message])
                try await stack.dispatcher.putSender(phoneNumberID: Self.phone, tierMessagesPerSecond: 80, accessToken: "inbound-token", appSecret: Self.appSecret)
                // Customers start writing once the number is the mock's too.
                try stack.mock.register(phoneNumberID: Self.phone, sender: MockSender(accessToken: "inbound-token"))
                let wanted = 2 * Self.inboundMessageTypes.count
                try await eventually("\(wanted) incoming messages delivered", within: 30) { received.requests.withLock { $0.count } >= wanted }
                await stack.mock.stop()
                try await check(received, stack.mock, servePort: stack.servePort)
            }
        }
    }

    /// WhatsApp raises a number's throughput mid-campaign: the mock posts a signed
    /// `phone_number_quality_update` naming the number by its display number (which `serve`
    /// learnt from the statuses before), and the running campaign speeds up from its tier
    /// of 50 to 1 000 msg/s.
    @Test func aThroughputUpgradeFromWhatsAppSpeedsUpTheRunningCampaign() async throws {
        try await ServeMockStack.run(prefix: "sluice-upgrade", appSecret: Self.appSecret, adminKey: Self.adminKey, tls: false) { stack in
            let phone = "1065000702"
            try stack.mock.register(phoneNumberID: phone, sender: MockSender(tierMessagesPerSecond: 50, accessToken: "upgrade-token"))
            try await stack.dispatcher.putSender(phoneNumberID: phone, tierMessagesPerSecond: 50, accessToken: "upgrade-token", appSecret: Self.appSecret)
            let receipt = try await stack.dispatcher.submitCampaign(
                senderPhoneNumberID: phone, messageObject: Array(#"{"type":"text","text":{"body":"Hi {{1}}"}}"#.utf8),
                recipients: (0..<1_000).map { RecipientInput(to: String(966_520_000_000 + $0), params: ["n\($0)"]) })
            try await eventually("the display number learnt from the status webhooks", within: 10) {
                try stack.dispatcher.sender(phoneNumberID: phone)?.displayPhoneNumber != nil
            }
            let before = try #require(try stack.dispatcher.campaignProgress(receipt.id)).sent
            #expect(before < 500, "\(before) sent at 50 msg/s before the upgrade")
            let upgraded = Date()
            let answer = try await RawHTTPClient.post(
                port: stack.mockPort, path: "/__mock/account/\(phone)", json: #"{"event":"THROUGHPUT_UPGRADE","limit":"TIER_UNLIMITED"}"#)
            #expect(answer.status == 200 && String(decoding: answer.body, as: UTF8.self).contains(#""status":200"#), "\(answer)")
            #expect(try stack.dispatcher.sender(phoneNumberID: phone)?.tierMessagesPerSecond == 1_000)
            // What was left (at least 500) at 1 000 msg/s: done in a few seconds, not ten.
            try await eventually("the campaign done after the upgrade", within: 8) { try stack.dispatcher.campaignProgress(receipt.id)?.state == "done" }
            #expect(Date().timeIntervalSince(upgraded) < 8)
            let done = try #require(try stack.dispatcher.campaignProgress(receipt.id))
            #expect(done.sent == 1_000 && done.failed == 0)
        }
    }

    static let inboundMessageTypes = [
        "text", "image", "interactive", "video", "location", "audio", "button", "document", "reaction", "sticker", "contacts", "order", "system",
        "unsupported",
    ]

    func check(_ received: SubscriptionsTests.Received, _ mock: MockEndpoint, servePort: Int) async throws {
        let events = received.requests.withLock { $0 }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
        let types = Set(events.compactMap { $0["message_type"] as? String })
        #expect(types.isSuperset(of: Self.inboundMessageTypes), "\(types.sorted())")
        // In order per contact: the mock numbers its messages in the order it sent them.
        var last: [String: Int] = [:]
        for event in events {
            let from = event["from"] as? String ?? "?"
            let n = Int((event["wamid"] as? String)?.split(separator: ".").last ?? "") ?? -1
            #expect(n > last[from, default: -1], "contact \(from): message \(n) after \(last[from, default: -1])")
            last[from] = n
        }
        // Every media message's file: stored, the bytes the mock holds, servable.
        let mediaTypes: Set<String> = ["image", "video", "audio", "document", "sticker"]
        let mediaEvents = events.filter { mediaTypes.contains($0["message_type"] as? String ?? "") }
        #expect(mediaEvents.count >= 10)
        for event in mediaEvents {
            let media = try #require(event["media"] as? [String: Any], "\(event)")
            let id = try #require(media["id"] as? String)
            let item = try #require(mock.media.item(id))
            #expect(media["sha256"] as? String == item.sha256 && (media["size"] as? NSNumber)?.intValue == item.bytes.count)
            #expect(media["mime_type"] as? String == item.mimeType && media["url"] as? String == "/v1/media/\(id)")
            let served = try await RawHTTPClient.get(port: servePort, path: "/v1/media/\(id)", bearer: Self.adminKey)
            #expect(served.status == 200 && served.body == item.bytes)
        }
        #expect(events.filter { !mediaTypes.contains($0["message_type"] as? String ?? "") }.allSatisfy { $0["media"] is NSNull })
    }
}
