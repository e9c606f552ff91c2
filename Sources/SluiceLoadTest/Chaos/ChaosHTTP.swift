import Foundation

/// One HTTP request of a chaos run through the system `curl`, telling an answer from a
/// connection that was refused (nothing sent: the request cannot have been applied) and
/// from one that broke after the request went out (it may have been applied).
struct ChaosHTTP: Sendable {
    enum Outcome {
        case answered(status: Int, body: Data)
        /// curl could not connect (exit 7): the server never saw the request.
        case refused(String)
        /// Anything else: reset, empty reply, timeout after the request was (partly) sent.
        case broken(exitCode: Int32, String)

        var json: [String: Any]? {
            guard case .answered(_, let body) = self else { return nil }
            return (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        }
    }

    /// curl's "Failed to connect to host".
    static let couldNotConnectExitCode: Int32 = 7
    /// Upper bound on any one request, in seconds.
    static let timeoutSecondsMax = 120

    var bearer: String?

    /// `method url`, with `bodyFile` as the body of `contentType`; `limitRateBytesPerSecond`
    /// slows the upload (a streamed campaign that takes long enough to be killed in).
    func request(
        _ method: String, _ url: String, bodyFile: String? = nil, contentType: String = "application/json",
        headers: [String] = [], limitRateBytesPerSecond: Int? = nil, timeoutSeconds: Int = 30
    ) throws -> Outcome {
        guard LoopbackURL.isLoopback(url) else { throw LoadTestError.invalidConfiguration("refusing a non-loopback URL: \(url)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: LoopbackHTTP.curlPath)
        var arguments = ["-sS", "-X", method, "-o", "-", "-w", "\n%{http_code}", "--max-time", String(min(timeoutSeconds, Self.timeoutSecondsMax))]
        if let bearer { arguments += ["-H", "Authorization: Bearer \(bearer)"] }
        for header in headers { arguments += ["-H", header] }
        if let bodyFile { arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", "@" + bodyFile] }
        if let limitRateBytesPerSecond { arguments += ["--limit-rate", String(limitRateBytesPerSecond)] }
        arguments.append(url)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        process.waitUntilExit()
        let exit = process.terminationStatus
        if exit == Self.couldNotConnectExitCode { return .refused(errorText) }
        guard exit == 0, let newline = data.lastIndex(of: UInt8(ascii: "\n")),
              let status = Int(String(decoding: data[(newline + 1)...], as: UTF8.self)), status > 0
        else {
            return .broken(exitCode: exit, "curl exit \(exit): \(errorText)")
        }
        return .answered(status: status, body: Data(data[..<newline]))
    }
}
