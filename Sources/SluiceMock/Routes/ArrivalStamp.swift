import Hummingbird
import NIOHTTPTypes
import NIOCore

/// Stamps each request with the time its head was decoded, on the connection's event
/// loop, before the request waits for a handler task: the arrival time the rate limit
/// and the record use is then when the request reached the endpoint, not when a busy
/// task pool got to it.
final class ArrivalStamp: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    /// Set here, replacing any value a client sent.
    static let field = HTTPFields.Element.Name("X-Sluice-Mock-Arrival-Ns")!

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard case .head(var head) = part else {
            context.fireChannelRead(data)
            return
        }
        head.headerFields[Self.field] = String(WallClock.nowNanoseconds())
        context.fireChannelRead(wrapInboundOut(HTTPRequestPart.head(head)))
    }

    /// The stamp of `request`, or now when it came another way (a test's router).
    static func arrival(of request: Request) -> Int64 {
        request.headers[field].flatMap { Int64($0) } ?? WallClock.nowNanoseconds()
    }
}
