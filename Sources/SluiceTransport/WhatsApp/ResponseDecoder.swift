import Foundation
import SluiceCore

/// Turns a Cloud API response into a ``SendResult``.
///
/// Success bodies (`{"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid.…"}]}`)
/// are read by a small scanner without building a tree; error bodies
/// (`{"error":{"message":…,"type":…,"code":…,"error_data":{…},"fbtrace_id":…}}`) are rare
/// enough to go through `JSONSerialization`.
public enum ResponseDecoder {
    /// Error bodies larger than this are not parsed (they become `.httpError`).
    public static let errorBodyBytesMax = 64 * 1024

    /// 2xx with `messages[0].id` → `.accepted`; an `error` object with a numeric `code` →
    /// `.rejected` (whatever the HTTP status); anything else → `.httpError`.
    public static func decode(httpStatus: Int, body: UnsafeRawBufferPointer) -> SendResult {
        if (200..<300).contains(httpStatus) {
            var scanner = JSONScanner(bytes: body)
            switch scanner.firstMessageID() {
            case .found(let range):
                return .accepted(wamid: String(decoding: UnsafeRawBufferPointer(rebasing: body[range]), as: UTF8.self))
            case .escaped:
                if let wamid = slowWamid(body) { return .accepted(wamid: wamid) }
            case .absent:
                break
            }
        }
        if let (code, message) = errorFields(body) {
            return .rejected(httpStatus: httpStatus, code: code, message: message)
        }
        return .httpError(httpStatus: httpStatus)
    }

    /// See ``decode(httpStatus:body:)-(_,UnsafeRawBufferPointer)``.
    public static func decode(httpStatus: Int, body: [UInt8]) -> SendResult {
        body.withUnsafeBytes { decode(httpStatus: httpStatus, body: $0) }
    }

    private static func parse(_ body: UnsafeRawBufferPointer) -> [String: Any]? {
        guard !body.isEmpty, body.count <= errorBodyBytesMax else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body), options: [])) as? [String: Any]
    }

    private static func slowWamid(_ body: UnsafeRawBufferPointer) -> String? {
        guard let messages = parse(body)?["messages"] as? [Any],
            let first = messages.first as? [String: Any],
            let id = first["id"] as? String, !id.isEmpty
        else { return nil }
        return id
    }

    private static func errorFields(_ body: UnsafeRawBufferPointer) -> (Int, String)? {
        guard let error = parse(body)?["error"] as? [String: Any] else { return nil }
        // NSNumber bridges Bool too: a code must be an integer, not `true`.
        guard let number = error["code"] as? NSNumber, !(error["code"] is Bool),
            let code = Int(exactly: number.doubleValue)
        else { return nil }
        return (code, error["message"] as? String ?? "")
    }
}

/// A forward-only reader of just enough JSON to find `messages[0].id` in a success body.
/// It skips values by bracket counting (strings aware), so it needs no recursion.
struct JSONScanner {
    enum IDResult: Equatable {
        case found(Range<Int>)  // raw UTF-8 without escapes
        case escaped            // present but escaped: let JSONSerialization decode it
        case absent
    }

    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func firstMessageID() -> IDResult {
        guard consume(UInt8(ascii: "{")) else { return .absent }
        guard let messagesFound = seekKey("messages"), messagesFound else { return .absent }
        guard consume(UInt8(ascii: "[")), consume(UInt8(ascii: "{")) else { return .absent }
        guard let idFound = seekKey("id"), idFound else { return .absent }
        guard let (range, escaped) = string() else { return .absent }
        if escaped { return .escaped }
        return range.isEmpty ? .absent : .found(range)
    }

    /// Within an object whose `{` was consumed: advances past `"key":`. nil on malformed input.
    private mutating func seekKey(_ key: StaticString) -> Bool? {
        while true {
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "}") { return false }
            guard let (range, _) = string(), consume(UInt8(ascii: ":")) else { return nil }
            if equals(range, key) { skipWhitespace(); return true }
            guard skipValue() else { return nil }
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1 }
        }
    }

    private func equals(_ range: Range<Int>, _ key: StaticString) -> Bool {
        guard range.count == key.utf8CodeUnitCount else { return false }
        let start = key.utf8Start
        for (offset, position) in range.enumerated() where bytes[position] != start[offset] { return false }
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A string at the cursor: the range of its contents and whether it has escapes.
    private mutating func string() -> (Range<Int>, Bool)? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = index
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 2
                continue
            }
            if byte == UInt8(ascii: "\"") {
                index += 1
                return (start..<(index - 1), escaped)
            }
            index += 1
        }
        return nil
    }

    /// Skips one value of any kind; false on malformed or truncated input.
    private mutating func skipValue() -> Bool {
        skipWhitespace()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return string() != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    guard string() != nil else { return false }
                    continue
                }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                    depth += 1
                } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                }
                index += 1
            }
            return false
        default:
            // A number or literal runs until a delimiter.
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D: return true
                default: index += 1
                }
            }
            return false
        }
    }
}
