import NIOCore
import NIOHTTP2
import NIOHTTPTypesHTTP2

/// Sends an HTTP/2 response's `END_STREAM` on the DATA frame that carries its last body
/// bytes, as nginx and other front ends do, instead of on an empty DATA frame after it.
///
/// Why: libcurl 7.88.1 finishes a transfer once Content-Length bytes arrived and, when the
/// stream is still open then, resets it (`RST_STREAM(STREAM_CLOSED)`). swift-nio-http2
/// counts those resets (200 per 30 s per connection) as an attack and answers
/// `GOAWAY(ENHANCE_YOUR_CALM)` with last stream id 0, claiming every open stream
/// unprocessed although it had answered many: libcurl resends those (duplicates at the
/// endpoint) or fails them as "Error in the HTTP2 framing layer". The evidence is in
/// tuning/RESULTS.md ("HTTP/2 with Debian 12's libcurl"), the reproducer in tuning/h2repro.
///
/// Hummingbird adds its `Installer` after the HTTP/2-to-HTTP codec of each stream (and to
/// HTTP/1.1 connections, which it leaves alone); the installer puts a `FinalDataFrame` in
/// front of that codec, where the frames are.
final class FinalDataFrame: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// The last DATA frame without END_STREAM, held until the next write shows whether
    /// it ends the stream.
    private var held: (frame: HTTP2Frame.FramePayload.Data, promise: EventLoopPromise<Void>?)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .data(let frame) = unwrapOutboundIn(data) else {
            release(context)
            context.write(data, promise: promise)
            return
        }
        if frame.endStream, frame.data.readableBytes == 0, let last = held {
            held = nil
            var merged = last.frame
            merged.endStream = true
            if let promise, let earlier = last.promise { promise.futureResult.cascade(to: earlier) }
            context.write(wrapOutboundOut(.data(merged)), promise: promise ?? last.promise)
            return
        }
        release(context)
        if frame.endStream {
            context.write(data, promise: promise)
        } else {
            held = (frame, promise)
        }
    }

    // A held frame waits past a flush for the write that ends its stream.
    func flush(context: ChannelHandlerContext) { context.flush() }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        release(context)
        context.close(mode: mode, promise: promise)
    }

    private func release(_ context: ChannelHandlerContext) {
        guard let last = held else { return }
        held = nil
        context.write(wrapOutboundOut(.data(last.frame)), promise: last.promise)
    }

    /// The handler Hummingbird's `additionalChannelHandlers` adds: on an HTTP/2 stream it
    /// puts a `FinalDataFrame` just before the stream's codec; then it removes itself.
    final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = Never

        func handlerAdded(context: ChannelHandlerContext) {
            let pipeline = context.pipeline.syncOperations
            if let codec = try? pipeline.handler(type: HTTP2FramePayloadToHTTPServerCodec.self) {
                do {
                    try pipeline.addHandler(FinalDataFrame(), position: .before(codec))
                } catch {
                    context.fireErrorCaught(error)
                }
            }
            pipeline.removeHandler(context: context, promise: nil)
        }
    }
}
