import Foundation
import SluiceCore
import SluiceCrypto
import SluiceEngine
import SluiceMock
import SluiceTestSupport
import Testing

/// Files campaigns send: `POST /v1/media` stores one, a campaign names it
/// (`{"image": {"media": "<id>"}}`, or a template header parameter), `serve` uploads it once
/// per number to WhatsApp (the mock, multipart, over TLS) and sends each message by that
/// number's Meta media id. The mock refuses (131053) an id its number did not upload or
/// one past its lifetime, so every message that arrives proves the id was right.
@Suite(.serialized) struct OutboundMediaTests {
    static let adminKey = "outbound-media-admin-key-0123"
    static let appSecret = "outbound-media-app-secret"

    static func png(_ count: Int) -> [UInt8] { [0x89, 0x50, 0x4e, 0x47] + (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) } }

    typealias Answer = JSONAnswer

    static func upload(_ port: Int, _ bytes: [UInt8], type: String?, declaredLength: Int? = nil) async throws -> (status: Int, body: [UInt8]) {
        try await RawHTTPClient.post(port: port, path: "/v1/media", body: bytes, contentType: type, bearer: adminKey, declaredLength: declaredLength)
    }

    static func campaign(_ port: Int, sender: String, message: String, recipients: Range<Int>) async throws -> (status: Int, body: [UInt8]) {
        let list = recipients.map { #"{"to":"\#(966_530_000_000 + $0)","params":["n\#($0)"]}"# }.joined(separator: ",")
        return try await RawHTTPClient.post(
            port: port, path: "/v1/campaigns", json: #"{"sender":"\#(sender)","message":\#(message),"recipients":[\#(list)]}"#, bearer: adminKey)
    }

    static func imageMessage(_ media: String) -> String { #"{"type":"image","image":{"media":"\#(media)","caption":"Hi {{1}}"}}"# }

    static func headerTemplate(_ media: String) -> String {
        #"{"type":"template","template":{"name":"offer","language":{"code":"en"},"components":[{"type":"header","parameters":[{"type":"image","image":{"media":"\#(media)"}}]},{"type":"body","parameters":[{"type":"text","text":"{{1}}"}]}]}}"#
    }

    static func campaignID(_ json: [String: Any]) throws -> CampaignID {
        let text = try #require(json["id"] as? String)
        return CampaignID(try #require(UInt64(text)))
    }

    @Test func anUploadedImageIsSentByEachNumbersOwnMediaIDUploadedOnce() async throws {
        try await ServeMockStack.run(prefix: "sluice-outmedia", appSecret: Self.appSecret, adminKey: Self.adminKey) { stack in
            try await Self.sendsOnce(stack)
        }
    }

    static func sendsOnce(_ stack: ServeMockStack) async throws {
        let a = "1065000811"
        let b = "1065000812"
        for phone in [a, b] {
            try stack.mock.register(phoneNumberID: phone, sender: MockSender(accessToken: "token-\(phone)"))
            try await stack.dispatcher.putSender(phoneNumberID: phone, tierMessagesPerSecond: 200, accessToken: "token-\(phone)", appSecret: Self.appSecret)
        }
        let bytes = Self.png(30_000)
        let stored = Answer(try await Self.upload(stack.servePort, bytes, type: "image/png"))
        #expect(stored.status == 201, "\(stored)")
        let id = try #require(stored.json["id"] as? String)
        #expect(id.hasPrefix("up_"))
        #expect(stored.json["sha256"] as? String == Hex.encode(Digest.sha256(bytes)))
        #expect(stored.json["size"] as? Int == bytes.count && stored.json["mime_type"] as? String == "image/png")
        let served = try await RawHTTPClient.get(port: stack.servePort, path: "/v1/media/\(id)", bearer: Self.adminKey)
        #expect(served.status == 200 && served.body == bytes)

        let first = Answer(try await Self.campaign(stack.servePort, sender: a, message: Self.imageMessage(id), recipients: 0..<30))
        let second = Answer(try await Self.campaign(stack.servePort, sender: b, message: Self.imageMessage(id), recipients: 30..<60))
        let third = Answer(try await Self.campaign(stack.servePort, sender: b, message: Self.headerTemplate(id), recipients: 60..<90))
        #expect(first.status == 202 && second.status == 202 && third.status == 202, "\(first) \(second) \(third)")
        let ids = [try Self.campaignID(first.json), try Self.campaignID(second.json), try Self.campaignID(third.json)]
        try await eventually("three campaigns done", within: 30) {
            try ids.allSatisfy { try stack.dispatcher.campaignProgress($0)?.state == "done" }
        }
        for id in ids {
            let done = try #require(try stack.dispatcher.campaignProgress(id))
            #expect(done.sent == 30 && done.failed == 0, "campaign \(id): \(done)")
        }
        // Once per number, whichever campaigns and however many messages send it.
        #expect(stack.mock.media.uploads(phoneNumberID: a).count == 1)
        #expect(stack.mock.media.uploads(phoneNumberID: b).count == 1)
        #expect(stack.mock.media.uploads(phoneNumberID: a).first?.sha256 == Hex.encode(Digest.sha256(bytes)), "the bytes reached WhatsApp whole")
        #expect(stack.mock.recorder.counts()[a] == 30 && stack.mock.recorder.counts()[b] == 60)
    }

    @Test func badFilesAndBadReferencesAreRefusedWithTheirReason() async throws {
        try await ServeMockStack.run(prefix: "sluice-outmedia-bad", appSecret: Self.appSecret, adminKey: Self.adminKey) { stack in
            try await Self.refusals(stack)
        }
    }

    static func refusals(_ stack: ServeMockStack) async throws {
        let phone = "1065000813"
        try await stack.dispatcher.putSender(phoneNumberID: phone, tierMessagesPerSecond: 80, accessToken: "token", appSecret: Self.appSecret)
        func refused(_ answer: Answer, _ status: Int, field: String? = nil, saying text: String) {
            let error = answer.json["error"] as? [String: Any]
            let message = error?["message"] as? String ?? ""
            #expect(answer.status == status && message.contains(text), "\(answer)")
            if let field { #expect(error?["field"] as? String == field, "\(answer)") }
        }
        refused(Answer(try await Self.upload(stack.servePort, Self.png(10), type: nil)), 400, field: "Content-Type", saying: "Content-Type is required")
        refused(Answer(try await Self.upload(stack.servePort, Self.png(10), type: "png")), 400, field: "Content-Type", saying: "not a MIME type")
        refused(Answer(try await Self.upload(stack.servePort, [], type: "image/png")), 400, saying: "empty")
        refused(Answer(try await Self.upload(stack.servePort, Self.png(10), type: "multipart/form-data; boundary=x")), 400, saying: "not a multipart form")
        refused(Answer(try await Self.upload(stack.servePort, Self.png(10), type: "image/png", declaredLength: 6 << 20)), 413, saying: "limit for image/png")

        let stored = Answer(try await Self.upload(stack.servePort, Self.png(2_000), type: "image/png"))
        let id = try #require(stored.json["id"] as? String)
        refused(
            Answer(try await Self.campaign(stack.servePort, sender: phone, message: Self.imageMessage("up_nothing"), recipients: 0..<2)), 400,
            saying: "message.image.media: no media 'up_nothing' was uploaded")
        refused(
            Answer(try await Self.campaign(stack.servePort, sender: phone, message: #"{"type":"video","video":{"media":"\#(id)"}}"#, recipients: 0..<2)), 400,
            saying: "cannot be sent as video: a video must be video/*")
        refused(
            Answer(try await Self.campaign(stack.servePort, sender: phone, message: #"{"type":"image","image":{"media":"\#(id)","link":"https://x"}}"#, recipients: 0..<2)),
            400, saying: "names both media and link")
        let campaigns = try stack.dispatcher.campaignPage(after: nil, limit: 10, state: nil).campaigns
        #expect(campaigns.isEmpty, "a refused campaign journals nothing")
    }

    /// The number's token is not the one WhatsApp knows: the upload is refused, and the
    /// campaign is paused with the reason before any message is sent. Resumed once the
    /// token is right, it uploads and sends.
    @Test func aRefusedUploadPausesTheCampaignWithItsReasonAndResumeTriesAgain() async throws {
        try await ServeMockStack.run(prefix: "sluice-outmedia-refused", appSecret: Self.appSecret, adminKey: Self.adminKey) { stack in
            try await Self.refusedUpload(stack)
        }
    }

    static func refusedUpload(_ stack: ServeMockStack) async throws {
        let phone = "1065000814"
        try stack.mock.register(phoneNumberID: phone, sender: MockSender(accessToken: "old-token"))
        try await stack.dispatcher.putSender(phoneNumberID: phone, tierMessagesPerSecond: 80, accessToken: "new-token", appSecret: Self.appSecret)
        let stored = Answer(try await Self.upload(stack.servePort, Self.png(1_000), type: "image/jpeg"))
        let id = try #require(stored.json["id"] as? String)
        let submitted = Answer(try await Self.campaign(stack.servePort, sender: phone, message: Self.imageMessage(id), recipients: 0..<10))
        let campaign = try Self.campaignID(submitted.json)
        try await eventually("the campaign paused", within: 15) { try stack.dispatcher.campaignProgress(campaign)?.state == "paused" }
        let paused = try await RawHTTPClient.get(port: stack.servePort, path: "/v1/campaigns/\(campaign)", bearer: Self.adminKey)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(paused.body)) as? [String: Any])
        let reason = try #require(json["pause_reason"] as? String, "\(json)")
        #expect(reason.contains("uploading media \(id)") && reason.contains("HTTP 401"), "\(reason)")
        #expect(stack.mock.recorder.counts()[phone] == nil, "nothing was sent without the file")

        try stack.mock.register(phoneNumberID: phone, sender: MockSender(accessToken: "new-token"))
        let resumed = try await RawHTTPClient.post(port: stack.servePort, path: "/v1/campaigns/\(campaign)/resume", json: "", bearer: Self.adminKey)
        #expect(resumed.status == 200)
        try await eventually("the campaign done after the resume", within: 15) { try stack.dispatcher.campaignProgress(campaign)?.state == "done" }
        let done = try #require(try stack.dispatcher.campaignProgress(campaign))
        #expect(done.sent == 10 && done.failed == 0 && done.pauseReason == nil)
        #expect(stack.mock.media.uploads(phoneNumberID: phone).count == 1)
    }

    /// Meta forgets an upload after its lifetime (here 3 s at the mock, which then answers
    /// 131053): `serve` uploads again before that, so a campaign longer than the lifetime
    /// loses nothing. (That the old id keeps sending meanwhile is `DispatchCoreMediaTests`'.)
    @Test func anUploadNearItsEndIsRenewedWhileTheCampaignSends() async throws {
        try await ServeMockStack.run(
            prefix: "sluice-outmedia-renew", appSecret: Self.appSecret, adminKey: Self.adminKey,
            mock: { $0.mediaUploadLifetimeSeconds = 3 },
            engine: {
                $0.mediaUploadLifetimeMilliseconds = 3_000
                $0.mediaUploadRefreshMilliseconds = 1_500
                $0.mediaUploadMarginMilliseconds = 500
                $0.mediaUploadCheckIntervalMilliseconds = 100
            }
        ) { stack in
            try await Self.renewal(stack)
        }
    }

    static func renewal(_ stack: ServeMockStack) async throws {
        let phone = "1065000815"
        try stack.mock.register(phoneNumberID: phone, sender: MockSender(accessToken: "token"))
        try await stack.dispatcher.putSender(phoneNumberID: phone, tierMessagesPerSecond: 25, accessToken: "token", appSecret: Self.appSecret)
        let stored = Answer(try await Self.upload(stack.servePort, Self.png(4_000), type: "image/png"))
        let id = try #require(stored.json["id"] as? String)
        // 200 messages at 25 msg/s: 8 s, more than twice the lifetime.
        let submitted = Answer(try await Self.campaign(stack.servePort, sender: phone, message: Self.imageMessage(id), recipients: 0..<200))
        let campaign = try Self.campaignID(submitted.json)
        try await eventually("the campaign done", within: 30) { try stack.dispatcher.campaignProgress(campaign)?.state == "done" }
        let done = try #require(try stack.dispatcher.campaignProgress(campaign))
        #expect(done.sent == 200 && done.failed == 0, "\(done)")
        #expect(stack.mock.media.uploads(phoneNumberID: phone).count >= 3, "renewed every ~1.5 s over 8 s")
    }
}
