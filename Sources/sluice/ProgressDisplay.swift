import Foundation

/// Redraws a block of lines in place on a terminal; on a pipe or file it prints a new
/// block at most once per `pipeIntervalSeconds`, so CI logs stay short.
final class ProgressDisplay {
    private let isTerminal = isatty(STDOUT_FILENO) == 1
    private var linesDrawn = 0
    private var lastPipeDraw: Date?
    private let pipeIntervalSeconds: Double

    init(pipeIntervalSeconds: Double = 2) {
        self.pipeIntervalSeconds = pipeIntervalSeconds
    }

    func draw(_ lines: [String], force: Bool = false) {
        if isTerminal {
            writeOut(STDOUT_FILENO, Self.redraw(previousLineCount: linesDrawn, lines))
            linesDrawn = lines.count
        } else {
            let now = Date()
            if !force, let last = lastPipeDraw, now.timeIntervalSince(last) < pipeIntervalSeconds { return }
            lastPipeDraw = now
            say(lines.joined(separator: "\n"))
        }
    }

    /// What replaces the `previousLineCount` lines just drawn (the cursor below them) with
    /// `lines`: up to the first, each line cleared and written. A shorter block clears
    /// the old lines left under it and comes back up, so the cursor ends below the new
    /// block and the next redraw moves up by its count. Nothing else on the screen changes.
    static func redraw(previousLineCount: Int, _ lines: [String]) -> String {
        let clear = "\u{1B}[2K"
        var out = previousLineCount > 0 ? "\u{1B}[\(previousLineCount)A" : ""
        for line in lines { out += clear + line + "\n" }
        let leftOver = previousLineCount - lines.count
        if leftOver > 0 {
            out += String(repeating: clear + "\n", count: leftOver) + "\u{1B}[\(leftOver)A"
        }
        return out
    }

    static func bar(_ fraction: Double, width: Int = 30) -> String {
        let f = min(max(fraction, 0), 1)
        let full = Int((f * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: full) + String(repeating: ".", count: width - full) + "]"
    }
}

func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    if s.count >= width { return s }
    let fill = String(repeating: " ", count: width - s.count)
    return right ? fill + s : s + fill
}
