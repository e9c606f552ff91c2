import Foundation
import SluiceTestSupport

@testable import SluiceMock

/// Runs the system `curl` against the mock: a real TLS/HTTP2 client from another process.
struct CurlResult: Sendable {
    var exitCode: Int32
    var status: Int
    var httpVersion: String
    var body: String
    var stderr: String

    /// The body parsed as a JSON object (empty when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    /// `error.code` from a Meta-shaped error body.
    var errorCode: Int? { (json["error"] as? [String: Any])?["code"] as? Int }
    var errorMessage: String { (json["error"] as? [String: Any])?["message"] as? String ?? "" }
    var errorDetails: String { ((json["error"] as? [String: Any])?["error_data"] as? [String: Any])?["details"] as? String ?? "" }
}

enum Curl {
    static let path = "/usr/bin/curl"
    static let marker = "\n--curl-write-out--"

    /// Runs curl with `arguments` (URL included) and waits without blocking a concurrency thread.
    static func run(_ arguments: [String], in directory: URL) async throws -> CurlResult {
        let id = UUID().uuidString
        let outURL = directory.appendingPathComponent("curl-\(id).out")
        let errURL = directory.appendingPathComponent("curl-\(id).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-sS", "--max-time", "20", "-w", marker + "%{http_code} %{http_version}"] + arguments
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        let exitCode = try await process.runToExit()
        let output = try String(contentsOf: outURL, encoding: .utf8)
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        var body = output
        var status = 0
        var version = ""
        if let range = output.range(of: marker, options: .backwards) {
            body = String(output[..<range.lowerBound])
            let fields = output[range.upperBound...].split(separator: " ")
            status = fields.first.flatMap { Int($0) } ?? 0
            version = fields.count > 1 ? String(fields[1]) : ""
        }
        return CurlResult(exitCode: exitCode, status: status, httpVersion: version, body: body, stderr: stderr)
    }

    /// Arguments for a send POST with JSON `body`.
    static func sendArguments(url: String, token: String? = "test-token", body: String) -> [String] {
        var arguments = ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        return arguments + [url]
    }
}

/// A fresh directory under the system temp dir, removed by the caller.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-mock-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A send body; `callback` goes into `biz_opaque_callback_data`.
func sendBody(to: String = "15551234567", callback: String? = nil) -> String {
    var fields = [
        #""messaging_product":"whatsapp""#,
        #""to":"\#(to)""#,
        #""type":"template""#,
        #""template":{"name":"hello_world","language":{"code":"en_US"}}"#,
    ]
    if let callback { fields.append(#""biz_opaque_callback_data":"# + JSONText.quoted(callback)) }
    return "{" + fields.joined(separator: ",") + "}"
}
