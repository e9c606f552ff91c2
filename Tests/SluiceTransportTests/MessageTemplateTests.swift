import Foundation
import Testing

@testable import SluiceTransport

@Suite struct MessageTemplateTests {
    private func compile(_ json: String) throws(TemplateError) -> MessageTemplate {
        try MessageTemplate(messageObject: Array(json.utf8))
    }

    private func render(_ template: MessageTemplate, to: String = "15551234567", params: [String], callbackData: String = "42") throws -> [String: Any] {
        var body: [UInt8] = []
        template.render(to: to, params: params, callbackData: callbackData, into: &body)
        let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return try #require(object)
    }

    @Test func textRendersEnvelopeAndParameter() throws {
        let template = try compile(#"{"type":"text","text":{"body":"Hi {{1}}, see https://x.example/a"}}"#)
        #expect(template.placeholderCount == 1)
        let body = try render(template, params: ["Ann"])
        #expect(body["messaging_product"] as? String == "whatsapp")
        #expect(body["recipient_type"] as? String == "individual")
        #expect(body["to"] as? String == "15551234567")
        #expect(body["biz_opaque_callback_data"] as? String == "42")
        #expect(body["type"] as? String == "text")
        #expect((body["text"] as? [String: Any])?["body"] as? String == "Hi Ann, see https://x.example/a")
    }

    @Test func templateSplicesEscapedParametersAndDropsClientEnvelope() throws {
        let json = #"""
            {"to":"999","messaging_product":"sms","recipient_type":"group","biz_opaque_callback_data":"theirs",
             "type":"template","template":{"name":"order_update","language":{"code":"en_US"},
             "components":[{"type":"body","parameters":[{"type":"text","text":"{{1}}"},{"type":"text","text":"{{2}} and {{3}}"},
             {"type":"text","text":"again {{1}}"}]}]},"preview":true,"count":3}
            """#
        let template = try compile(json)
        #expect(template.placeholderCount == 3)
        let params = ["quote \" backslash \\ slash /", "line\nbreak\ttab\r\u{01}", "héllo 世界 👋🏽"]
        let body = try render(template, to: "4915112345678", params: params, callbackData: "msg-7 \"x\"")
        #expect(body["to"] as? String == "4915112345678")
        #expect(body["messaging_product"] as? String == "whatsapp")
        #expect(body["recipient_type"] as? String == "individual")
        #expect(body["biz_opaque_callback_data"] as? String == "msg-7 \"x\"")
        #expect(body["preview"] as? Bool == true)
        #expect(body["count"] as? Int == 3)
        let templateObject = try #require(body["template"] as? [String: Any])
        #expect(templateObject["name"] as? String == "order_update")
        #expect((templateObject["language"] as? [String: Any])?["code"] as? String == "en_US")
        let components = try #require(templateObject["components"] as? [[String: Any]])
        let texts = try #require(components.first?["parameters"] as? [[String: Any]]).map { $0["text"] as? String }
        #expect(texts == [params[0], "\(params[1]) and \(params[2])", "again \(params[0])"])
    }

    @Test func missingParameterRendersEmptyAndBufferIsAppended() throws {
        let template = try compile(#"{"type":"text","text":{"body":"a{{2}}b"}}"#)
        #expect(template.placeholderCount == 2)
        var body: [UInt8] = Array("prefix".utf8)
        template.render(to: "1", params: [], callbackData: "", into: &body)
        #expect(body.starts(with: Array("prefix{".utf8)))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.dropFirst(6))) as? [String: Any])
        #expect((object["text"] as? [String: Any])?["body"] as? String == "ab")
    }

    @Test func bracesThatAreNotPlaceholdersStayLiteral() throws {
        let template = try compile(#"{"type":"text","text":{"body":"{{x}} {1} {{}} {{12a}} }}{{"}}"#)
        #expect(template.placeholderCount == 0)
        let body = try render(template, params: [])
        #expect((body["text"] as? [String: Any])?["body"] as? String == "{{x}} {1} {{}} {{12a}} }}{{")
    }

    @Test(arguments: [
        (#"[1,2]"#, "message must be a JSON object"),
        (#"{"type":"#, "message is not valid JSON"),
        (#"not json"#, "message is not valid JSON"),
        (#"{}"#, "message.type is required"),
        (#"{"type":7}"#, "message.type must be a non-empty string"),
        (#"{"type":"text"}"#, "message.text is required"),
        (#"{"type":"text","text":"hi"}"#, "message.text must be an object"),
        (#"{"type":"text","text":{}}"#, "message.text.body is required"),
        (#"{"type":"text","text":{"body":1}}"#, "message.text.body must be a string"),
        (#"{"type":"template","template":{}}"#, "message.template.name is required"),
        (#"{"type":"template","template":{"name":5}}"#, "message.template.name must be a string"),
        (#"{"type":"template","template":{"name":"x"}}"#, "message.template.language is required"),
        (#"{"type":"template","template":{"name":"x","language":"en"}}"#, "message.template.language must be an object"),
        (#"{"type":"template","template":{"name":"x","language":{}}}"#, "message.template.language.code is required"),
        (#"{"type":"template","template":{"name":"x","language":{"code":1}}}"#, "message.template.language.code must be a string"),
        (#"{"type":"template","template":{"name":"x","language":{"code":"en"},"components":{}}}"#, "message.template.components must be an array"),
        (#"{"type":"template","template":{"name":"x","language":{"code":"en"},"components":[{}]}}"#, "message.template.components[0].type is required"),
        (#"{"type":"template","template":{"name":"x","language":{"code":"en"},"components":[{"type":"body","parameters":1}]}}"#, "message.template.components[0].parameters must be an array"),
        (#"{"type":"text","text":{"body":"{{0}}"}}"#, "placeholder {{0}} is not valid (they start at {{1}})"),
        (#"{"type":"text","text":{"body":"{{101}}"}}"#, "placeholder {{101}} is not valid (at most {{100}})"),
    ])
    func invalidObjectsNameTheField(json: String, expected: String) {
        #expect(throws: TemplateError.self) { try compile(json) }
        do {
            _ = try compile(json)
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func escapingMatchesJSONSerialization() throws {
        var all = ""
        for scalar in 0..<0x80 { all.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        all += "é😀\u{2028}"
        var out: [UInt8] = Array("\"".utf8)
        JSONEscaping.appendStringContents(all, into: &out)
        out.append(UInt8(ascii: "\""))
        let decoded = try JSONSerialization.jsonObject(with: Data(out), options: [.fragmentsAllowed]) as? String
        #expect(decoded == all)
    }

    // MARK: Files of the media volume

    @Test func aMediaReferenceIsFoundAndSentByTheNumbersMetaMediaID() throws {
        let json = #"{"type":"image","image":{"media":"up_1","caption":"Hi {{1}}"}}"#
        let plain = try compile(json)
        #expect(plain.media == [MessageTemplate.MediaUse(id: "up_1", kind: .image, field: "message.image.media")])
        #expect(!plain.mediaResolved, "without ids it only validates")
        let template = try MessageTemplate(messageObject: Array(json.utf8), mediaIDs: ["up_1": "7700000000000001"])
        #expect(template.mediaResolved && template.placeholderCount == 1)
        let image = try #require(try render(template, params: ["Ann"])["image"] as? [String: Any])
        #expect(image["id"] as? String == "7700000000000001" && image["media"] == nil && image["caption"] as? String == "Hi Ann")
    }

    @Test func aTemplateHeaderParameterMayNameAFile() throws {
        let json = #"{"type":"template","template":{"name":"offer","language":{"code":"en"},"components":[{"type":"header","parameters":[{"type":"document","document":{"media":"up_2","filename":"a.pdf"}}]},{"type":"body","parameters":[{"type":"text","text":"{{1}}"}]}]}}"#
        #expect(try compile(json).media.map(\.kind) == [.document])
        #expect(try compile(json).media.first?.field == "message.template.components[0].parameters[0].document.media")
        let template = try MessageTemplate(messageObject: Array(json.utf8), mediaIDs: ["up_2": "m2"])
        let body = try render(template, params: ["x"])
        let components = try #require((body["template"] as? [String: Any])?["components"] as? [[String: Any]])
        let document = try #require((components[0]["parameters"] as? [[String: Any]])?.first?["document"] as? [String: Any])
        #expect(document["id"] as? String == "m2" && document["media"] == nil && document["filename"] as? String == "a.pdf")
        #expect(((components[1]["parameters"] as? [[String: Any]])?.first?["text"] as? String) == "x")
    }

    @Test func aMediaReferenceMustBeOneSourceAndAString() {
        #expect(throws: TemplateError(field: "message.image.media", description: "message.image names both media and link; give one")) {
            try compile(#"{"type":"image","image":{"media":"up_1","link":"https://x.example/a.png"}}"#)
        }
        #expect(throws: TemplateError(field: "message.video.media", description: "message.video.media must be a media id from POST /v1/media")) {
            try compile(#"{"type":"video","video":{"media":7}}"#)
        }
        #expect(throws: TemplateError(field: "message.image.media", description: "media up_9 has no WhatsApp media id for this number")) {
            try MessageTemplate(messageObject: Array(#"{"type":"image","image":{"media":"up_9"}}"#.utf8), mediaIDs: ["up_1": "m1"])
        }
        // Meta's own `id` and `link` pass through as before.
        #expect(((try? compile(#"{"type":"image","image":{"id":"123"}}"#))?.mediaResolved) == true)
    }
}
