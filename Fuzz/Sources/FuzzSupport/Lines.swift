import NIOCore
@testable import SluiceServer

/// Splits `body` with the route's `LineSplitter`, in chunks of `chunkBytes`, and checks the
/// result against a plain split of the whole body: lines end at `\n`, a `\r` before it (or
/// at the very end) is dropped, the last line needs no `\n`, and the first line longer
/// than `lineBytesMax` (after that `\r` is dropped) is refused by its number — whatever the
/// chunk boundaries. Returns the lines, or nil when a line was too long.
public func splitLinesChecked(_ body: [UInt8], chunkBytes: Int, lineBytesMax: Int) -> [[UInt8]]? {
    // The reference.
    var expected: [[UInt8]] = []
    var start = 0
    for (i, byte) in body.enumerated() where byte == UInt8(ascii: "\n") {
        expected.append(Array(body[start..<i]))
        start = i + 1
    }
    if start < body.count { expected.append(Array(body[start...])) }
    for i in expected.indices where expected[i].last == UInt8(ascii: "\r") { expected[i].removeLast() }
    let tooLong = expected.firstIndex { $0.count > lineBytesMax }.map { $0 + 1 }

    // The splitter.
    var splitter = LineSplitter(lineBytesMax: lineBytesMax)
    var lines: [[UInt8]] = []
    do {
        var offset = 0
        while offset < body.count {
            let end = min(offset + chunkBytes, body.count)
            splitter.append(ByteBuffer(bytes: body[offset..<end]))
            while let line = try splitter.nextLine() { lines.append(line) }
            offset = end
        }
        if let last = try splitter.finish() { lines.append(last) }
    } catch {
        invariant(
            tooLong == error.line,
            "LineSplitter refused line \(error.line) (chunks of \(chunkBytes), at most \(lineBytesMax) bytes); expected \(tooLong.map { "line \($0)" } ?? "no refusal") in \(show(body))")
        invariant(error.lineBytesMax == lineBytesMax, "LineTooLong names another bound")
        return nil
    }
    invariant(tooLong == nil, "LineSplitter took line \(tooLong ?? 0), longer than \(lineBytesMax) bytes (chunks of \(chunkBytes)) in \(show(body))")
    invariant(lines == expected, "LineSplitter lines (chunks of \(chunkBytes)) differ from a plain split of \(show(body))")
    invariant(splitter.lineNumber == lines.count, "lineNumber \(splitter.lineNumber) for \(lines.count) lines")
    return lines
}

/// The chunk size and line bound a fuzzer's first two bytes choose: chunks of 1–64 bytes
/// or the whole body; a bound of 1–255 bytes or the route's own.
public func lineOptions(_ input: inout FuzzInput, bodyBytes: Int) -> (chunkBytes: Int, lineBytesMax: Int) {
    let c = input.byte(), l = input.byte()
    return (c == 0 ? max(bodyBytes, 1) : Int(c % 64) + 1, l == 0 ? CampaignIntakeRoute.lineBytesMax : Int(l))
}
