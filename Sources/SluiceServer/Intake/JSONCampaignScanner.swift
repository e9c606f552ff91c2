/// Splits a JSON campaign body, `{"sender": …, "message": {…}, "recipients": [{…}, …], …}`,
/// as its bytes arrive: each top-level member other than `recipients` whole (its raw
/// value), and `recipients` one element at a time, so that a body of a million
/// recipients is never held (nor parsed into a tree) at once. Checks structure only
/// (strings, nesting, separators); each value is parsed by whoever takes it.
///
/// ```swift
/// var scanner = JSONCampaignScanner(memberBytesMax: 1 << 20, elementBytesMax: 1 << 18)
/// for chunk in body { try scanner.feed(chunk, into: &events); handle(events) }
/// try scanner.finish()
/// ```
struct JSONCampaignScanner {
    enum Event: Equatable {
        /// A top-level member, its value's raw bytes (`recipients` too, when not an array).
        case member(key: String, value: [UInt8])
        /// Element `index` of the `recipients` array, raw.
        case recipient(index: Int, bytes: [UInt8])
        /// The `recipients` array closed after `count` elements.
        case recipientsEnd(count: Int)
    }

    /// The body is not one JSON object; `message` says where.
    struct Malformed: Error, Equatable {
        var message: String
        var apiError: APIError { APIError(.badRequest, code: .malformedJSON, message: message) }
    }

    /// A member's value, or one recipient, is longer than allowed.
    struct TooLong: Error, Equatable {
        var what: String
        var bytesMax: Int
        var apiError: APIError {
            APIError(.contentTooLarge, code: .bodyTooLarge, message: "\(what) is longer than \(bytesMax) bytes; the campaign was not accepted")
        }
    }

    let memberBytesMax: Int
    let elementBytesMax: Int

    private enum State {
        case start, keyOrEnd, key, colon, beforeValue, value, afterMember
        case elementOrEnd, beforeElement, element, afterElement, done
    }

    private var state = State.start
    /// Bytes seen, for positions in errors.
    private(set) var offset = 0
    private var key: [UInt8] = []
    private var keyEscaped = false
    private var currentKey = ""
    private var capture: [UInt8] = []
    private var value = ValueScan()
    private var elements = 0
    /// After a ',' between members: a key must follow, not '}'.
    private var expectingKey = false

    init(memberBytesMax: Int, elementBytesMax: Int) {
        self.memberBytesMax = memberBytesMax
        self.elementBytesMax = elementBytesMax
    }

    /// Scans `bytes`, appending what completed to `events`.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, into events: inout [Event]) throws {
        for byte in bytes {
            try step(byte, into: &events)
            offset += 1
        }
    }

    /// The body ended: it must have been exactly one object.
    func finish() throws {
        switch state {
        case .done: return
        case .start: throw Malformed(message: "the request body is empty; a JSON object is expected")
        default: throw Malformed(message: "the request body is not valid JSON: it ends before the object is closed")
        }
    }

    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 }

    private func malformed(_ what: String) -> Malformed {
        Malformed(message: "the request body is not valid JSON: \(what) at byte \(offset + 1)")
    }

    private mutating func step(_ c: UInt8, into events: inout [Event]) throws {
        switch state {
        case .start:
            if Self.isSpace(c) { return }
            guard c == UInt8(ascii: "{") else { throw Malformed(message: "the request body must be a JSON object") }
            expectingKey = false
            state = .keyOrEnd
        case .keyOrEnd:
            if Self.isSpace(c) { return }
            if c == UInt8(ascii: "}"), !expectingKey {
                state = .done
            } else if c == UInt8(ascii: "\"") {
                key.removeAll(keepingCapacity: true)
                keyEscaped = false
                state = .key
            } else {
                throw malformed("a member name is expected")
            }
        case .key:
            if keyEscaped {
                keyEscaped = false
                key.append(c)
            } else if c == UInt8(ascii: "\\") {
                keyEscaped = true
                key.append(c)
            } else if c == UInt8(ascii: "\"") {
                currentKey = Self.unescape(key)
                state = .colon
            } else {
                guard c >= 0x20 else { throw malformed("a control character in a member name") }
                guard key.count < 256 else { throw malformed("a member name longer than 256 bytes") }
                key.append(c)
            }
        case .colon:
            if Self.isSpace(c) { return }
            guard c == UInt8(ascii: ":") else { throw malformed("':' is expected") }
            state = .beforeValue
        case .beforeValue:
            if Self.isSpace(c) { return }
            if currentKey == "recipients" && c == UInt8(ascii: "[") {
                elements = 0
                state = .elementOrEnd
                return
            }
            try begin(.value, c, into: &events)
        case .value, .element:
            try scan(c, into: &events)
        case .afterMember:
            if Self.isSpace(c) { return }
            if c == UInt8(ascii: ",") {
                expectingKey = true
                state = .keyOrEnd
            } else if c == UInt8(ascii: "}") {
                state = .done
            } else {
                throw malformed("',' or '}' is expected")
            }
        case .elementOrEnd, .beforeElement:
            if Self.isSpace(c) { return }
            if c == UInt8(ascii: "]"), state == .elementOrEnd {
                events.append(.recipientsEnd(count: elements))
                state = .afterMember
                return
            }
            try begin(.element, c, into: &events)
        case .afterElement:
            if Self.isSpace(c) { return }
            if c == UInt8(ascii: ",") {
                state = .beforeElement
            } else if c == UInt8(ascii: "]") {
                events.append(.recipientsEnd(count: elements))
                state = .afterMember
            } else {
                throw malformed("',' or ']' is expected between recipients")
            }
        case .done:
            guard Self.isSpace(c) else { throw malformed("text after the JSON object") }
        }
    }

    /// Starts capturing a member's value (`.value`) or a recipient (`.element`) at `c`.
    private mutating func begin(_ kind: State, _ c: UInt8, into events: inout [Event]) throws {
        capture.removeAll(keepingCapacity: true)
        value = ValueScan()
        state = kind
        try scan(c, into: &events)
    }

    /// One byte of the value or recipient being captured; emits it once it ends.
    private mutating func scan(_ c: UInt8, into events: inout [Event]) throws {
        let element = state == .element
        let step = try value.consume(c, at: offset)
        if step != .endedBefore {
            capture.append(c)
            let bytesMax = element ? elementBytesMax : memberBytesMax
            guard capture.count <= bytesMax else {
                throw TooLong(what: element ? "recipients[\(elements)]" : "the value of \"\(currentKey)\"", bytesMax: bytesMax)
            }
        }
        guard step != .more else { return }
        if element {
            events.append(.recipient(index: elements, bytes: capture))
            elements += 1
            state = .afterElement
        } else {
            events.append(.member(key: currentKey, value: capture))
            state = .afterMember
        }
        // A scalar ends at the first byte that is not its own: that byte is read again.
        if step == .endedBefore { try self.step(c, into: &events) }
    }

    /// A member name's escapes resolved (names are short; escapes in them are rare).
    private static func unescape(_ raw: [UInt8]) -> String {
        guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
        var quoted: [UInt8] = [UInt8(ascii: "\"")]
        quoted.append(contentsOf: raw)
        quoted.append(UInt8(ascii: "\""))
        return RecipientLine.unescapedString(quoted) ?? String(decoding: raw, as: UTF8.self)
    }
}

/// Where one JSON value ends: strings by their closing quote, objects and arrays by
/// nesting, scalars by the first byte that cannot belong to them.
struct ValueScan {
    enum Step { case more, endedWith, endedBefore }

    private var depth = 0
    private var inString = false
    private var escaped = false
    private var scalar = false
    private var started = false

    mutating func consume(_ c: UInt8, at offset: Int) throws -> Step {
        if !started {
            started = true
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth = 1
                return .more
            case UInt8(ascii: "\""):
                inString = true
                return .more
            case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ":"):
                throw JSONCampaignScanner.Malformed(message: "the request body is not valid JSON: a value is expected at byte \(offset + 1)")
            default:
                scalar = true
                return .more
            }
        }
        if inString {
            if escaped {
                escaped = false
            } else if c == UInt8(ascii: "\\") {
                escaped = true
            } else if c == UInt8(ascii: "\"") {
                inString = false
                if depth == 0 { return .endedWith }
            } else if c < 0x20 {
                throw JSONCampaignScanner.Malformed(message: "the request body is not valid JSON: a control character in a string at byte \(offset + 1)")
            }
            return .more
        }
        if scalar {
            switch c {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0a, 0x0d, 0x09: return .endedBefore
            default: return .more
            }
        }
        switch c {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            depth += 1
            guard depth <= 64 else {
                throw JSONCampaignScanner.Malformed(message: "the request body is not valid JSON: nested deeper than 64 at byte \(offset + 1)")
            }
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
            if depth == 0 { return .endedWith }
        default: break
        }
        return .more
    }
}
