import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Where the operator commands send their requests: `--server` (or `$SLUICE_SERVER`) and
/// the API key from `--key` (or `$SLUICE_KEY`).
struct ClientOptions: ParsableArguments {
    @Option(help: "Base URL of a running `sluice serve` (default: $SLUICE_SERVER or http://127.0.0.1:8080).")
    var server: String?
    @Option(help: "API key (default: $SLUICE_KEY).")
    var key: String?
    @Flag(help: "Print the server's JSON answer instead of a table.")
    var json = false

    func client() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let base = server ?? environment["SLUICE_SERVER"] ?? "http://127.0.0.1:8080"
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw ValidationError("--server must be an http:// or https:// URL, got '\(base)'")
        }
        guard let key = key ?? environment["SLUICE_KEY"], !key.isEmpty else {
            throw ValidationError("no API key: pass --key or set SLUICE_KEY")
        }
        return APIClient(base: base.hasSuffix("/") ? String(base.dropLast()) : base, key: key)
    }
}

/// A failed API call, printed as the server's error and a non-zero exit.
struct APICallError: Error, CustomStringConvertible {
    var description: String
}

/// JSON over HTTP to the Sluice API.
struct APIClient {
    let base: String
    let key: String
    static let timeout = TimeAmount.seconds(60)

    /// The commands' client: one that fails at once when the server refuses the
    /// connection, where the shared one retries until the request's deadline (a minute
    /// of silence before "connection refused"). Lives as long as the process.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// One call; a non-2xx answer throws with the API's error code and message.
    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, json body: [String: Any]? = nil, idempotencyKey: String? = nil) async throws -> Any? {
        try await exchange(method, path, body: try body.map { ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: $0)) }, contentType: "application/json", idempotencyKey: idempotencyKey).object
    }

    /// One call with the answer's status, for routes whose 2xx tell things apart (201
    /// added, 200 already there); a non-2xx answer throws as ``call(_:_:json:)`` does.
    func exchange(_ method: HTTPMethod, _ path: String, json body: [String: Any]? = nil) async throws -> (status: UInt, object: Any?) {
        try await exchange(method, path, body: try body.map { ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: $0)) }, contentType: "application/json")
    }

    /// One call with a body of any type (a file for `POST /v1/media`).
    func exchange(_ method: HTTPMethod, _ path: String, body: ByteBuffer?, contentType: String, idempotencyKey: String? = nil) async throws -> (status: UInt, object: Any?) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(body)
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.http.execute(request, timeout: Self.timeout)
        } catch {
            throw APICallError(description: Self.unreachable(base, error))
        }
        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        let object = bytes.readableBytes == 0 ? nil : try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))
        guard (200..<300).contains(response.status.code) else {
            throw Self.failure(method, path, status: response.status.code, object: object, body: bytes)
        }
        return (response.status.code, object)
    }

    /// A GET whose answer is copied to `fd` as it arrives (an export of any size); a
    /// non-2xx answer throws as ``call(_:_:json:)`` does. Returns the bytes written.
    @discardableResult
    func download(_ path: String, to fd: Int32) async throws -> Int {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response: HTTPClientResponse
        do {
            response = try await Self.http.execute(request, timeout: .hours(1))
        } catch {
            throw APICallError(description: Self.unreachable(base, error))
        }
        guard (200..<300).contains(response.status.code) else {
            let bytes = try await response.body.collect(upTo: 1 << 20)
            let object = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))
            throw Self.failure(.GET, path, status: response.status.code, object: object, body: bytes)
        }
        var written = 0
        for try await chunk in response.body {
            writeOut(fd, bytes: Array(chunk.readableBytesView))
            written += chunk.readableBytes
        }
        return written
    }

    /// Why the server could not be reached, as one sentence (not NIO's nested errors).
    static func unreachable(_ base: String, _ error: any Error) -> String {
        "cannot reach \(base): " + reason(error)
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return reason(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "the host name does not resolve" }
            return "no connection could be opened"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        case is NIOSSLError, is BoringSSLError:
            return "the TLS handshake failed (is the server serving https? use http:// for a plain server, or check its certificate)"
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout: return "timed out connecting"
            case .deadlineExceeded, .readTimeout: return "timed out waiting for the answer"
            case .remoteConnectionClosed: return "the server closed the connection (is it serving plain http? use https:// for a TLS server)"
            default: return "\(error)"
            }
        case is ChannelError:
            return "the connection failed (\(error))"
        default:
            return "\(error)"
        }
    }

    /// A non-2xx answer as the API's error code and message.
    static func failure(_ method: HTTPMethod, _ path: String, status: UInt, object: Any?, body: ByteBuffer) -> APICallError {
        let error = (object as? [String: Any])?["error"] as? [String: Any]
        let code = error?["code"] as? String ?? "http_\(status)"
        let message = error?["message"] as? String ?? String(buffer: body)
        return APICallError(description: "\(method) \(path): \(status) \(code): \(message)")
    }

    /// The answer printed as indented JSON.
    static func printJSON(_ object: Any?) {
        guard let object, let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else { return }
        say(String(decoding: data, as: UTF8.self))
    }
}

/// A plain-text table with left-aligned columns.
func table(_ header: [String], _ rows: [[String]]) -> [String] {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0.indices.contains(i) ? $0[i].count : 0 }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
}

/// A JSON value for a table cell.
func cell(_ value: Any?) -> String {
    switch value {
    case nil, is NSNull: return "-"
    case let s as String: return s
    case let n as NSNumber:
        if String(cString: n.objCType) == "c" { return n.boolValue ? "yes" : "no" }
        let d = n.doubleValue
        return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(format: "%.1f", d)
    default: return "\(value!)"
    }
}
