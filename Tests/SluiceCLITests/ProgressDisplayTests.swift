import Testing

@testable import sluice

/// What `--follow` writes to a terminal to replace the block it drew last.
@Suite struct ProgressDisplayTests {
    static let up = "\u{1B}["
    static let clear = "\u{1B}[2K"

    @Test func theFirstBlockIsItsLinesEachClearedWithNoMoveUp() {
        #expect(ProgressDisplay.redraw(previousLineCount: 0, ["a", "b"]) == "\(Self.clear)a\n\(Self.clear)b\n")
    }

    @Test func aRedrawMovesUpOverTheLinesDrawnLastAndClearsEachBeforeWritingIt() {
        let bytes = ProgressDisplay.redraw(previousLineCount: 3, ["x", "y", "z"])
        #expect(bytes == "\u{1B}[3A\(Self.clear)x\n\(Self.clear)y\n\(Self.clear)z\n")
    }

    /// A block that shrinks leaves no old line under it, and the cursor ends under the new
    /// block, where the next redraw expects it.
    @Test func aShorterBlockClearsTheOldLinesLeftUnderItAndComesBackUp() {
        let bytes = ProgressDisplay.redraw(previousLineCount: 4, ["x"])
        #expect(bytes == "\u{1B}[4A\(Self.clear)x\n\(Self.clear)\n\(Self.clear)\n\(Self.clear)\n\u{1B}[3A")
        #expect(Self.cursorRow(after: bytes, startingAt: 4) == 1)
    }

    @Test func aLongerBlockWritesItsExtraLinesBelow() {
        let bytes = ProgressDisplay.redraw(previousLineCount: 1, ["x", "y"])
        #expect(bytes == "\u{1B}[1A\(Self.clear)x\n\(Self.clear)y\n")
        #expect(Self.cursorRow(after: bytes, startingAt: 1) == 2)
    }

    /// The row the cursor ends on, counting from the block's first line as 0: each newline
    /// one down, `ESC [ n A` n up.
    static func cursorRow(after bytes: String, startingAt row: Int) -> Int {
        var row = row
        var rest = Substring(bytes)
        while let first = rest.first {
            if rest.hasPrefix(up), let a = rest.firstIndex(of: "A"), let n = Int(rest[rest.index(rest.startIndex, offsetBy: 2)..<a]) {
                row -= n
                rest = rest[rest.index(after: a)...]
                continue
            }
            if first == "\n" { row += 1 }
            rest = rest.dropFirst()
        }
        return row
    }
}
