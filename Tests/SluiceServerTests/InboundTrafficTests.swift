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
                // Two of every type, ten with media (fetched before their event goes).
                let wanted = 2 * Self.inboundMessageTypes.count
                try await eventually("\(wanted) incoming messages delivered, 10 with media", within: 30) {
                    let bodies = received.requests.withLock { $0.map(\.body) }
                    let media = bodies.filter { body in Self.mediaTypes.contains { String(decoding: body, as: UTF8.self).contains(#""message_type":"\#($0)""#) } }
                    return bodies.count >= wanted && media.count >= 10
                }
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

    /// Marking an incoming message read: `serve` sends the read receipt to the mock (Meta's
    /// `{"status":"read","message_id":…}`) in one of the number's slots and answers 200 once
    /// the mock has; a wamid the number never received, or an unknown number, is a 404.
    @Test func anIncomingMessageIsMarkedReadAtWhatsApp() async throws {
        try await ServeMockStack.run(prefix: "sluice-read", appSecret: Self.appSecret, adminKey: Self.adminKey, tls: false, webhook: { $0.inboundMessagesPerSecond = 5 }) { stack in
            let phone = "1065000704"
            try await stack.dispatcher.putSender(phoneNumberID: phone, tierMessagesPerSecond: 80, accessToken: "read-token", appSecret: Self.appSecret)
            try stack.mock.register(phoneNumberID: phone, sender: MockSender(accessToken: "read-token"))
            var acknowledged: String?
            try await eventually("an incoming message journaled", within: 15) {
                let list = try await Self.posted(port: stack.mockPort)
                acknowledged = list.first { $0["phone_number_id"] as? String == phone }?["wamid"] as? String
                return acknowledged != nil
            }
            let inbound = try #require(acknowledged)
            let path = "/v1/senders/\(phone)/messages/\(inbound)/read"
            let answer = try await RawHTTPClient.post(port: stack.servePort, path: path, json: "", bearer: Self.adminKey)
            let body = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
            #expect(answer.status == 200 && body?["success"] as? Bool == true && body?["wamid"] as? String == inbound, "\(answer.status) \(String(describing: body))")
            #expect(stack.mock.stats().readReceipts[phone] == 1)

            let unknown = try await RawHTTPClient.post(port: stack.servePort, path: "/v1/senders/\(phone)/messages/wamid.NEVER/read", json: "", bearer: Self.adminKey)
            #expect(unknown.status == 404 && String(decoding: unknown.body, as: UTF8.self).contains(#""field":"wamid""#))
            let other = try await RawHTTPClient.post(port: stack.servePort, path: "/v1/senders/1065000799/messages/\(inbound)/read", json: "", bearer: Self.adminKey)
            #expect(other.status == 404 && String(decoding: other.body, as: UTF8.self).contains(#""field":"phone_number_id""#))
            let anonymous = try await RawHTTPClient.post(port: stack.servePort, path: path, json: "")
            #expect(anonymous.status == 401)
            #expect(stack.mock.stats().readReceipts[phone] == 1, "refused requests never reach WhatsApp")
        }
    }

    /// The mock's `GET /__mock/inbound`: the incoming messages the receiver acknowledged.
    static func posted(port: Int) async throws -> [[String: Any]] {
        let answer = try await RawHTTPClient.get(port: port, path: "/__mock/inbound", bearer: "inspect")
        return (try JSONSerialization.jsonObject(with: Data(answer.body)) as? [[String: Any]]) ?? []
    }

    /// WhatsApp counts a number's throughput inbound and outbound together. Customers
    /// write to a tier-80 number at 20 msg/s (the mock counts each incoming message in the
    /// number's sliding window and refuses sends that would put it over 80 with 130429);
    /// a campaign then goes out at what is left, and the mock refuses next to nothing.
    /// Paced at the tier alone, a fifth of the sends would meet a full window.
    @Test(.enabled(if: WallClockJudges.enabled, WallClockJudges.reason))
    func sendsAndIncomingMessagesTogetherStayWithinTheTierAtTheMock() async throws {
        try await ServeMockStack.run(
            prefix: "sluice-inbound-tier", appSecret: Self.appSecret, adminKey: Self.adminKey, tls: false, webhook: { $0.inboundMessagesPerSecond = 20 }
        ) { stack in
            let phone = "1065000703"
            try await stack.dispatcher.putSender(phoneNumberID: phone, tierMessagesPerSecond: 80, accessToken: "tier-token", appSecret: Self.appSecret)
            try stack.mock.register(phoneNumberID: phone, sender: MockSender(tierMessagesPerSecond: 80, accessToken: "tier-token"))
            try await eventually("a second of incoming messages measured", within: 15) {
                (stack.dispatcher.senderSnapshots().first { $0.phoneNumberID == phone }?.inboundReserveMessagesPerSecond ?? 0) >= 20
            }
            let count = 400
            let receipt = try await stack.dispatcher.submitCampaign(
                senderPhoneNumberID: phone, messageObject: Array(#"{"type":"text","text":{"body":"Hi {{1}}"}}"#.utf8),
                recipients: (0..<count).map { RecipientInput(to: String(966_530_000_000 + $0), params: ["n\($0)"]) })
            try await eventually("the campaign done", within: 40) { try stack.dispatcher.campaignProgress(receipt.id)?.state == "done" }
            let refused = stack.mock.stats().errorsPerSender[phone]?[130429] ?? 0
            let sends = try await Self.times(port: stack.mockPort, path: "/__mock/arrivals?phone_number_id=\(phone)", key: "t")
            let inbound = try await Self.times(port: stack.mockPort, path: "/__mock/inbound", key: "posted_t")
            try #require(sends.count == count, "every message accepted once")
            let span = sends.first!...sends.last!
            let customers = inbound.filter { span.contains($0) }
            #expect(customers.count >= 20 * (Int(span.upperBound - span.lowerBound) / 1_000_000_000), "customers kept writing during the campaign")
            // A stall of the mock's customer clock can bunch their messages; a stray
            // refusal or two is that, a fifth of 400 is pacing at the tier alone.
            #expect(refused <= count / 100, "\(refused) sends refused 130429")
            let mean = try #require(ArrivalWindow.meanRate(sortedTimes: sends))
            #expect((55...60).contains(mean), "\(mean) sends a second: 80 less the reserve of about 21")
            let peak = ArrivalWindow.maxCount(sortedTimes: (sends + customers).sorted())
            #expect(peak <= 81, "sends and incoming messages in one sliding second")
            print("inbound share: \(customers.count) incoming during \(sends.count) sends, \(String(format: "%.1f", mean)) sends/s, 130429 \(refused), most in a sliding second \(peak)")
        }
    }

    /// Sorted wall-clock times under `key` of a mock inspection route's JSON array.
    static func times(port: Int, path: String, key: String) async throws -> [Int64] {
        let answer = try await RawHTTPClient.get(port: port, path: path, bearer: "inspect")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [[String: Any]], "\(path): \(answer.status)")
        return list.compactMap { ($0[key] as? NSNumber)?.int64Value }.sorted()
    }

    static let mediaTypes: Set<String> = ["image", "video", "audio", "document", "sticker"]
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
        let mediaEvents = events.filter { Self.mediaTypes.contains($0["message_type"] as? String ?? "") }
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
        #expect(events.filter { !Self.mediaTypes.contains($0["message_type"] as? String ?? "") }.allSatisfy { $0["media"] is NSNull })
    }
}
