import Foundation
import Testing

@testable import SluiceMock

@Suite("Send validation without sockets")
struct SendRequestValidatorTests {
    private func validate(_ json: String) -> Result<ValidatedSend, MetaError> {
        SendRequestValidator.validate(Data(json.utf8))
    }

    @Test func acceptsTemplateAndText() {
        #expect(
            validate(sendBody(to: "+15551234567", callback: "x")) == .success(ValidatedSend(to: "+15551234567", callbackData: "x", templateName: "hello_world"))
        )
        let text = #"{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":"hi"}}"#
        #expect(validate(text) == .success(ValidatedSend(to: "4915112345678", callbackData: nil)))
    }

    @Test func namesTheBadField() {
        guard case .failure(let error) = validate(#"{"messaging_product":"whatsapp","to":"","type":"text","text":{}}"#) else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.field == "to")
        #expect(error.code == 131_009)
        #expect(error.status == .badRequest)
    }

    static let badBodies: [(body: String, code: Int, field: String)] = [
        (#"[1,2]"#, 100, "body"),
        (#"not json"#, 100, "body"),
        (#"{"messaging_product":"sms","to":"1","type":"text","text":{}}"#, 100, "messaging_product"),
        (#"{"messaging_product":"whatsapp","to":"1","type":"fax","fax":{}}"#, 100, "type"),
        (#"{"to":"1","type":"text","text":{}}"#, 131_008, "messaging_product"),
        (#"{"messaging_product":"whatsapp","type":"text","text":{}}"#, 131_008, "to"),
        (#"{"messaging_product":"whatsapp","to":"1","text":{}}"#, 131_008, "type"),
        (#"{"messaging_product":"whatsapp","to":"1","type":"text"}"#, 131_008, "text"),
        (#"{"messaging_product":"whatsapp","to":"1","type":"template","template":{"language":{"code":"en"}}}"#, 131_008, "template.name"),
        (#"{"messaging_product":"whatsapp","to":"12a","type":"text","text":{}}"#, 131_009, "to"),
        (#"{"messaging_product":"whatsapp","to":15551234567,"type":"text","text":{}}"#, 131_009, "to"),
        (#"{"messaging_product":"whatsapp","to":"1","type":"text","text":"hi"}"#, 131_009, "text"),
        (#"{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":""}}"#, 131_009, "template.name"),
        (#"{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"t","components":{}}}"#, 131_009, "template.components"),
        (#"{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"t","components":[{"type":"body","parameters":3}]}}"#,
         131_009, "template.components.parameters"),
    ]

    @Test(arguments: badBodies)
    func answersTheDocumentedCode(_ bad: (body: String, code: Int, field: String)) {
        guard case .failure(let error) = validate(bad.body) else {
            Issue.record("expected a failure for \(bad.body)")
            return
        }
        #expect(error.code == bad.code, "\(bad.body)")
        #expect(error.field == bad.field, "\(bad.body)")
        #expect(error.status == .badRequest)
    }

    @Test func callbackDataOverTheLimitIsInvalid() {
        let limit = SendRequestValidator.callbackDataBytesMax
        let fits = sendBody(to: "15551234567", callback: String(repeating: "é", count: limit / 2))
        #expect((try? validate(fits).get())?.callbackData?.utf8.count == limit)
        guard case .failure(let error) = validate(sendBody(to: "15551234567", callback: String(repeating: "a", count: limit + 1))) else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == 131_009)
        #expect(error.field == "biz_opaque_callback_data")
    }

    /// pywa's `mark_as_read` once got 131008 "to is required": a read receipt is not a send.
    @Test func aReadReceiptIsRecognisedAndChecked() throws {
        func receipt(_ json: String) -> Result<String, MetaError>? { SendRequestValidator.readReceipt(Data(json.utf8)) }
        let pywa = receipt(#"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgL"}"#)
        #expect(try pywa?.get() == "wamid.HBgL")
        let typing = receipt(#"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X","typing_indicator":{"type":"text"}}"#)
        #expect(try typing?.get() == "wamid.X")
        #expect(receipt(#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#) == nil, "a send")
        for (bad, field, code) in [
            (#"{"messaging_product":"whatsapp","status":"read"}"#, "message_id", 131_008),
            (#"{"messaging_product":"whatsapp","status":"delivered","message_id":"wamid.X"}"#, "status", 100),
            (#"{"messaging_product":"whatsapp","status":"read","message_id":7}"#, "message_id", 131_009),
            (#"{"status":"read","message_id":"wamid.X"}"#, "messaging_product", 131_008),
        ] {
            guard case .failure(let error)? = receipt(bad) else {
                Issue.record("\(bad) was accepted")
                continue
            }
            #expect(error.field == field && error.code == code, "\(bad): \(error.field) \(error.code)")
        }
    }

    @Test func recipientsAreDigits() {
        #expect(SendRequestValidator.isRecipient("15551234567"))
        #expect(SendRequestValidator.isRecipient("+15551234567"))
        #expect(!SendRequestValidator.isRecipient("+"))
        #expect(!SendRequestValidator.isRecipient("1555 123"))
        #expect(!SendRequestValidator.isRecipient(String(repeating: "1", count: 21)))
    }

    @Test func bearerTokens() {
        #expect(SendRoute.hasBearerToken("Bearer abc"))
        #expect(SendRoute.hasBearerToken("bearer abc"))
        #expect(!SendRoute.hasBearerToken("Bearer "))
        #expect(!SendRoute.hasBearerToken("Bearer"))
        #expect(!SendRoute.hasBearerToken("Basic abc"))
    }

    @Test func recordLineEscapes() throws {
        let arrival = Arrival(timeNanoseconds: 42, phoneNumberID: "1", to: "2", callbackData: "a\"b\\c\n\u{1}", wamid: "wamid.x")
        var bytes: [UInt8] = []
        arrival.appendJSONLine(to: &bytes)
        #expect(try JSONDecoder().decode(Arrival.self, from: Data(bytes)) == arrival)
        let noCallback = Arrival(timeNanoseconds: 1, phoneNumberID: "1", to: "2", callbackData: nil, wamid: "w")
        bytes = []
        noCallback.appendJSONLine(to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"t":1,"phone_number_id":"1","to":"2","callback":null,"wamid":"w"}"#)
    }
}
