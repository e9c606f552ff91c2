import SluiceCore

/// Minimal JSON string writing for the per-request paths (record lines, responses).
enum JSONText {
    /// Appends `value` as a quoted JSON string, escaping quotes, backslashes and control characters.
    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        JSONTree.writeString(value, into: &bytes)
    }

    /// `value` as a quoted JSON string.
    static func quoted(_ value: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(value.utf8.count + 2)
        appendString(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
