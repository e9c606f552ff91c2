/// JSON string escaping for splicing values into a body without building a JSON tree.
enum JSONEscaping {
    /// Appends `value` as the *contents* of a JSON string (no surrounding quotes).
    ///
    /// Escapes `"`, `\` and the control characters below U+0020, which is all that
    /// RFC 8259 requires; every other scalar, emoji included, is copied as UTF-8.
    static func appendStringContents(_ value: String, into out: inout [UInt8]) {
        var value = value
        // Native strings (small ones included) are contiguous UTF-8: no copy, no malloc.
        value.withUTF8 { appendStringContents(utf8: $0, into: &out) }
    }

    static func appendStringContents(utf8 bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var runStart = 0
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                index &+= 1
                continue
            }
            if runStart < index {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            }
            appendEscape(byte, into: &out)
            index &+= 1
            runStart = index
        }
        if runStart < count {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<count]))
        }
    }

    static func appendEscape(_ byte: UInt8, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
        case 0x0A: out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "t"))
        case 0x08: out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(UInt8(ascii: "f"))
        default:
            let hex: StaticString = "0123456789abcdef"
            out.append(UInt8(ascii: "u"))
            out.append(UInt8(ascii: "0"))
            out.append(UInt8(ascii: "0"))
            out.append(hex.utf8Start[Int(byte >> 4)])
            out.append(hex.utf8Start[Int(byte & 0x0F)])
        }
    }
}
