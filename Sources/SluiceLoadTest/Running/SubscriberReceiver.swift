import Foundation
import Hummingbird
import Logging
import NIOCore
import SluiceCore
import SluiceCrypto
import ServiceLifecycle

/// The business's own app in a run with customers writing in: a subscriber on loopback
/// that checks each event's `X-Sluice-Signature-256` as a subscriber must, and notes when
/// each incoming message's `message` event arrived (the first time, by wamid).
final class SubscriberReceiver: Sendable {
    static let signatureHeader = "x-sluice-signature-256"
    /// Largest event body taken (an incoming message's event is a few KB).
    static let bodyBytesMax = 1 << 20

    struct Counts: Sendable, Equatable {
        var events = 0
        var badSignatures = 0
    }

    let secret: String
    private let received = Locked<[String: Int64]>([:])
    private let counts = Locked(Counts())
    private let server = Locked<(group: ServiceGroup, task: Task<Void, Never>)?>(nil)
    /// Longest wait for event posts still open when the receiver stops.
    static let stopSecondsMax = 2

    init(secret: String) {
        self.secret = secret
    }

    /// When each wamid's `message` event first arrived, CLOCK_REALTIME nanoseconds.
    func arrivals() -> [String: Int64] { received.withLock { $0 } }

    func tally() -> Counts { counts.withLock { $0 } }

    /// Starts serving on 127.0.0.1; returns the URL to subscribe. `stop()` ends it.
    func start(logger: Logger) async throws -> String {
        let router = Router()
        router.post("/events") { request, _ -> HTTPResponse.Status in
            let bytes = try await request.body.collect(upTo: Self.bodyBytesMax)
            self.take(Array(buffer: bytes), signature: request.headers.first { $0.name.canonicalName == Self.signatureHeader }?.value)
            return .noContent
        }
        let (ports, listening) = AsyncStream<Int>.makeStream()
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                listening.yield(channel.localAddress?.port ?? 0)
                listening.finish()
            },
            logger: quiet)
        // Stopped gracefully: a cancelled server logs its open connections as errors.
        var configuration = ServiceGroupConfiguration(services: [.init(service: app)], logger: quiet)
        configuration.maximumGracefulShutdownDuration = .seconds(Self.stopSecondsMax)
        let group = ServiceGroup(configuration: configuration)
        let task = Task {
            do { try await group.run() } catch { listening.finish() }
        }
        server.withLock { $0 = (group, task) }
        var port = 0
        for await p in ports { port = p }
        guard port > 0 else {
            await stop()
            throw LoadTestError.invalidConfiguration("the subscriber could not listen on 127.0.0.1")
        }
        return "http://127.0.0.1:\(port)/events"
    }

    func stop() async {
        guard let running = server.withLock({ r -> (group: ServiceGroup, task: Task<Void, Never>)? in
            defer { r = nil }
            return r
        }) else { return }
        await running.group.triggerGracefulShutdown()
        await running.task.value
    }

    private func take(_ body: [UInt8], signature: String?) {
        let now = LoadTestRunner.nowNanoseconds()
        guard let signature, WebhookSignature.isValid(header: signature, secret: Array(secret.utf8), body: body) else {
            counts.withLock { $0.badSignatures += 1 }
            return
        }
        counts.withLock { $0.events += 1 }
        // One event per POST, or several in an array.
        let parsed = try? JSONSerialization.jsonObject(with: Data(body))
        let events = (parsed as? [[String: Any]]) ?? (parsed as? [String: Any]).map { [$0] } ?? []
        let wamids = events.compactMap { $0["type"] as? String == "message" ? $0["wamid"] as? String : nil }
        guard !wamids.isEmpty else { return }
        received.withLock { seen in
            for w in wamids where seen[w] == nil { seen[w] = now }
        }
    }
}
