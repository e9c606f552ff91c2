import Foundation
import Hummingbird
import Logging
import SluiceCore

@testable import SluiceTransport
import SluiceTestSupport
import Testing

/// A plain HTTP/1.1 Cloud API stand-in on 127.0.0.1 for transport tests.
enum LocalServer {
    static let rateLimitBody = #"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},"fbtrace_id":"AbC"}}"#

    /// Runs `body` with the port of a server that answers:
    /// - `POST /v21.0/{id}/messages`: `messages[0].id = "wamid.T" + to` (401 unless `Bearer good-*`);
    /// - `POST /error`: 400 with WhatsApp's rate-limit error body; `POST /plain500`: 500, empty;
    /// - `POST /slow/{ms}`: answers after `ms` milliseconds.
    static func with(_ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("/v21.0/:phone/messages") { request, _ -> Response in
            guard request.headers[.authorization]?.hasPrefix("Bearer good-") == true else {
                return json(401, #"{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}"#)
            }
            let buffer = try await request.body.collect(upTo: 1 << 16)
            let object = try JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8)) as? [String: Any]
            let to = object?["to"] as? String ?? "?"
            return json(200, #"{"messaging_product":"whatsapp","contacts":[{"input":"\#(to)","wa_id":"\#(to)"}],"messages":[{"id":"wamid.T\#(to)"}]}"#)
        }
        router.post("/error") { _, _ in json(400, rateLimitBody) }
        router.post("/plain500") { _, _ in Response(status: .internalServerError) }
        router.post("/slow/:ms") { _, context -> Response in
            let ms = Int(context.parameters.get("ms") ?? "0") ?? 0
            try await Task.sleep(for: .milliseconds(ms))
            return json(200, #"{"messages":[{"id":"wamid.slow"}]}"#)
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "local-server")
        logger.logLevel = .critical  // cancelling the server at the end of a test logs errors
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var port = 0
            for await value in ports { port = value }
            defer { group.cancelAll() }
            try await body(port)
        }
    }

    private static func json(_ status: Int, _ text: String) -> Response {
        Response(
            status: .init(code: status),
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    /// A port on 127.0.0.1 with nothing listening (bound, then closed).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Collects completions from the transport's thread for an async test.
final class Collector: Sendable {
    private let state = Locked<(completions: [TransportCompletion], batches: Int)>(([], 0))

    var callback: @Sendable ([TransportCompletion]) -> Void {
        { batch in self.state.withLock { $0.completions.append(contentsOf: batch); $0.batches += 1 } }
    }

    var completions: [TransportCompletion] { state.withLock { $0.completions } }
    var batches: Int { state.withLock { $0.batches } }

    /// Waits until `count` completions arrived (or `seconds` passed: a recorded issue) and
    /// returns them.
    func wait(for count: Int, seconds: Double = 30, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [TransportCompletion] {
        try await eventually("\(count) completions (had \(completions.count))", within: seconds, every: 5, sourceLocation: sourceLocation) {
            completions.count >= count
        }
        return completions
    }
}
