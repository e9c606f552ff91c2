import SluiceCore
import SluiceEngine
import Testing

@testable import SluiceServer

@Suite struct JSONCampaignScannerTests {
    typealias Event = JSONCampaignScanner.Event

    /// Feeds `text` in chunks of `size` bytes; returns the events and what finish threw.
    private func scan(_ text: String, chunk size: Int = .max, elementBytesMax: Int = 1 << 16) throws -> [Event] {
        var scanner = JSONCampaignScanner(memberBytesMax: 1 << 16, elementBytesMax: elementBytesMax)
        var events: [Event] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + min(size, bytes.count))
            try bytes[start..<end].withUnsafeBytes { try scanner.feed($0, into: &events) }
            start = end
        }
        try scanner.finish()
        return events
    }

    private static let body = #"""
        { "sender" : "1065", "message": {"type":"text","text":{"body":"a \"}]\" {{1}}"}},
          "recipients": [ {"to":"966500000001","params":["x,y]"]} ,{"to":"966500000002"}],
          "priority":"marketing", "n": -1.5e3, "ok": true }
        """#

    @Test func membersWholeAndRecipientsOneAtATimeWhateverTheChunks() throws {
        let expected: [Event] = [
            .member(key: "sender", value: Array(#""1065""#.utf8)),
            .member(key: "message", value: Array(#"{"type":"text","text":{"body":"a \"}]\" {{1}}"}}"#.utf8)),
            .recipient(index: 0, bytes: Array(#"{"to":"966500000001","params":["x,y]"]}"#.utf8)),
            .recipient(index: 1, bytes: Array(#"{"to":"966500000002"}"#.utf8)),
            .recipientsEnd(count: 2),
            .member(key: "priority", value: Array(#""marketing""#.utf8)),
            .member(key: "n", value: Array("-1.5e3".utf8)),
            .member(key: "ok", value: Array("true".utf8)),
        ]
        for size in [1, 2, 7, 64, Int.max] {
            #expect(try scan(Self.body, chunk: size) == expected, "chunks of \(size) bytes")
        }
    }

    @Test func anEmptyArrayAndANonArrayRecipients() throws {
        #expect(try scan(#"{"recipients":[]}"#) == [.recipientsEnd(count: 0)])
        #expect(try scan(#"{"recipients":{"to":"1"}}"#) == [.member(key: "recipients", value: Array(#"{"to":"1"}"#.utf8))])
        #expect(try scan("{}") == [])
        #expect(try scan(#"{"a\"b":1}"#) == [.member(key: #"a"b"#, value: [UInt8(ascii: "1")])])
    }

    @Test(arguments: [
        ("", "the request body is empty; a JSON object is expected"),
        ("  [1]", "the request body must be a JSON object"),
        (#"{"a":1"#, "the request body is not valid JSON: it ends before the object is closed"),
        (#"{"a":1} x"#, "the request body is not valid JSON: text after the JSON object at byte 9"),
        (#"{"a":1,}"#, "the request body is not valid JSON: a member name is expected at byte 8"),
        (#"{"a" 1}"#, "the request body is not valid JSON: ':' is expected at byte 6"),
        (#"{"recipients":[{"to":"1"},]}"#, "the request body is not valid JSON: a value is expected at byte 27"),
        (#"{"recipients":[{"to":"1"} {"to":"2"}]}"#, "the request body is not valid JSON: ',' or ']' is expected between recipients at byte 27"),
    ])
    func malformedBodiesAreNamed(body: String, message: String) {
        #expect(throws: JSONCampaignScanner.Malformed(message: message)) { try scan(body, chunk: 3) }
    }

    @Test func anOversizedRecipientIsRefusedWithoutHoldingIt() {
        let long = String(repeating: "9", count: 200)
        #expect(throws: JSONCampaignScanner.TooLong(what: "recipients[1]", bytesMax: 100)) {
            try scan(#"{"recipients":[{"to":"1"},{"to":"\#(long)"}]}"#, elementBytesMax: 100)
        }
    }

    @Test func theRoutesParseIsTheSameWhateverTheChunksAndNamesBadFields() throws {
        let body = Array(#"{"priority":"transactional","recipients":[{"to":"966500000001","params":["a"]}],"sender":"555","message":{"type":"text","text":{"body":"{{1}}"}}}"#.utf8)
        for chunk in [1, 3, 64, 1 << 20] {
            let parsed = try JSONIntake.parse(body, chunkBytes: chunk)
            #expect(parsed.sender == "555" && parsed.recipients == [RecipientInput(to: "966500000001", params: ["a"])])
            #expect(parsed.options.priority == .transactional)
        }
        let cases: [(String, String?)] = [
            (#"{"sender":"555","message":{},"recipients":[{"to":"1"},{"to":1}]}"#, "recipients[1].to"),
            (#"{"sender":"555","message":{},"recipients":[{"to":"1","params":["a",2]}]}"#, "recipients[0].params[1]"),
            (#"{"sender":"555","message":{},"recipients":[7]}"#, "recipients[0]"),
            (#"{"sender":"555","message":{},"recipients":"all"}"#, "recipients"),
            (#"{"sender":"555","message":{},"recipients":[]}"#, "recipients"),
            (#"{"message":{},"recipients":[{"to":"1"}]}"#, "sender"),
            (#"{"sender":"555","message":{},"recipients":[{"to":"1"}],"recipients":[]}"#, "recipients"),
        ]
        for (json, field) in cases {
            #expect(throws: APIError.self, "\(json)") { try JSONIntake.parse(Array(json.utf8), chunkBytes: 5) }
            do {
                _ = try JSONIntake.parse(Array(json.utf8), chunkBytes: 5)
            } catch let error as APIError {
                #expect(error.field == field, "\(json): \(error.message)")
            }
        }
    }
}
