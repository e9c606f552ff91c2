import NIOCore
import SluiceEngine
import Testing
@testable import SluiceServer

/// Inputs the fuzz targets in `Fuzz/` found failing (see tuning/RELIABILITY.md, "Fuzzing"),
/// kept as tests after the fix.
@Suite struct FuzzRegressionTests {
    /// FuzzCampaignCSV: a line of exactly `lineBytesMax` bytes ending `\r\n`, with a chunk
    /// boundary between `\r` and `\n`, was refused as too long (the `\r` was counted).
    @Test func aCROnTheChunkBoundaryDoesNotCountTowardsTheLineBound() throws {
        let body = Array("TO \r\n00002\r\n".utf8)
        for chunkBytes in 1...body.count {
            var splitter = LineSplitter(lineBytesMax: 5)
            var lines: [String] = []
            var offset = 0
            while offset < body.count {
                let end = min(offset + chunkBytes, body.count)
                splitter.append(ByteBuffer(bytes: body[offset..<end]))
                while let line = try splitter.nextLine() { lines.append(String(decoding: line, as: UTF8.self)) }
                offset = end
            }
            if let last = try splitter.finish() { lines.append(String(decoding: last, as: UTF8.self)) }
            #expect(lines == ["TO ", "00002"], "chunks of \(chunkBytes)")
        }
        // One byte more is still too long, wherever the chunks end.
        for chunkBytes in [1, 2, 6, 100] {
            var splitter = LineSplitter(lineBytesMax: 5)
            let long = Array("000002\r\n".utf8)
            #expect(throws: LineSplitter.LineTooLong(line: 1, lineBytesMax: 5), "chunks of \(chunkBytes)") {
                var offset = 0
                while offset < long.count {
                    let end = min(offset + chunkBytes, long.count)
                    splitter.append(ByteBuffer(bytes: long[offset..<end]))
                    while try splitter.nextLine() != nil {}
                    offset = end
                }
                _ = try splitter.finish()
            }
        }
    }

    /// FuzzCampaignNDJSON: a repeated `to` whose first value is not a string is refused
    /// (JSONSerialization would keep the last); the scanner keeps the last of valid repeats.
    @Test func aRepeatedKeyIsReadLikeJSONSerializationOrRefused() throws {
        let line = #"{"params":["a","b"],"to":["a","b"],"to":"966500000003"}"#
        #expect(throws: RecipientLine.Problem("to must be a string", field: "to")) { try RecipientLine.parse(Array(line.utf8)).get() }
        let valid = #"{"to":"966500000001","to":"966500000003"}"#
        #expect(try RecipientLine.parse(Array(valid.utf8)).get() == RecipientInput(to: "966500000003"))
    }

    /// FuzzWebhookPayload: statuses after incoming messages in the same change were checked
    /// against the bound without the messages, so a body could carry more than the bound.
    @Test func statusesAfterMessagesCountTowardsOneBound() throws {
        let body = #"{"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"555"},"messages":[{"id":"wamid.IN1","timestamp":"1","type":"text","text":{"body":"a"}},{"id":"wamid.IN2","timestamp":"2","type":"text","text":{"body":"b"}}],"statuses":[{"id":"wamid.OUT1","status":"rea09551616"}]}}]}]}"#
        #expect(throws: WebhookPayload.ParseError.self) { try WebhookPayload(body: Array(body.utf8), statusesMax: 2) }
        let payload = try WebhookPayload(body: Array(body.utf8), statusesMax: 3)
        #expect(payload.messages.count + payload.updates.count + payload.unmatched == 3)
    }
}
