/// A parsed JSON document (RFC 8259), for bodies read on hot paths: WhatsApp's webhooks.
/// `JSONSerialization` on Linux builds Foundation objects and bridges every member on
/// access; this is a plain value tree. Objects keep their members in order (a repeated
/// name: the last one counts, as `JSONSerialization` has it); numbers keep their text, so
/// a subtree written back (`write(sortedKeys:)`) says exactly what it was given.
///
/// ```swift
/// let root = try JSONTree.parse(bytes)
/// root["entry"]?[0]?["changes"]?.array      // [JSONTree]?
/// ```
public indirect enum JSONTree: Sendable, Equatable {
    case object([(String, JSONTree)])
    case array([JSONTree])
    case string(String)
    /// The number's text as written (validated).
    case number(String)
    case bool(Bool)
    case null

    /// Deepest nesting accepted: deeper documents are refused, not parsed by recursion.
    public static let depthMax = 256

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    public static func == (a: JSONTree, b: JSONTree) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let x), .array(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    // MARK: Reading

    /// The member `name` of an object (the last of that name); nil for anything else.
    public subscript(name: String) -> JSONTree? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == name }?.1
    }

    /// Element `index` of an array; nil for anything else or out of range.
    public subscript(index: Int) -> JSONTree? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var array: [JSONTree]? { if case .array(let a) = self { a } else { nil } }
    public var isObject: Bool { if case .object = self { true } else { false } }
    /// An integer number (no fraction or exponent that makes it one, within `Int`).
    public var integer: Int? {
        guard case .number(let text) = self else { return nil }
        if let n = Int(text) { return n }
        guard let d = Double(text), d.rounded() == d, abs(d) < 9.2e18 else { return nil }
        return Int(d)
    }

    // MARK: Parsing

    public static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> JSONTree {
        let contiguous = Array(bytes)
        return try contiguous.withUnsafeBufferPointer { buffer throws(ParseError) in
            var parser = Parser(bytes: buffer)
            parser.skipSpace()
            let value = try parser.value(depth: 0)
            parser.skipSpace()
            guard parser.at == buffer.count else { throw parser.error("trailing characters after the document") }
            return value
        }
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        func error(_ reason: String) -> ParseError { ParseError(offset: at, reason: reason) }

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func value(depth: Int) throws(ParseError) -> JSONTree {
            guard depth < JSONTree.depthMax else { throw error("nested deeper than \(JSONTree.depthMax)") }
            guard at < bytes.count else { throw error("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let count = word.utf8CodeUnitCount
            guard bytes.count - at >= count else { throw error("unexpected end") }
            for i in 0..<count where bytes[at + i] != word.utf8Start[i] { throw error("unexpected character") }
            at += count
        }

        mutating func object(depth: Int) throws(ParseError) -> JSONTree {
            at += 1
            var members: [(String, JSONTree)] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                at += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                let name = try string()
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("expected ':'") }
                at += 1
                skipSpace()
                members.append((name, try value(depth: depth + 1)))
                skipSpace()
                guard at < bytes.count else { throw error("unexpected end") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                guard bytes[at] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
                at += 1
                return .object(members)
            }
        }

        mutating func array(depth: Int) throws(ParseError) -> JSONTree {
            at += 1
            var elements: [JSONTree] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                at += 1
                return .array(elements)
            }
            while true {
                skipSpace()
                elements.append(try value(depth: depth + 1))
                skipSpace()
                guard at < bytes.count else { throw error("unexpected end") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                guard bytes[at] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
                at += 1
                return .array(elements)
            }
        }

        mutating func number() throws(ParseError) -> String {
            let start = at
            if bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count, isDigit(bytes[at]) else { throw error("expected a digit") }
            if bytes[at] == UInt8(ascii: "0") {
                at += 1
            } else {
                while at < bytes.count, isDigit(bytes[at]) { at += 1 }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard at < bytes.count, isDigit(bytes[at]) else { throw error("expected a digit after '.'") }
                while at < bytes.count, isDigit(bytes[at]) { at += 1 }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard at < bytes.count, isDigit(bytes[at]) else { throw error("expected an exponent") }
                while at < bytes.count, isDigit(bytes[at]) { at += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            // As `JSONSerialization` (and any reader of it written back): within a Double.
            guard Double(text)?.isFinite == true else { throw ParseError(offset: start, reason: "number out of range") }
            return text
        }

        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

        /// A string at `"`: its characters, escapes decoded. Invalid UTF-8, control
        /// characters and lone surrogates are refused.
        mutating func string() throws(ParseError) -> String {
            at += 1
            let start = at
            // Fast path: no escapes.
            while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\"), bytes[at] >= 0x20 { at += 1 }
            guard at < bytes.count else { throw error("unterminated string") }
            if bytes[at] == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(rebasing: bytes[start..<at])
                guard let text = String(validating: run, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                at += 1
                return text
            }
            var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<at]))
            while true {
                guard at < bytes.count else { throw error("unterminated string") }
                let b = bytes[at]
                if b == UInt8(ascii: "\"") {
                    at += 1
                    guard let text = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                    return text
                }
                guard b >= 0x20 else { throw error("control character in a string") }
                guard b == UInt8(ascii: "\\") else {
                    out.append(b)
                    at += 1
                    continue
                }
                at += 1
                guard at < bytes.count else { throw error("unterminated escape") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - at >= 6, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else { throw error("lone surrogate") }
                        at += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("lone surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: UTF8.encode(u)!)
                default: throw error("invalid escape")
                }
            }
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard bytes.count - at >= 4 else { throw error("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[at]
                let d: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
                at += 1
            }
            return v
        }
    }

    // MARK: Writing

    /// The document as compact JSON; with `sortedKeys`, object members by name (code
    /// points), the last of a repeated name only. `/` is not escaped.
    public func write(sortedKeys: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out, sortedKeys: sortedKeys)
        return out
    }

    public func write(into out: inout [UInt8], sortedKeys: Bool) {
        switch self {
        case .object(var members):
            if sortedKeys {
                // The last of a repeated name, then by name.
                var seen = Set<String>()
                members = members.reversed().filter { seen.insert($0.0).inserted }
                members.sort { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) }
            }
            out.append(UInt8(ascii: "{"))
            for (i, (name, value)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(name, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out, sortedKeys: sortedKeys)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, value) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                value.write(into: &out, sortedKeys: sortedKeys)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let s): Self.writeString(s, into: &out)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }

    /// `s` as a quoted JSON string: quotes, backslashes and control characters escaped.
    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
