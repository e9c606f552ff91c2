import Foundation

/// A child `sluice` process (`mock` or `serve`) of the same binary: stdout is watched for
/// its `… listening on URL` line, stderr goes to a log file.
final class ServiceProcess: @unchecked Sendable {
    /// Most stdout kept in memory; the announcement comes first, later output is only a tail.
    static let outputBytesMax = 64 * 1024
    /// How long a child may take to announce its address, in seconds.
    static let startupSecondsMax = 60.0
    /// How long a child may take to exit after SIGTERM before it gets SIGKILL, in seconds.
    static let stopSecondsMax = 30.0
    static let pollMilliseconds = 50

    private let process = Process()
    private let stdoutPipe = Pipe()
    private let lock = NSLock()
    private var output = ""
    let name: String
    let logPath: String

    /// Starts `executable arguments…` with `environment` added to the harness's own.
    init(name: String, executable: String, arguments: [String], environment: [String: String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = stdoutPipe
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock {
                self.output += String(decoding: data, as: UTF8.self)
                if self.output.utf8.count > Self.outputBytesMax { self.output = String(self.output.suffix(Self.outputBytesMax / 2)) }
            }
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Waits (bounded) for a stdout line starting with `prefix`; returns its first word after the prefix.
    func waitForAddress(prefix: String) async throws -> String {
        let deadline = Date().addingTimeInterval(Self.startupSecondsMax)
        while Date() < deadline {
            let text = lock.withLock { output }
            for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
                return String(line.dropFirst(prefix.count).split(separator: " ").first ?? "")
            }
            if !process.isRunning {
                throw LoadTestError.childFailed("\(name) exited with status \(process.terminationStatus) before it listened; log: \(logTail())")
            }
            try await Task.sleep(for: .milliseconds(Self.pollMilliseconds))
        }
        throw LoadTestError.childFailed("\(name) did not print '\(prefix)' within \(Int(Self.startupSecondsMax)) s; log: \(logTail())")
    }

    /// The end of the child's stderr log.
    func logTail(bytes: Int = 1_500) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return String(text.suffix(bytes))
    }

    /// SIGKILL now (no chance to flush or drain) and reap it; the chaos run's crash.
    func killNow() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
    }

    /// SIGTERM, then (bounded) wait; SIGKILL if it does not exit. Returns the exit status, nil if killed.
    @discardableResult
    func stop() async -> Int32? {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(Self.stopSecondsMax)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(Self.pollMilliseconds)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            stdoutPipe.fileHandleForReading.readabilityHandler = nil
            return nil
        }
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }
}

/// Why a run could not be carried out (as opposed to a run that measured a failure).
public enum LoadTestError: Error, CustomStringConvertible {
    case childFailed(String)
    case http(String)
    case invalidConfiguration(String)
    case record(String)

    public var description: String {
        switch self {
        case .childFailed(let why), .http(let why), .invalidConfiguration(let why), .record(let why): why
        }
    }
}
