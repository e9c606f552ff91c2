import Foundation
import SluiceTestSupport
import Testing

/// Runs the real `sluice` binary as a child process, reads its announced address from
/// stdout, and stops it with SIGTERM or SIGKILL.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let stdoutPipe = Pipe()
    private let lock = NSLock()
    private var output = ""
    let logPath: String

    /// `executable`: another program than `sluice` (etcd).
    init(arguments: [String], environment: [String: String] = [:], logPath: String, executable: String? = nil) throws {
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: try executable ?? SluiceBinary.path())
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = stdoutPipe
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.output += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    /// Waits for a stdout line that starts with `prefix` and returns the rest of it.
    func waitForLine(prefix: String, timeoutSeconds: Double = 60) async throws -> String {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            let text = lock.withLock { output }
            for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
                return String(line.dropFirst(prefix.count))
            }
            if !process.isRunning {
                throw HarnessError("\(process.arguments?.first ?? "sluice") exited with \(process.terminationStatus) before printing '\(prefix)'; stderr: \(stderrTail())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("no '\(prefix)' line within \(timeoutSeconds) s; stderr: \(stderrTail())")
    }

    func stderrTail() -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits (bounded) for the process to exit by itself; nil if it is still running.
    func waitForExit(timeoutSeconds: Double = 30) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Sends `signal` and waits (bounded) for the process to exit.
    @discardableResult
    func stop(signal sig: Int32 = SIGTERM, timeoutSeconds: Double = 30) async -> Int32? {
        if process.isRunning { signal(sig) }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            signal(SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
            return nil
        }
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum SluiceBinary {
    /// The `sluice` executable next to the test bundle (`swift build` puts both in the
    /// same directory).
    static func path() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sluice").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("sluice").path,
        ]
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
        throw HarnessError("the sluice binary is not built next to the tests (looked at \(candidates)); run `swift build --product sluice` first")
    }
}

/// Runs a program to its end; its exit status and stdout (plus stderr when `mergeErrors`).
/// `environment` entries override the test's own; a nil value removes the variable.
func runToEnd(
    _ executable: String, _ arguments: [String], environment: [String: String?] = [:], mergeErrors: Bool = false, input: Data? = nil
) async throws -> (status: Int32, output: String) {
    let directory = NSTemporaryDirectory() + "sluice-run-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let outPath = directory + "/out"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardOutput = output
    process.standardError = mergeErrors ? output : FileHandle.nullDevice
    if let input {
        let inPath = directory + "/in"
        _ = FileManager.default.createFile(atPath: inPath, contents: input)
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    let status = try await process.runToExit()
    try output.close()
    let data = try Data(contentsOf: URL(fileURLWithPath: outPath))
    return (status, String(decoding: data, as: UTF8.self))
}

/// A JSON HTTP call through the system curl (plain HTTP to the API on loopback).
func http(_ method: String, _ url: String, key: String?, json: String? = nil) async throws -> (status: Int, body: String) {
    var args = ["-sS", "-X", method, "-w", "\n%{http_code}", "--max-time", "120", url]
    if let key { args += ["-H", "Authorization: Bearer \(key)"] }
    if json != nil {
        args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    }
    let (_, text) = try await runToEnd("/usr/bin/curl", args, input: json.map { Data($0.utf8) })
    guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
        throw HarnessError("curl \(method) \(url) failed: \(text)")
    }
    return (status, String(text[..<newline]))
}

func jsonObject(_ text: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw HarnessError("not a JSON object: \(text)")
    }
    return object
}

/// One line of the mock's NDJSON arrival record.
struct RecordedArrival {
    var time: Int64
    var phoneNumberID: String
    var to: String? = nil
    var callback: String?
}

func readArrivals(_ path: String) throws -> [RecordedArrival] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var out: [RecordedArrival] = []
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    // Read while the mock appends: a last line without its newline is still being written.
    if !text.hasSuffix("\n") { lines.removeLast() }
    for line in lines where !line.isEmpty {
        let o = try jsonObject(String(line))
        guard let t = (o["t"] as? NSNumber)?.int64Value, let phone = o["phone_number_id"] as? String else {
            throw HarnessError("arrival line without t / phone_number_id: \(line)")
        }
        out.append(RecordedArrival(time: t, phoneNumberID: phone, to: o["to"] as? String, callback: o["callback"] as? String))
    }
    return out
}

func temporaryDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "sluice-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw HarnessError("bind() to 127.0.0.1:0 failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
