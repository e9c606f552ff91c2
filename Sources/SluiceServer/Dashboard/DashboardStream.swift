import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import SluiceCore
import SluiceEngine

/// `GET /v1/stream` (read): server-sent events, one `state` event about every second with
/// what the dashboard shows — the newest campaigns and every sender's live figures with
/// its last minutes (`SenderHistorySampler`):
///
/// ```
/// event: state
/// data: {"time":"…","campaigns":[…],"senders":[{…,"history":{"last_second":…,"sent":[…],"throttled":[…]}}]}
/// ```
///
/// The stream ends when the client goes away (the next write throws), on graceful
/// shutdown and on cancellation; at most `streamsMax` run at once (503 beyond).
enum DashboardStream {
    static let streamsMax = 32
    static let campaignsMax = 50
    static let intervalMilliseconds: Int64 = 1_000

    static func add(to read: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher, history: SenderHistorySampler) {
        let slots = StreamSlots(max: streamsMax)
        // Streams opened together share one reading of the journal per interval.
        let latest = Locked<(atMilliseconds: Int64, event: ByteBuffer)?>(nil)
        let current: @Sendable () throws -> ByteBuffer = {
            let now = SystemClock().wallMilliseconds()
            if let cached = latest.withLock({ $0 }), now - cached.atMilliseconds < intervalMilliseconds / 2 { return cached.event }
            let fresh = try event(dispatcher: dispatcher, history: history)
            latest.withLock { $0 = (now, fresh) }
            return fresh
        }
        read.get("stream") { _, _ in
            guard let slot = slots.take() else {
                throw APIError(
                    .serviceUnavailable, code: .tooManyStreams,
                    message: "\(streamsMax) dashboard streams are open already; close one or try again later")
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                // The body holds the slot: it is given back when the body is released,
                // however the stream ended (or if it never started).
                withExtendedLifetime(slot) {}
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let event = try current()
                    // The client went away: the write throws, and the stream ends here.
                    do { try await writer.write(event) } catch { return }
                    try? await Task.sleep(for: .milliseconds(intervalMilliseconds))
                }
                try? await writer.finish(nil)
            })
        }
    }

    /// One `state` event.
    static func event(dispatcher: Dispatcher, history: SenderHistorySampler) throws -> ByteBuffer {
        let data = JSONBody.bytes(try state(dispatcher: dispatcher, history: history))
        var buffer = ByteBuffer(string: "event: state\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }

    static func state(dispatcher: Dispatcher, history: SenderHistorySampler) throws -> [String: Any] {
        let live = Dictionary(dispatcher.senderSnapshots().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let senders = try dispatcher.senders().map { record -> [String: Any] in
            var json = SenderRoutes.liveJSON(record, live[record.id])
            let samples = history.samples(record.phoneNumberID)
            json["history"] = [
                "last_second": samples.map { $0.lastSecond as Any } ?? NSNull(),
                "sent": samples?.sent ?? [],
                "throttled": samples?.throttled ?? [],
            ] as [String: Any]
            return json
        }
        return [
            "time": APIKeyRoutes.timestamp(SystemClock().wallMilliseconds()),
            "campaigns": try dispatcher.newestCampaigns(limit: campaignsMax).map(APIRoutes.campaignJSON),
            "senders": senders,
        ]
    }
}

/// A count of open streams under a bound. A `Slot` gives its place back when released.
final class StreamSlots: Sendable {
    let max: Int
    private let open = Locked(0)

    init(max: Int) { self.max = max }

    var count: Int { open.withLock { $0 } }

    func take() -> Slot? {
        let taken = open.withLock { n -> Bool in
            guard n < max else { return false }
            n += 1
            return true
        }
        return taken ? Slot(self) : nil
    }

    fileprivate func give() { open.withLock { $0 -= 1 } }

    final class Slot: Sendable {
        let slots: StreamSlots
        fileprivate init(_ slots: StreamSlots) { self.slots = slots }
        deinit { slots.give() }
    }
}
