import Foundation
import FuzzSupport
import SluiceEngine
@testable import SluiceServer
import SluiceTransport

/// `POST /v1/campaigns` with an NDJSON body: line splitting in chunks, the header line
/// (`CampaignIntakeRoute.ndjsonHeader`), the recipient scanner (`RecipientLine`), intake's
/// recipient check and rendering.
///
/// Input: a chunk-size byte, a line-bound byte, then the body.
///
/// Invariants: the lines do not depend on chunk boundaries (see `splitLinesChecked`); a
/// bad header is an `APIError` 400; the scanner agrees with `JSONSerialization` on every
/// line that is a JSON object (same `to` and `params`, or a refusal when they are missing
/// or of the wrong type); every recipient intake accepts renders to one JSON object.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let options = lineOptions(&input, bodyBytes: count)
    let body = input.rest()
    guard let lines = splitLinesChecked(body, chunkBytes: options.chunkBytes, lineBytesMax: options.lineBytesMax) else { return 0 }
    guard let headerIndex = lines.firstIndex(where: { !BodyLines.isBlank($0) }) else { return 0 }

    var template: MessageTemplate?
    do {
        let (sender, message, _, _) = try CampaignIntakeRoute.ndjsonHeader(lines[headerIndex], number: headerIndex + 1)
        invariant(APIRoutes.isPhoneNumberID(sender), "sender \(sender.debugDescription) passed the header")
        template = try? MessageTemplate(messageObject: message)
    } catch let error as APIError {
        invariant(error.status == .badRequest, "a header was refused with \(error.status): \(error.message)")
    } catch {
        invariant(false, "a header was refused with \(error) (not an APIError: the API would answer 500)")
    }

    for line in lines[(headerIndex + 1)...] where !BodyLines.isBlank(line) {
        let parsed = RecipientLine.parse(line)
        checkAgainstJSONSerialization(line, parsed)
        if case .success(let recipient) = parsed, let template,
            CampaignIntake.problem(recipient: recipient, placeholderCount: template.placeholderCount) == nil
        {
            checkRender(template, to: recipient.to, params: recipient.params)
        }
    }
    return 0
}

/// The scanner must read every JSON object line as `JSONSerialization` does. (It may
/// refuse what `JSONSerialization` refuses for reasons of its own: nesting deeper than
/// `JSONScanner.nestingMax` in a skipped value.)
func checkAgainstJSONSerialization(_ line: [UInt8], _ parsed: Result<RecipientInput, RecipientLine.Problem>) {
    guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else { return }
    var expected: RecipientInput?
    // Only known keys (an unknown one is refused, naming it), `to` a string, `params`
    // strings, `external_id` a string when present.
    let external = object["external_id"]
    if Set(object.keys).isSubset(of: RecipientLine.fields), let to = object["to"] as? String, external == nil || external is String {
        if let params = object["params"] {
            if let list = params as? [Any], list.allSatisfy({ $0 is String }) {
                expected = RecipientInput(to: to, params: list.map { $0 as! String }, externalID: external as? String)
            }
        } else {
            expected = RecipientInput(to: to, params: [], externalID: external as? String)
        }
    }
    switch (expected, parsed) {
    case (let expected?, .success(let recipient)):
        invariant(recipient == expected, "RecipientLine read \(recipient), JSONSerialization \(expected) in \(show(line))")
    case (nil, .failure):
        break
    case (_, .failure(let problem)) where problem.description.contains("nested deeper"):
        break
    case (_, .failure) where hasTrailingComma(line):
        break  // JSONSerialization takes `{"to":"1",}`; JSON (RFC 8259) does not, nor does the scanner.
    case (_, .failure) where occurrences(of: #""to""#, in: line) > 1 || occurrences(of: #""params""#, in: line) > 1
        || occurrences(of: #""external_id""#, in: line) > 1:
        break  // A repeated key: JSONSerialization keeps the last, the scanner refuses a bad first.
    case (let expected?, .failure(let problem)):
        invariant(false, "RecipientLine refused (\(problem)) what JSONSerialization reads as \(expected): \(show(line))")
    case (nil, .success(let recipient)):
        invariant(false, "RecipientLine read \(recipient) where JSONSerialization finds no valid recipient: \(show(line))")
    }
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}

func occurrences(of needle: String, in line: [UInt8]) -> Int {
    let n = Array(needle.utf8)
    guard line.count >= n.count else { return 0 }
    return (0...(line.count - n.count)).count { line[$0..<($0 + n.count)].elementsEqual(n) }
}

/// A `,` followed (after spaces) by `}` or `]`, outside strings or not.
func hasTrailingComma(_ line: [UInt8]) -> Bool {
    var afterComma = false
    for byte in line {
        switch byte {
        case UInt8(ascii: ","): afterComma = true
        case 0x20, 0x09, 0x0d, 0x0a: continue
        case UInt8(ascii: "}"), UInt8(ascii: "]"): if afterComma { return true }
        default: afterComma = false
        }
    }
    return false
}
