import NIOCore
import NIOEmbedded
import NIOHTTP2
import Testing
@testable import SluiceMock

/// The mock's HTTP/2 responses end their stream on the body's DATA frame (see
/// `FinalDataFrame`), so libcurl never resets a stream it has finished reading.
@Suite struct FinalDataFrameTests {
    func data(_ text: String, end: Bool) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(ByteBuffer(string: text)), endStream: end))
    }

    func written(_ channel: EmbeddedChannel) throws -> [(text: String?, end: Bool, isHeaders: Bool)] {
        var out: [(String?, Bool, Bool)] = []
        while let payload = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) {
            switch payload {
            case .data(let d):
                guard case .byteBuffer(let b) = d.data else { out.append((nil, d.endStream, false)); continue }
                out.append((String(buffer: b), d.endStream, false))
            case .headers(let h): out.append((nil, h.endStream, true))
            default: out.append((nil, false, false))
            }
        }
        return out
    }

    @Test func theEmptyEndFrameIsFoldedIntoTheLastBodyFrame() throws {
        let channel = EmbeddedChannel(handler: FinalDataFrame())
        let headers = HTTP2Frame.FramePayload.headers(.init(headers: [":status": "200"]))
        channel.write(headers, promise: nil)
        channel.write(data("{\"messages\":", end: false), promise: nil)
        channel.write(data("[]}", end: false), promise: nil)
        channel.flush()
        let endWritten = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(data("", end: true), promise: endWritten)
        let frames = try written(channel)
        #expect(frames.count == 3, "headers and two DATA frames, no empty one: \(frames)")
        #expect(frames.first?.isHeaders == true)
        #expect(frames.dropFirst().map(\.text) == ["{\"messages\":", "[]}"])
        #expect(frames.map(\.end) == [false, false, true], "END_STREAM on the last body frame")
        #expect(throws: Never.self) { try endWritten.futureResult.wait() }
        _ = try channel.finish()
    }

    @Test func anEndFrameWithBytesAndOtherFramesPassAsTheyAre() throws {
        let channel = EmbeddedChannel(handler: FinalDataFrame())
        channel.write(data("body", end: true), promise: nil)
        channel.write(HTTP2Frame.FramePayload.rstStream(.cancel), promise: nil)
        channel.flush()
        let frames = try written(channel)
        #expect(frames.map(\.text) == ["body", nil])
        #expect(frames.map(\.end) == [true, false])
        _ = try channel.finish()
    }
}
