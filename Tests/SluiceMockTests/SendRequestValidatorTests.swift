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
        #expect(error.code == 100)
        #expect(error.status == .badRequest)
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
