import NIOCore
import SluiceEngine
import Testing
@testable import SluiceServer

/// The pure pieces of streamed intake: line splitting across chunk boundaries, the NDJSON
/// recipient scanner and CSV fields.
@Suite struct IntakeParsingTests {
    func split(_ text: String, chunkBytes: Int, lineBytesMax: Int = 64) throws(LineSplitter.LineTooLong) -> [String] {
        let bytes = Array(text.utf8)
        var splitter = LineSplitter(lineBytesMax: lineBytesMax)
        var lines: [String] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunkBytes, bytes.count)
            splitter.append(ByteBuffer(bytes: bytes[offset..<end]))
            while let line = try splitter.nextLine() { lines.append(String(decoding: line, as: UTF8.self)) }
            offset = end
        }
        if let last = try splitter.finish() { lines.append(String(decoding: last, as: UTF8.self)) }
        #expect(splitter.lineNumber == lines.count)
        return lines
    }

    @Test func linesAreTheSameWhateverTheChunkBoundaries() throws {
        let text = "first\r\nsecond\n\nfourth line\r\nlast"
        let expected = ["first", "second", "", "fourth line", "last"]
        for chunk in [1, 2, 3, 5, 7, 100] {
            #expect(try split(text, chunkBytes: chunk) == expected, "chunks of \(chunk)")
        }
        #expect(try split("a\nb\n", chunkBytes: 1) == ["a", "b"], "a final newline ends no extra line")
    }

    @Test func aLineOverTheBoundNamesItsNumber() throws {
        let text = "short\nalso short\n" + String(repeating: "x", count: 65) + "\nafter"
        for chunk in [1, 4, 1_000] {
            #expect(throws: LineSplitter.LineTooLong(line: 3, lineBytesMax: 64), "chunks of \(chunk)") { try split(text, chunkBytes: chunk) }
        }
        #expect(throws: LineSplitter.LineTooLong(line: 1, lineBytesMax: 64)) { try split(String(repeating: "y", count: 65), chunkBytes: 10) }
        #expect(try split(String(repeating: "z", count: 64) + "\r\n", chunkBytes: 1_000).first?.count == 64, "exactly the bound passes")
    }

    @Test func recipientLinesParseStrictly() throws {
        func ok(_ line: String) -> RecipientInput? { try? RecipientLine.parse(Array(line.utf8)).get() }
        func problem(_ line: String) -> String? {
            if case .failure(let p) = RecipientLine.parse(Array(line.utf8)) { return p.description }
            return nil
        }
        #expect(ok(#"{"to":"966500000001","params":["a","b"]}"#) == RecipientInput(to: "966500000001", params: ["a", "b"]))
        #expect(ok(#" { "params" : [ ] , "to" : "1" } "#) == RecipientInput(to: "1", params: []))
        // Another key is refused, with the known one it is close to.
        #expect(problem(#"{"to":"1","prams":["a"]}"#) == "prams is not a field here (did you mean params?); known: external_id, params, to")
        #expect(problem(#"{"to":"1","extra":{"a":[1,{"b":null}],"c":"}"},"n":-1.5e3,"t":true}"#) == "extra is not a field here; known: external_id, params, to")
        #expect(ok(#"{"to":"1","params":["\u00e9\n\"\\\/","\ud83d\ude00"]}"#)?.params == ["é\n\"\\/", "😀"])
        #expect(problem(#"{"params":["a"]}"#) == "to is required")
        #expect(problem(#"{"to":1}"#) == "to must be a string")
        #expect(problem(#"{"to":"1","params":"a"}"#) == "params must be an array of strings")
        #expect(problem(#"{"to":"1","params":["a",2]}"#) == "params[1] must be a string")
        #expect(problem("[1]") == "the line is not a JSON object")
        #expect(problem(#"{"to":"1"} x"#)?.contains("text after the object") == true)
        #expect(problem(#"{"to":"1""#) != nil)
        #expect(problem(#"{"to":"1\"}"#) != nil)
        #expect(problem(#"{"to":"\ud800"}"#) != nil, "a lone surrogate")
        #expect(problem(#"{"to":"1","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#) != nil, "nesting is bounded")
        // The value of an unknown key is held to JSON as strictly as the rest: a line that
        // is not JSON says so first.
        #expect(problem(#"{"to":"1","x":[],"y":{},"z":[0,-0.5,1e9,2E-3,false,null,{"k":["v"]}]}"#) == "x is not a field here; known: external_id, params, to")
        #expect(problem(#"{"to":"1","x":[}"#) == "invalid JSON at byte 16: a value is expected")
        #expect(problem(#"{"to":"1","x":{]}"#) == "invalid JSON at byte 16: a key is expected")
        #expect(problem(#"{"to":"1","x":abc}"#) == "invalid JSON at byte 15: a value is expected")
        #expect(problem(#"{"to":"1","x":tru}"#) == "invalid JSON at byte 15: a value is expected")
        #expect(problem(#"{"to":"1","x":01}"#) == "invalid JSON at byte 16: ',' or '}' is expected")
        #expect(problem(#"{"to":"1","x":1.}"#) == "invalid JSON at byte 17: a digit is expected")
        #expect(problem(#"{"to":"1","x":[1 2]}"#) == "invalid JSON at byte 18: ',' or ']' is expected")
        #expect(problem(#"{"to":"1","x":{"a" 1}}"#) == "invalid JSON at byte 20: ':' is expected")
        #expect(problem(#"{"to":"1","x":[1,]}"#) == "invalid JSON at byte 18: a value is expected")
        #expect(problem(#"{"to":"1","x":[1"#) == "invalid JSON: an array is not closed")
    }

    @Test func csvFieldsFollowRFC4180Quoting() {
        func fields(_ line: String) -> [String]? { try? CSVLine.fields(Array(line.utf8), separator: .comma).get() }
        #expect(fields("a,b,c") == ["a", "b", "c"])
        #expect(fields("a,,") == ["a", "", ""])
        #expect(fields("") == [""])
        #expect(fields(#""a,b","say ""hi""",c"#) == ["a,b", #"say "hi""#, "c"])
        #expect(fields(#""""#) == [""])
        #expect(fields(#""open,b"#) == nil)
        #expect(fields(#""a"b,c"#) == nil)
    }

    @Test func contentTypesPickTheFormat() {
        #expect(CampaignFormat(contentType: "application/x-ndjson") == .ndjson)
        #expect(CampaignFormat(contentType: "Application/X-NDJSON; charset=utf-8") == .ndjson)
        #expect(CampaignFormat(contentType: "text/csv;charset=utf-8") == .csv)
        #expect(CampaignFormat(contentType: "application/json") == .json)
        #expect(CampaignFormat(contentType: nil) == .json)
    }
}
