import HummingbirdCore
import Logging
import NIOCore

/// A distant endpoint's connection setup: a new connection's first bytes (the TLS
/// ClientHello) are read `delay` late, as if the TCP and TLS round trips to the endpoint
/// took that long. Requests on a connection that is already open pay nothing, so a
/// client that opens its connections ahead (warm start) is not held up by them.
final class ConnectionSetupDelay: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let delay: TimeAmount
    private var held: [NIOAny] = []
    private var started = false
    private var released = false

    init(delay: TimeAmount) { self.delay = delay }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if released { context.fireChannelRead(data) } else { held.append(data) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if released { context.fireChannelReadComplete() }
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.release(context)
        }
    }

    private func release(_ context: ChannelHandlerContext) {
        released = true
        let held = self.held
        self.held.removeAll()
        for data in held { context.fireChannelRead(data) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// A server child channel with ``ConnectionSetupDelay`` in front of everything (TLS included).
struct DistantChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let setupDelay: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionSetupDelay(delay: setupDelay), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
