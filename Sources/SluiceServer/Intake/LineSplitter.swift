import NIOCore

/// Splits a body that arrives in chunks into lines, without holding more than one line
/// (at most `lineBytesMax` bytes) besides the current chunk. Lines end at `\n`; a `\r`
/// before it is dropped; the last line needs no `\n`. Lines are numbered from 1.
///
///     var splitter = LineSplitter(lineBytesMax: 1 << 16)
///     splitter.append(chunk)
///     while let line = try splitter.nextLine() { … }
///     if let last = try splitter.finish() { … }
struct LineSplitter {
    struct LineTooLong: Error, Equatable {
        /// The number of the line that went over the bound.
        var line: Int
        var lineBytesMax: Int
    }

    let lineBytesMax: Int
    /// Number of the last line returned.
    private(set) var lineNumber = 0
    private var chunk = ByteBuffer()
    /// The start of a line whose end is in a later chunk.
    private var carried: [UInt8] = []

    init(lineBytesMax: Int) {
        precondition(lineBytesMax > 0, "lineBytesMax must be positive")
        self.lineBytesMax = lineBytesMax
    }

    /// Takes the next chunk; call `nextLine` until it returns nil before appending more.
    mutating func append(_ buffer: ByteBuffer) {
        precondition(chunk.readableBytes == 0, "append before the previous chunk was split")
        chunk = buffer
    }

    /// The next complete line of the current chunk, or nil when the chunk holds no more
    /// line ends (its rest is carried over to the next chunk).
    mutating func nextLine() throws(LineTooLong) -> [UInt8]? {
        let readable = chunk.readableBytes
        guard readable > 0 else { return nil }
        let newline = chunk.withUnsafeReadableBytes { $0.firstIndex(of: UInt8(ascii: "\n")) }
        guard let newline else {
            // A `\r` at the end of the chunk may be the first half of a `\r\n` split across
            // chunks: it does not count until the next chunk shows what follows it.
            let pendingCR = chunk.getInteger(at: chunk.readerIndex + readable - 1, as: UInt8.self) == UInt8(ascii: "\r")
            guard carried.count + readable - (pendingCR ? 1 : 0) <= lineBytesMax else {
                throw LineTooLong(line: lineNumber + 1, lineBytesMax: lineBytesMax)
            }
            chunk.withUnsafeReadableBytes { carried.append(contentsOf: $0) }
            chunk.moveReaderIndex(forwardBy: readable)
            return nil
        }
        var length = newline
        // The `\r` of `\r\n` may be the last byte carried from the previous chunk.
        let endsWithCR = length > 0
            ? chunk.getInteger(at: chunk.readerIndex + length - 1, as: UInt8.self) == UInt8(ascii: "\r")
            : carried.last == UInt8(ascii: "\r")
        guard carried.count + length - (endsWithCR ? 1 : 0) <= lineBytesMax else {
            throw LineTooLong(line: lineNumber + 1, lineBytesMax: lineBytesMax)
        }
        var line: [UInt8]
        if carried.isEmpty {
            if endsWithCR { length -= 1 }
            line = chunk.getBytes(at: chunk.readerIndex, length: length)!
        } else {
            line = carried
            carried.removeAll(keepingCapacity: true)
            chunk.withUnsafeReadableBytes { line.append(contentsOf: $0[0..<length]) }
            if endsWithCR { line.removeLast() }
        }
        chunk.moveReaderIndex(forwardBy: newline + 1)
        lineNumber += 1
        return line
    }

    /// The last line when the body did not end with `\n`; nil otherwise.
    mutating func finish() throws(LineTooLong) -> [UInt8]? {
        precondition(chunk.readableBytes == 0, "finish before the last chunk was split")
        guard !carried.isEmpty else { return nil }
        var line = carried
        carried = []
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        lineNumber += 1
        return line
    }
}
