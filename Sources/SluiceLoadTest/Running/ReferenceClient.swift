import Foundation

/// The ceiling run's yardstick: h2load (Debian's `nghttp2-client`), a C client that does no
/// dispatching work, sends the same number of valid sends as the dispatcher to the same
/// mock endpoint, over the same number of connections.
///
/// Protocol: the dispatcher's. Over HTTP/2 (serve's default) h2load multiplexes
/// `streamsPerConnection` streams on each of `-c` connections, as libcurl does; over
/// HTTP/1.1 it runs with `--h1`, one request in flight per connection (no pipelining), and
/// `-c` = the dispatcher's `--connections`, so both sides pay the same TLS, framing and
/// round trips.
///
/// ```swift
/// let client = ReferenceClient(url: mock + "/v21.0/1065999999/messages", bodyFile: body,
///                              bearer: token, requests: 240_000, connections: 64, outputPath: work + "/h2load.log")
/// let result = try await client.run()   // result.requestsPerSecond, result.status2xx
/// ```
struct ReferenceClient: Sendable {
    /// Where Debian's `nghttp2-client` installs it.
    static let defaultExecutable = "/usr/bin/h2load"
    /// The package to install when it is missing.
    static let package = "nghttp2-client"
    /// Longest a reference run may take, in seconds.
    static let runSecondsMax = 600.0
    static let pollMilliseconds = 50
    /// Streams per HTTP/2 connection (`-m`), as libcurl opens them (`CURLMOPT_MAX_CONCURRENT_STREAMS`).
    static let streamsPerConnection = 100

    var executable = Self.defaultExecutable
    /// The mock's send URL for the reference number.
    var url: String
    /// A valid send body (JSON) in a file.
    var bodyFile: String
    /// The reference number's token at the mock.
    var bearer: String
    /// Requests in all.
    var requests: Int
    /// Concurrent connections.
    var connections: Int
    /// HTTP/2 with `streamsPerConnection` streams per connection; false: HTTP/1.1.
    var http2 = true
    /// h2load's stdout and stderr.
    var outputPath: String

    /// The command line, without the executable.
    var arguments: [String] {
        ["-n", String(requests), "-c", String(connections), "-t", "1"]
            + (http2 ? ["-m", String(Self.streamsPerConnection)] : ["--h1"])
            + ["-d", bodyFile, "-H", "authorization: Bearer \(bearer)", "-H", "content-type: application/json", url]
    }

    /// Runs h2load to completion (bounded) and parses what it printed.
    func run() async throws -> ReferenceResult {
        guard LoopbackURL.isLoopback(url) else { throw LoadTestError.invalidConfiguration("refusing a non-loopback URL: \(url)") }
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw LoadTestError.invalidConfiguration(
                "the reference client \(executable) is missing: install Debian's \(Self.package) package (apt-get install \(Self.package))")
        }
        guard (1...requests).contains(connections) else {
            throw LoadTestError.invalidConfiguration("reference client: \(connections) connections for \(requests) requests")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // A file, not a pipe: nothing can block h2load on a full pipe.
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = FileHandle(forWritingAtPath: outputPath)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(Self.runSecondsMax)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(Self.pollMilliseconds)) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            try? output?.close()
            throw LoadTestError.childFailed("h2load did not finish within \(Int(Self.runSecondsMax)) s; output: \(outputPath)")
        }
        try? output?.close()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw LoadTestError.childFailed("h2load exited with status \(process.terminationStatus): \(text.suffix(1_500))")
        }
        do {
            return try ReferenceResult.parse(h2loadOutput: text)
        } catch {
            throw LoadTestError.childFailed("\(error); output: \(outputPath)")
        }
    }
}

/// What h2load reported for one run.
public struct ReferenceResult: Sendable, Equatable, Codable {
    /// `finished in 2.01s`.
    public var seconds: Double
    /// `1990.05 req/s`.
    public var requestsPerSecond: Double
    /// `requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout`.
    public var total: Int
    public var done: Int
    public var succeeded: Int
    public var failed: Int
    public var errored: Int
    /// `status codes: N 2xx, N 3xx, N 4xx, N 5xx`.
    public var status2xx: Int
    public var status4xx: Int
    public var status5xx: Int

    /// Creates a result.
    public init(
        seconds: Double, requestsPerSecond: Double, total: Int, done: Int, succeeded: Int, failed: Int, errored: Int,
        status2xx: Int, status4xx: Int, status5xx: Int
    ) {
        self.seconds = seconds
        self.requestsPerSecond = requestsPerSecond
        self.total = total
        self.done = done
        self.succeeded = succeeded
        self.failed = failed
        self.errored = errored
        self.status2xx = status2xx
        self.status4xx = status4xx
        self.status5xx = status5xx
    }

    enum CodingKeys: String, CodingKey {
        case seconds
        case requestsPerSecond = "requests_per_second"
        case total, done, succeeded, failed, errored
        case status2xx = "status_2xx"
        case status4xx = "status_4xx"
        case status5xx = "status_5xx"
    }

    /// Parses h2load's summary:
    ///
    /// ```
    /// finished in 2.01s, 1990.05 req/s, 1.23MB/s
    /// requests: 4000 total, 4000 started, 4000 done, 4000 succeeded, 0 failed, 0 errored, 0 timeout
    /// status codes: 4000 2xx, 0 3xx, 0 4xx, 0 5xx
    /// ```
    ///
    /// Throws ``ReferenceOutputError`` naming the line that is missing or malformed.
    public static func parse(h2loadOutput text: String) throws(ReferenceOutputError) -> ReferenceResult {
        var finished: (Double, Double)?
        var requests: [String: Int]?
        var codes: [String: Int]?
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("finished in ") {
                // "finished in 2.01s, 1990.05 req/s, 1.23MB/s"
                let parts = line.dropFirst("finished in ".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count >= 2, parts[0].hasSuffix("s"), let seconds = duration(parts[0]),
                      parts[1].hasSuffix(" req/s"), let rate = Double(parts[1].dropLast(" req/s".count))
                else { throw .malformed(line) }
                finished = (seconds, rate)
            } else if line.hasPrefix("requests: ") {
                requests = try counts(line, prefix: "requests: ")
            } else if line.hasPrefix("status codes: ") {
                codes = try counts(line, prefix: "status codes: ")
            }
        }
        guard let finished else { throw .missing("finished in …") }
        guard let requests else { throw .missing("requests: …") }
        guard let codes else { throw .missing("status codes: …") }
        func need(_ table: [String: Int], _ key: String, _ line: String) throws(ReferenceOutputError) -> Int {
            guard let value = table[key] else { throw .missing("\(line) … \(key)") }
            return value
        }
        return ReferenceResult(
            seconds: finished.0, requestsPerSecond: finished.1,
            total: try need(requests, "total", "requests:"), done: try need(requests, "done", "requests:"),
            succeeded: try need(requests, "succeeded", "requests:"), failed: try need(requests, "failed", "requests:"),
            errored: try need(requests, "errored", "requests:"),
            status2xx: try need(codes, "2xx", "status codes:"), status4xx: try need(codes, "4xx", "status codes:"),
            status5xx: try need(codes, "5xx", "status codes:"))
    }

    /// `"N word, N word, …"` after `prefix` as `[word: N]`.
    private static func counts(_ line: String, prefix: String) throws(ReferenceOutputError) -> [String: Int] {
        var table: [String: Int] = [:]
        for part in line.dropFirst(prefix.count).split(separator: ",") {
            let words = part.split(separator: " ")
            guard words.count == 2, let value = Int(words[0]) else { throw .malformed(line) }
            table[String(words[1])] = value
        }
        return table
    }

    /// h2load prints durations as `2.01s`, `512.3ms` or `830us`.
    private static func duration(_ text: String) -> Double? {
        if text.hasSuffix("ms") { return Double(text.dropLast(2)).map { $0 / 1_000 } }
        if text.hasSuffix("us") { return Double(text.dropLast(2)).map { $0 / 1_000_000 } }
        return Double(text.dropLast())
    }

    /// Every request done, succeeded and answered 2xx.
    public func problems(requested: Int) -> [String] {
        var problems: [String] = []
        if total != requested || done != requested { problems.append("reference client: \(done) of \(requested) requests done") }
        if failed > 0 || errored > 0 { problems.append("reference client: \(failed) failed, \(errored) errored requests") }
        if status2xx != requested { problems.append("reference client: \(status2xx) of \(requested) answers were 2xx (\(status4xx) 4xx, \(status5xx) 5xx)") }
        return problems
    }
}

/// h2load printed something the parser does not understand.
public enum ReferenceOutputError: Error, Equatable, CustomStringConvertible {
    case missing(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .missing(let line): "h2load output has no '\(line)' line"
        case .malformed(let line): "h2load output line is malformed: '\(line)'"
        }
    }
}
