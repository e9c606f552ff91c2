import Foundation
import Testing
@testable import SluiceCore

@Suite("JSONTree: the webhook parser")
struct JSONTreeTests {
    func parse(_ text: String) throws -> JSONTree { try JSONTree.parse(Array(text.utf8)) }

    @Test func aStatusWebhookReadsAsJSONSerializationReadsIt() throws {
        let text = #"""
            {"object":"whatsapp_business_account","entry":[{"id":"0","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550242922","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgM\u00e9\/x",
            "status":"failed","timestamp":"1749979800","recipient_id":"966500000001","biz_opaque_callback_data":"42",
            "errors":[{"code":131047,"title":"Re-engagement message","error_data":{"details":"more than 24 hours"}}],"pricing":{"billable":false,"rate":1.5e-2}}]}}]}]}
            """#
        let tree = try parse(text)
        let status = try #require(tree["entry"]?[0]?["changes"]?[0]?["value"]?["statuses"]?[0])
        #expect(status["id"]?.string == "wamid.HBgMé/x")
        #expect(status["errors"]?[0]?["code"]?.integer == 131047)
        #expect(status["pricing"]?["billable"] == .bool(false))
        #expect(status["pricing"]?["rate"] == .number("1.5e-2"))
        #expect(tree["entry"]?[1] == nil && tree["nothing"] == nil && status["id"]?[0] == nil)
        // Written back, it is the document JSONSerialization reads.
        let ours = try JSONSerialization.jsonObject(with: Data(tree.write())) as? NSDictionary
        let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
        #expect(ours == theirs)
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\u{8}\u{c}\n\r\tAé😀"))
        #expect(try parse(#""plain ascii and ünïcödé""#) == .string("plain ascii and ünïcödé"))
        // Written back: quotes, backslashes and control characters escaped, '/' not.
        #expect(String(decoding: JSONTree.string("a\"b\\c/d\u{1}\n").write(), as: UTF8.self) == #""a\"b\\c/d\u0001\n""#)
    }

    @Test func aRepeatedNameCountsItsLastValueAndKeysAreSortedWhenWritten() throws {
        let tree = try parse(#"{"b":1,"a":[true,null,{}],"b":2}"#)
        #expect(tree["b"] == .number("2"))
        #expect(String(decoding: tree.write(sortedKeys: true), as: UTF8.self) == #"{"a":[true,null,{}],"b":2}"#)
        #expect(String(decoding: tree.write(sortedKeys: false), as: UTF8.self) == #"{"b":1,"a":[true,null,{}],"b":2}"#)
    }

    @Test(arguments: [
        "", " ", "{", "}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc",
        "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"", "\"a\u{1}b\"", "[1] 2", "{\"a\":1}}", "NaN", "'a'", "1e400", "[-1e309]",
    ])
    func malformedDocumentsAreRefused(_ text: String) {
        #expect(throws: JSONTree.ParseError.self) { try parse(text) }
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) == nil, "JSONSerialization agrees")
    }

    /// RFC 8259 has no trailing commas (Foundation's parser lets them pass; Meta never sends them).
    @Test func trailingCommasAreRefused() {
        #expect(throws: JSONTree.ParseError.self) { try parse("[1,]") }
        #expect(throws: JSONTree.ParseError.self) { try parse(#"{"a":1,}"#) }
    }

    @Test func invalidUTF8AndDeepNestingAreRefusedWithoutCrashing() {
        #expect(throws: JSONTree.ParseError.self) { try JSONTree.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONTree.ParseError.self) { try JSONTree.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONTree.ParseError.self) { try parse(deep) }
        let fine = String(repeating: "[", count: JSONTree.depthMax - 1) + String(repeating: "]", count: JSONTree.depthMax - 1)
        #expect((try? parse(fine)) != nil)
    }

    @Test func integersAreTakenAsWhatTheySay() throws {
        #expect(try parse("131047").integer == 131047)
        #expect(try parse("-5").integer == -5)
        #expect(try parse("1.3e5").integer == 130_000)
        #expect(try parse("1.5").integer == nil)
        #expect(try parse("1e300").integer == nil)
        #expect(try parse("\"7\"").integer == nil)
    }
}
