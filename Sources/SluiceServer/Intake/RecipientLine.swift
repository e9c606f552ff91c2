import SluiceEngine

/// One NDJSON recipient line, `{"to":"966500000001","params":["Ann","42"]}`, read without
/// building a JSON tree (a million lines must parse in about a second). Any other key, or
/// anything that is not one JSON object, is refused with a reason.
enum RecipientLine {
    static let fields: Set<String> = ["to", "params", "external_id"]

    /// The recipient, or why the line is not one.
    static func parse(_ line: [UInt8]) -> Result<RecipientInput, Problem> {
        line.withUnsafeBufferPointer { bytes in
            var parser = JSONScanner(bytes)
            return Result { () throws(Problem) -> RecipientInput in try parser.recipient() }
        }
    }

    /// A JSON string literal (with its quotes) unescaped; nil when it is not one.
    static func unescapedString(_ quoted: [UInt8]) -> String? {
        quoted.withUnsafeBufferPointer { bytes in
            var parser = JSONScanner(bytes)
            guard bytes.first == UInt8(ascii: "\""), let s = try? parser.string(), parser.i == bytes.count else { return nil }
            return s
        }
    }

    struct Problem: Error, Equatable, CustomStringConvertible {
        var description: String
        /// The recipient's field at fault (`to`, `params`, `params[1]`); nil for the whole.
        var field: String?
        init(_ description: String, field: String? = nil) {
            self.description = description
            self.field = field
        }
    }
}

/// A strict scanner over one line of JSON: just what `RecipientLine` needs.
struct JSONScanner {
    typealias Problem = RecipientLine.Problem
    static let nestingMax = 32

    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private var atEnd: Bool { i >= bytes.count }

    mutating func recipient() throws(Problem) -> RecipientInput {
        skipSpace()
        guard !atEnd, bytes[i] == UInt8(ascii: "{") else { throw Problem("the line is not a JSON object") }
        i += 1
        var to: String?
        var params: [String] = []
        var externalID: String?
        var unknown: String?
        skipSpace()
        if peek() == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                guard peek() == UInt8(ascii: "\"") else { throw Problem("invalid JSON at byte \(i + 1): a key is expected") }
                let key = try string()
                skipSpace()
                guard peek() == UInt8(ascii: ":") else { throw Problem("invalid JSON at byte \(i + 1): ':' is expected") }
                i += 1
                skipSpace()
                switch key {
                case "to":
                    guard peek() == UInt8(ascii: "\"") else { throw Problem("to must be a string", field: "to") }
                    to = try string()
                case "params":
                    params = try stringArray()
                case "external_id":
                    guard peek() == UInt8(ascii: "\"") else { throw Problem("external_id must be a string", field: "external_id") }
                    externalID = try string()
                default:
                    // Refused once the line is known to be JSON: a misspelt `params` would
                    // send every message without its values.
                    unknown = unknown ?? key
                    try skipValue()
                }
                skipSpace()
                guard let c = peek() else { throw Problem("invalid JSON: the object is not closed") }
                i += 1
                if c == UInt8(ascii: "}") { break }
                guard c == UInt8(ascii: ",") else { throw Problem("invalid JSON at byte \(i): ',' or '}' is expected") }
            }
        }
        skipSpace()
        guard atEnd else { throw Problem("invalid JSON at byte \(i + 1): text after the object") }
        if let unknown {
            let error = KnownFields.unknown(unknown, RecipientLine.fields)
            throw Problem(error.message, field: error.field)
        }
        guard let to else { throw Problem("to is required", field: "to") }
        return RecipientInput(to: to, params: params, externalID: externalID)
    }

    private mutating func stringArray() throws(Problem) -> [String] {
        guard peek() == UInt8(ascii: "[") else { throw Problem("params must be an array of strings", field: "params") }
        i += 1
        var out: [String] = []
        skipSpace()
        if peek() == UInt8(ascii: "]") {
            i += 1
            return out
        }
        while true {
            skipSpace()
            guard peek() == UInt8(ascii: "\"") else { throw Problem("params[\(out.count)] must be a string", field: "params[\(out.count)]") }
            out.append(try string())
            skipSpace()
            guard let c = peek() else { throw Problem("invalid JSON: params is not closed") }
            i += 1
            if c == UInt8(ascii: "]") { return out }
            guard c == UInt8(ascii: ",") else { throw Problem("invalid JSON at byte \(i): ',' or ']' is expected in params") }
        }
    }

    @inline(__always) private func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    @inline(__always) private mutating func skipSpace() {
        while i < bytes.count {
            let c = bytes[i]
            guard c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a else { return }
            i += 1
        }
    }

    /// A JSON string at `i` (which holds `"`), unescaped.
    mutating func string() throws(Problem) -> String {
        i += 1
        let start = i
        // Fast path: no escape.
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                defer { i += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") { break }
            guard c >= 0x20 else { throw Problem("invalid JSON at byte \(i + 1): a control character in a string") }
            i += 1
        }
        var out = Array(bytes[start..<i])
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek() else { break }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by \u and a low one.
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw Problem("invalid JSON: a lone surrogate \\u escape")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Problem("invalid JSON: a lone surrogate \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw Problem("invalid JSON: a lone surrogate \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw Problem("invalid JSON at byte \(i): unknown escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            default:
                guard c >= 0x20 else { throw Problem("invalid JSON at byte \(i): a control character in a string") }
                out.append(c)
            }
        }
        throw Problem("invalid JSON: a string is not closed")
    }

    private mutating func hex4() throws(Problem) -> UInt32 {
        guard i + 4 <= bytes.count else { throw Problem("invalid JSON: a short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw Problem("invalid JSON at byte \(i + 1): a bad \\u escape")
            }
            value = value << 4 | UInt32(digit)
            i += 1
        }
        return value
    }

    /// Skips any JSON value, checking it as strictly as the rest of the line (nesting
    /// bounded, no recursion): an ignored key's value is no excuse for broken JSON.
    private mutating func skipValue() throws(Problem) {
        // The containers open around the value being read: true for an object.
        var open: [Bool] = []
        while true {
            skipSpace()
            guard let c = peek() else { throw Problem("invalid JSON: a value is missing") }
            var complete = true
            switch c {
            case UInt8(ascii: "\""):
                _ = try string()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard open.count < Self.nestingMax else { throw Problem("invalid JSON: nested deeper than \(Self.nestingMax)") }
                i += 1
                let isObject = c == UInt8(ascii: "{")
                skipSpace()
                if peek() == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    i += 1
                } else {
                    open.append(isObject)
                    if isObject { try memberKey() }
                    complete = false
                }
            default:
                try scalar()
            }
            guard complete else { continue }
            // A value is complete: close what it completes, or go on to the next member.
            while let isObject = open.last {
                skipSpace()
                let closer = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                guard let d = peek() else { throw Problem("invalid JSON: \(isObject ? "an object" : "an array") is not closed") }
                i += 1
                if d == closer {
                    open.removeLast()
                    continue
                }
                guard d == UInt8(ascii: ",") else {
                    throw Problem("invalid JSON at byte \(i): ',' or '\(Character(Unicode.Scalar(closer)))' is expected")
                }
                if isObject { try memberKey() }
                break
            }
            if open.isEmpty { return }
        }
    }

    /// `"key":` inside a skipped object.
    private mutating func memberKey() throws(Problem) {
        skipSpace()
        guard peek() == UInt8(ascii: "\"") else { throw Problem("invalid JSON at byte \(i + 1): a key is expected") }
        _ = try string()
        skipSpace()
        guard peek() == UInt8(ascii: ":") else { throw Problem("invalid JSON at byte \(i + 1): ':' is expected") }
        i += 1
    }

    /// `true`, `false`, `null` or a number as RFC 8259 writes it.
    private mutating func scalar() throws(Problem) {
        let start = i
        let literals: [StaticString] = ["true", "false", "null"]
        for literal in literals where matches(literal) {
            i += literal.utf8CodeUnitCount
            return
        }
        func digits() -> Int {
            let from = i
            while let d = peek(), d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") { i += 1 }
            return i - from
        }
        if peek() == UInt8(ascii: "-") { i += 1 }
        if peek() == UInt8(ascii: "0") {
            i += 1
        } else if digits() == 0 {
            throw Problem("invalid JSON at byte \(start + 1): a value is expected")
        }
        if peek() == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { throw Problem("invalid JSON at byte \(i + 1): a digit is expected") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            i += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw Problem("invalid JSON at byte \(i + 1): a digit is expected") }
        }
    }

    private func matches(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard i + count <= bytes.count else { return false }
        return literal.withUTF8Buffer { l in (0..<count).allSatisfy { bytes[i + $0] == l[$0] } }
    }
}
