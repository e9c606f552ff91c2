import SluiceCore
import Testing

@testable import SluiceTransport

@Suite struct ResponseDecoderTests {
    private func decode(_ status: Int, _ body: String) -> SendResult {
        ResponseDecoder.decode(httpStatus: status, body: Array(body.utf8))
    }

    @Test func metaSuccessBody() {
        let body = #"{"messaging_product":"whatsapp","contacts":[{"input":"+1 555 123","wa_id":"1555123"}],"messages":[{"id":"wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"}]}"#
        #expect(decode(200, body) == .accepted(wamid: "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"))
    }

    @Test func successBodyWithWhitespaceOtherOrderAndStatusField() {
        let body = """
            {
              "messages" : [ { "message_status" : "accepted", "nested": {"id": "no"}, "id" : "wamid.X==" } ],
              "messaging_product": "whatsapp"
            }
            """
        #expect(decode(200, body) == .accepted(wamid: "wamid.X=="))
        let later = #"{"contacts":[{"input":"]}\"x","wa_id":"1"}],"n":-1.5e3,"t":true,"messages":[{"id":"wamid.Y"}]}"#
        #expect(decode(201, later) == .accepted(wamid: "wamid.Y"))
    }

    @Test func escapedWamidFallsBackToFullParse() {
        #expect(decode(200, #"{"messages":[{"id":"wamid.a\/b"}]}"#) == .accepted(wamid: "wamid.a/b"))
    }

    @Test func metaErrorBody() {
        let body = #"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#
        #expect(decode(400, body) == .rejected(httpStatus: 400, code: 130429, message: "(#130429) Rate limit hit"))
        #expect(decode(200, body) == .rejected(httpStatus: 200, code: 130429, message: "(#130429) Rate limit hit"))
    }

    @Test func errorWithoutMessageOrCode() {
        #expect(decode(401, #"{"error":{"code":190}}"#) == .rejected(httpStatus: 401, code: 190, message: ""))
        #expect(decode(400, #"{"error":{"message":"x","code":"190"}}"#) == .httpError(httpStatus: 400))
        #expect(decode(400, #"{"error":{"message":"x","code":true}}"#) == .httpError(httpStatus: 400))
    }

    @Test(arguments: [
        "", "garbage", "<html>502 Bad Gateway</html>", "{", #"{"messages":[]}"#, #"{"messages":[{"id":""}]}"#,
        #"{"messages":[{"id":"wamid.x"#, #"{"messages":{"id":"wamid.x"}}"#, #"{"messaging_product":"whatsapp"}"#, "[1]", "null",
    ])
    func garbageIsHTTPError(body: String) {
        #expect(decode(200, body) == .httpError(httpStatus: 200))
        #expect(decode(502, body) == .httpError(httpStatus: 502))
    }

    @Test func successShapeOnErrorStatusIsNotAccepted() {
        #expect(decode(500, #"{"messages":[{"id":"wamid.x"}]}"#) == .httpError(httpStatus: 500))
    }
}
