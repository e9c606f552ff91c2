import FuzzSupport
import Hummingbird
import HummingbirdCore
import SluiceEngine
@testable import SluiceServer
import SluiceTransport

/// `POST /v1/campaigns` with a CSV body: line splitting in chunks, the header row
/// (`CSVColumns`, its separator detected), each row (`CSVLine`, `CSVColumns.recipient`), the
/// message object the query makes, intake's recipient check and rendering.
///
/// Input: a chunk-size byte, a line-bound byte, a byte choosing the query's template and
/// language, then the body.
///
/// Invariants: lines do not depend on chunk boundaries; a bad header is an `APIError`
/// 400; the fields of a row that parses, written back as CSV, parse to the same fields; a
/// row without quotes is its comma-separated pieces; an accepted row has one value per
/// parameter column; every recipient intake accepts renders to one JSON object.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let options = lineOptions(&input, bodyBytes: count)
    let queries = [
        "sender=106540352242922&template=order_update&language=en_US",
        "sender=1&template=%7B%7B1%7D%7D&language=%22",
        "sender=106540352242922&template=caf%C3%A9%5C%22&language=pt_BR",
    ]
    let queryText = queries[Int(input.byte()) % queries.count]
    let body = input.rest()
    guard let lines = splitLinesChecked(body, chunkBytes: options.chunkBytes, lineBytesMax: options.lineBytesMax) else { return 0 }

    for line in lines { checkRoundTrip(line) }

    guard let headerIndex = lines.firstIndex(where: { !BodyLines.isBlank($0) }) else { return 0 }
    let columns: CSVColumns
    do {
        columns = try CSVColumns(header: lines[headerIndex], number: headerIndex + 1, separator: nil, mappings: [])
    } catch let error as APIError {
        invariant(error.status == .badRequest, "a header row was refused with \(error.status): \(error.message)")
        return 0
    } catch {
        invariant(false, "a header row was refused with \(error) (not an APIError)")
        return 0
    }
    invariant(columns.names[columns.toColumn] == "to", "the to column is not named to")
    invariant(columns.parameterCount <= CampaignIntakeRoute.parameterColumnsMax, "too many parameter columns passed")

    let query: CampaignIntakeRoute.CSVQuery
    let template: MessageTemplate
    do {
        query = try CampaignIntakeRoute.CSVQuery(URI("/v1/campaigns?" + queryText).queryParameters)
        template = try MessageTemplate(messageObject: try query.messageObject(parameterCount: columns.parameterCount))
    } catch {
        invariant(false, "the query's message object with \(columns.parameterCount) parameters does not compile: \(error)")
        return 0
    }

    for line in lines[(headerIndex + 1)...] where !BodyLines.isBlank(line) {
        guard case .success(let recipient) = columns.recipient(line) else { continue }
        invariant(recipient.params.count == columns.parameterCount, "a row gave \(recipient.params.count) params for \(columns.parameterCount) columns")
        if CampaignIntake.problem(recipient: recipient, placeholderCount: template.placeholderCount) == nil {
            checkRender(template, to: recipient.to, params: recipient.params)
        }
    }
    return 0
}

/// A line's fields written back as CSV parse to the same fields.
func checkRoundTrip(_ line: [UInt8]) {
    guard case .success(let fields) = CSVLine.fields(line, separator: .comma) else {
        invariant(line.contains(UInt8(ascii: "\"")), "a line without quotes was refused: \(show(line))")
        return
    }
    if !line.contains(UInt8(ascii: "\"")) {
        let pieces = line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        invariant(fields == pieces, "a line without quotes did not split at its commas: \(show(line))")
    }
    var written: [UInt8] = []
    for (i, field) in fields.enumerated() {
        if i > 0 { written.append(UInt8(ascii: ",")) }
        let utf8 = Array(field.utf8)
        if utf8.contains(UInt8(ascii: ",")) || utf8.contains(UInt8(ascii: "\"")) {
            written.append(UInt8(ascii: "\""))
            for byte in utf8 {
                if byte == UInt8(ascii: "\"") { written.append(byte) }
                written.append(byte)
            }
            written.append(UInt8(ascii: "\""))
        } else {
            written.append(contentsOf: utf8)
        }
    }
    guard case .success(let again) = CSVLine.fields(written, separator: .comma) else {
        invariant(false, "fields written back as CSV do not parse: \(show(written)) from \(show(line))")
        return
    }
    invariant(again == fields, "fields written back as CSV parse differently: \(show(written)) from \(show(line))")
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}
