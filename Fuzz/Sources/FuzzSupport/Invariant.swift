/// Stops the fuzzer with a message when an invariant does not hold: libFuzzer records the
/// input as a crash (`crash-…`), and the message says which promise broke.
public func invariant(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    guard !condition() else { return }
    fatalError("invariant: \(message())", file: file, line: line)
}

/// Reads a fuzzer's input as a few small choices followed by the rest of the bytes.
public struct FuzzInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ start: UnsafePointer<UInt8>?, _ count: Int) {
        bytes = UnsafeRawBufferPointer(start: count > 0 ? UnsafeRawPointer(start) : nil, count: count)
    }

    /// One byte, or 0 when the input is used up.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// What is left, as an array.
    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}
