import ArgumentParser
import Foundation

@main
struct SluiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A throughput-focused outbound message dispatcher for the WhatsApp Business Platform.",
        subcommands: [ServeCommand.self, MockCommand.self, DemoCommand.self, JournalCommand.self]
    )
}

/// `HOST:PORT`, `[::1]:PORT` or `:PORT`.
struct ListenAddress: Equatable, Sendable {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(parsing text: String) throws {
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValidationError("listen address '\(text)' must look like HOST:PORT or [IPv6]:PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ValidationError("listen address '\(text)' must look like HOST:PORT") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        if hostPart.isEmpty { hostPart = "127.0.0.1" }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw ValidationError("listen address '\(text)': port must be a number from 0 to 65535")
        }
        host = String(hostPart)
        self.port = port
    }
}

/// Writes a line to stdout at once (no stdio buffering), so that scripts, tests and CI
/// logs see lines such as `sluice listening on …` as soon as they are true.
func say(_ line: String = "") {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
