import Hummingbird
import NIOCore
import SluiceCrypto

/// A streamed request body as numbered lines, hashed (for `Idempotency-Key`, when given a
/// hasher) as it is read. Holds one chunk and at most one partial line.
struct BodyLines {
    private var chunks: RequestBody.AsyncIterator
    private var splitter: LineSplitter
    private let hasher: SHA256Hasher?
    private var ended = false

    init(_ body: RequestBody, lineBytesMax: Int, hasher: SHA256Hasher?) {
        chunks = body.makeAsyncIterator()
        splitter = LineSplitter(lineBytesMax: lineBytesMax)
        self.hasher = hasher
    }

    /// The next line and its number (from 1), or nil at the end of the body. Throws a 413
    /// `line_too_long` naming the line, or what reading the body threw (the client went away).
    mutating func next() async throws -> (number: Int, bytes: [UInt8])? {
        do {
            while true {
                if let line = try splitter.nextLine() { return (splitter.lineNumber, line) }
                if ended { return nil }
                guard let chunk = try await chunks.next() else {
                    ended = true
                    if let last = try splitter.finish() { return (splitter.lineNumber, last) }
                    return nil
                }
                if let hasher { chunk.withUnsafeReadableBytes { hasher.update($0) } }
                splitter.append(chunk)
            }
        } catch let error as LineSplitter.LineTooLong {
            throw APIError(
                .contentTooLarge, code: .lineTooLong, field: "line \(error.line)",
                message: "line \(error.line) is longer than \(error.lineBytesMax) bytes; the campaign was not accepted")
        }
    }

    /// The next line that holds more than spaces.
    mutating func nextNonBlank() async throws -> (number: Int, bytes: [UInt8])? {
        while let line = try await next() {
            if !Self.isBlank(line.bytes) { return line }
        }
        return nil
    }

    /// Whether the bytes are well-formed UTF-8.
    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        // Most rows are ASCII: no decoding needed.
        if bytes.allSatisfy({ $0 < 0x80 }) { return true }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    static func isBlank(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }
    }
}
