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
            var out = ""
            if linesDrawn > 0 { out += "\u{1B}[\(linesDrawn)A" }
            for line in lines { out += "\u{1B}[2K" + line + "\n" }
            linesDrawn = lines.count
            writeOut(STDOUT_FILENO, out)
        } else {
            let now = Date()
            if !force, let last = lastPipeDraw, now.timeIntervalSince(last) < pipeIntervalSeconds { return }
            lastPipeDraw = now
            say(lines.joined(separator: "\n"))
        }
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
