import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An answer as status and parsed JSON body (parsed after the await: `[String: Any]`
/// does not cross it).
struct JSONAnswer {
    var status: Int
    var json: [String: Any]
    init(_ raw: (status: Int, body: [UInt8])) {
        status = raw.status
        json = (try? JSONSerialization.jsonObject(with: Data(raw.body))) as? [String: Any] ?? [:]
    }

    var errorField: String? { (json["error"] as? [String: Any])?["field"] as? String }
}

/// A blocking HTTP/1.1 client over a plain socket, for what a test client cannot do:
/// send a body in parts with pauses between them, or go away in the middle of it. Its
/// blocking calls run on a dispatch queue, off Swift's cooperative pool.
final class RawHTTPClient: @unchecked Sendable {
    private let fd: Int32
    private let queue = DispatchQueue(label: "raw-http-client")

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EBADF) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    func send(_ bytes: [UInt8]) async throws {
        try await run { [fd] in
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
                guard n > 0 else { throw POSIXError(.EPIPE) }
                offset += n
            }
        }
    }

    /// Reads one response (headers and a Content-Length body).
    func response() async throws -> (status: Int, body: [String: Any]) {
        let (status, bytes) = try await rawResponse()
        return (status, (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:])
    }

    /// `GET path` on a connection of its own: the status and the body's bytes.
    static func get(port: Int, path: String, bearer: String) async throws -> (status: Int, body: [UInt8]) {
        let client = try RawHTTPClient(port: port)
        defer { client.closeNormally() }
        try await client.send(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(bearer)\r\nConnection: close\r\n\r\n".utf8))
        return try await client.rawResponse()
    }

    /// `GET path` read to the end of the connection, a chunked body decoded: for streamed
    /// answers (no Content-Length). The status, the headers' text and the body.
    static func getStreamed(port: Int, path: String, bearer: String) async throws -> (status: Int, head: String, body: [UInt8]) {
        let client = try RawHTTPClient(port: port)
        defer { client.closeNormally() }
        try await client.send(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(bearer)\r\nConnection: close\r\n\r\n".utf8))
        let data = try await client.run { [fd = client.fd] in
            var data: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                guard n > 0 else { return data }
                data.append(contentsOf: buffer[0..<n])
            }
        }
        guard let end = find(Array("\r\n\r\n".utf8), in: data) else { throw POSIXError(.EPROTO) }
        let head = String(decoding: data[..<end], as: UTF8.self)
        let status = Int(head.split(separator: " ")[1]) ?? 0
        var rest = Array(data[(end + 4)...])
        guard head.lowercased().contains("transfer-encoding: chunked") else { return (status, head, rest) }
        var body: [UInt8] = []
        while let line = find(Array("\r\n".utf8), in: rest), let size = Int(String(decoding: rest[..<line], as: UTF8.self), radix: 16), size > 0 {
            body += rest[(line + 2)..<(line + 2 + size)]
            rest = Array(rest[(line + 2 + size + 2)...])
        }
        return (status, head, body)
    }

    /// `GET path` on a connection that stays open, for a stream: read with `readUntil`.
    static func openStream(port: Int, path: String, bearer: String) async throws -> RawHTTPClient {
        let client = try RawHTTPClient(port: port)
        try await client.send(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(bearer)\r\n\r\n".utf8))
        return client
    }

    /// Reads until the text read holds `marker` `count` times, for at most `timeoutSeconds`
    /// (a read that waits longer throws): a stream's head and its first events, raw
    /// (chunk sizes included).
    func readUntil(_ marker: String, count: Int, timeoutSeconds: Int = 15) async throws -> String {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = try await run { [fd] in
            var data: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let needle = Array(marker.utf8)
            while Self.occurrences(needle, in: data) < count {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                guard n > 0 else { throw POSIXError(.ETIMEDOUT) }
                data.append(contentsOf: buffer[0..<n])
            }
            return data
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func occurrences(_ needle: [UInt8], in haystack: [UInt8]) -> Int {
        var found = 0
        var rest = haystack[...]
        while let i = find(needle, in: Array(rest)) {
            found += 1
            rest = rest.dropFirst(i + needle.count)
        }
        return found
    }

    /// `POST path` with a JSON body on a connection of its own: the status and the body's bytes.
    static func post(port: Int, path: String, json: String, bearer: String? = nil) async throws -> (status: Int, body: [UInt8]) {
        try await post(port: port, path: path, body: Array(json.utf8), contentType: "application/json", bearer: bearer)
    }

    /// `POST path` with any body and Content-Type (nil: none) on a connection of its own;
    /// `declaredLength` announces a longer body than is sent (a server that refuses by
    /// Content-Length answers before it).
    static func post(
        port: Int, path: String, body: [UInt8], contentType: String?, bearer: String? = nil, declaredLength: Int? = nil, headers: [String: String] = [:],
        method: String = "POST"
    ) async throws -> (status: Int, body: [UInt8]) {
        let client = try RawHTTPClient(port: port)
        defer { client.closeNormally() }
        let authorization = bearer.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        let type = contentType.map { "Content-Type: \($0)\r\n" } ?? ""
        let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
        try await client.send(
            Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(authorization)\(type)\(extra)Content-Length: \(declaredLength ?? body.count)\r\nConnection: close\r\n\r\n".utf8) + body)
        return try await client.rawResponse()
    }

    /// `PUT path` with any body and Content-Type on a connection of its own.
    static func put(port: Int, path: String, body: [UInt8], contentType: String?, bearer: String? = nil, headers: [String: String] = [:]) async throws -> (status: Int, body: [UInt8]) {
        try await post(port: port, path: path, body: body, contentType: contentType, bearer: bearer, headers: headers, method: "PUT")
    }

    private func rawResponse() async throws -> (Int, [UInt8]) {
        try await run { [fd] in
            var data: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                if let end = Self.find(Array("\r\n\r\n".utf8), in: data) {
                    let head = String(decoding: data[..<end], as: UTF8.self)
                    let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                    if data.count >= end + 4 + length {
                        let status = Int(head.split(separator: " ")[1]) ?? 0
                        return (status, Array(data[(end + 4)..<(end + 4 + length)]))
                    }
                }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                guard n > 0 else { throw POSIXError(.ECONNRESET) }
                data.append(contentsOf: buffer[0..<n])
            }
        }
    }

    /// Goes away: the server sees the connection end mid-request.
    func abort() {
        var linger = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    func closeNormally() { close(fd) }

    private func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}
