import Foundation

/// HTTP on loopback through the system `curl`: plain HTTP to the API, HTTPS to the mock
/// with its CA file. A call that takes longer than `timeoutSeconds` fails.
struct LoopbackHTTP: Sendable {
    /// The curl executable.
    static let curlPath = "/usr/bin/curl"
    /// Upper bound on any one request, in seconds (a 1000 msg/s × 600 s campaign is ~30 MB).
    static let timeoutSecondsMax = 300

    /// CA bundle for HTTPS; nil with `insecure` accepts any certificate (loopback only).
    var caFile: String?
    var insecure = false
    var timeoutSeconds = 30

    struct Response {
        var status: Int
        var body: Data
        /// When curl had the whole response, in CLOCK_REALTIME nanoseconds: the launch
        /// instant plus curl's own `time_total`, so process teardown does not count.
        var completedAtNanoseconds: Int64
        var text: String { String(decoding: body, as: UTF8.self) }

        func json() throws -> [String: Any] {
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw LoadTestError.http("expected a JSON object, got: \(String(text.prefix(300)))")
            }
            return object
        }
    }

    /// Sends `method url`; `bodyFile` is sent as the JSON body.
    func request(_ method: String, _ url: String, bearer: String? = nil, bodyFile: String? = nil, timeoutSeconds: Int? = nil) throws -> Response {
        guard LoopbackURL.isLoopback(url) else { throw LoadTestError.invalidConfiguration("refusing a non-loopback URL: \(url)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.curlPath)
        let limit = min(timeoutSeconds ?? self.timeoutSeconds, Self.timeoutSecondsMax)
        var arguments = ["-sS", "-X", method, "-o", "-", "-w", "\n%{time_total} %{http_code}", "--max-time", String(limit)]
        if let caFile { arguments += ["--cacert", caFile] } else if insecure { arguments.append("--insecure") }
        if let bearer { arguments += ["-H", "Authorization: Bearer \(bearer)"] }
        if let bodyFile { arguments += ["-H", "Content-Type: application/json", "--data-binary", "@" + bodyFile] }
        arguments.append(url)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let launchedAt = LoadTestRunner.nowNanoseconds()
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let trailer = data.lastIndex(of: UInt8(ascii: "\n")).map { String(decoding: data[($0 + 1)...], as: UTF8.self).split(separator: " ") }
        guard let newline = data.lastIndex(of: UInt8(ascii: "\n")), let trailer, trailer.count == 2,
              let seconds = Double(trailer[0]), let status = Int(trailer[1]), status > 0
        else {
            throw LoadTestError.http("\(method) \(url) failed: \(errorText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return Response(status: status, body: Data(data[..<newline]), completedAtNanoseconds: launchedAt + Int64(seconds * 1e9))
    }
}

/// Only loopback targets: the harness never sends traffic off the machine.
public enum LoopbackURL {
    /// Hosts accepted in `--server` / `--mock` URLs.
    public static let hosts: Set<String> = ["127.0.0.1", "localhost", "::1", "[::1]"]

    /// Whether `url` is http(s) to a loopback host.
    public static func isLoopback(_ url: String) -> Bool {
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["http", "https"].contains(scheme),
              let host = components.host
        else { return false }
        return hosts.contains(host)
    }
}
