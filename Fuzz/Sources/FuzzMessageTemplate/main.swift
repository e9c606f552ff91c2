import FuzzSupport
import SluiceEngine
import SluiceTransport

/// A campaign's message object compiled into a `MessageTemplate` and rendered.
///
/// Input: the message object up to the first 0xFF byte (never part of valid UTF-8), then
/// parameter values separated by 0xFF.
///
/// Invariants: compiling never traps (a refusal names a field and a reason); a template's
/// `placeholderCount` is at most `placeholderNumberMax`; a body rendered with any
/// parameters — as many as the placeholders, fewer or more — is one JSON object with
/// Sluice's envelope.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let pieces = input.rest().split(separator: 0xFF, omittingEmptySubsequences: false)
    let object = Array(pieces[0])
    let params = pieces.dropFirst().map { String(decoding: $0, as: UTF8.self) }
    let template: MessageTemplate
    do {
        template = try MessageTemplate(messageObject: object)
    } catch {
        invariant(!error.field.isEmpty && !error.description.isEmpty, "a template error without a field or reason")
        return 0
    }
    invariant((0...MessageTemplate.placeholderNumberMax).contains(template.placeholderCount), "placeholderCount \(template.placeholderCount)")
    checkRender(template, to: "966500000001", params: params)
    var padded = params
    while padded.count < template.placeholderCount { padded.append("p\"\\\u{1}{{1}}\(padded.count)") }
    checkRender(template, to: "15551234567", params: padded, callbackData: "18446744073709551615")
    return 0
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}
