import Foundation
import Hummingbird
import NIOCore
import NIOHTTPTypes
import SluiceCore

/// Open API connections per client address, capped: with the slow-client limits it
/// bounds what one client can hold (sockets, buffers) however slowly it talks.
final class ConnectionLimiter: Sendable {
    /// Connections one address may hold open at once; 0: no cap.
    let perClient: Int
    private let open = Locked<[String: Int]>([:])

    init(perClient: Int) {
        self.perClient = perClient
    }

    /// Counts a connection from `address`; false (and not counted) when it is over the cap.
    func acquire(_ address: String) -> Bool {
        open.withLock { open in
            let n = open[address, default: 0]
            guard perClient == 0 || n < perClient else { return false }
            open[address] = n + 1
            return true
        }
    }

    func release(_ address: String) {
        open.withLock { open in
            let n = open[address, default: 0] - 1
            open[address] = n > 0 ? n : nil
        }
    }

    /// Addresses with a connection open (for tests and diagnostics).
    var clients: Int { open.withLock { $0.count } }
}

/// Counts its connection against the client's cap while the connection lives. A
/// connection over the cap reads one request, answers it 429 `too_many_connections`
/// and closes: the client learns why instead of seeing a reset.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private let limiter: ConnectionLimiter
    private var address: String?
    private var refused = false
    private var answered = false

    init(limiter: ConnectionLimiter) {
        self.limiter = limiter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if limiter.acquire(address) { self.address = address } else { refused = true }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let address { limiter.release(address) }
        address = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard refused else { return context.fireChannelRead(data) }
        guard case .head = unwrapInboundIn(data), !answered else { return }
        answered = true
        let error = APIError(
            .tooManyRequests, code: .tooManyConnections,
            message: "this client has \(limiter.perClient) connections open to the API, the most allowed; reuse them (keep-alive) or close some")
        let bytes = JSONBody.bytes(error.body)
        var head = HTTPResponse(status: .tooManyRequests)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(bytes.count)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: bytes))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
