import Foundation
import FuzzSupport
import SluiceCore

/// `JSONTree`, the parser every webhook body goes through.
///
/// Input: the document's bytes.
///
/// Invariants: a refusal is a `ParseError` within the input; what parses, written back,
/// parses to the same tree, writes the same bytes again (sorted), and is a document
/// `JSONSerialization` reads to the same value; what `JSONSerialization` refuses
/// strictly (no trailing commas) is refused too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let bytes = input.rest()
    let theirs = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    let tree: JSONTree
    do {
        tree = try JSONTree.parse(bytes)
    } catch {
        invariant(error.offset >= 0 && error.offset <= bytes.count, "a ParseError outside the input: \(error)")
        return 0
    }
    let written = tree.write(sortedKeys: false)
    guard let again = try? JSONTree.parse(written) else {
        invariant(false, "a parsed document written back does not parse")
        return 0
    }
    invariant(again == tree, "a parsed document written back parses to another tree")
    let sorted = tree.write(sortedKeys: true)
    invariant((try? JSONTree.parse(sorted))?.write(sortedKeys: true) == sorted, "writing sorted is not stable")
    // Foundation's numbers lose digits past a Double, and it reads documents we refuse
    // for depth; where both read a document they must agree.
    if let theirs, let ours = try? JSONSerialization.jsonObject(with: Data(written), options: [.fragmentsAllowed]) {
        // Compared as JSONSerialization writes both (bridged Bools do not compare as values).
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed]
        invariant(
            (try? JSONSerialization.data(withJSONObject: theirs, options: options)) == (try? JSONSerialization.data(withJSONObject: ours, options: options)),
            "JSONSerialization reads the written form as another value")
    } else if theirs == nil {
        invariant(false, "JSONSerialization refuses a document JSONTree parsed")
    }
    return 0
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}
