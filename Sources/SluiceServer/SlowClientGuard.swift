import Hummingbird
import HummingbirdCore
import NIOCore

/// Limits on how slowly a client may talk to the API, so that slow-loris connections
/// cannot hold intake open for ever.
///
/// - A connection that sends nothing for `idleSeconds` is closed: request headers still
///   arriving, a body that stalls, a keep-alive connection left idle.
/// - A request body must arrive within `idleSeconds` plus one second for every
///   `bodyMinBytesPerSecond` bytes received (as Apache's mod_reqtimeout `MinRate`). A
///   client trickling bytes just fast enough to stay out of the idle limit gets a 408
///   `body_too_slow`; a campaign it was uploading is discarded, nothing of it sent.
/// - One client address may hold at most `maxConnectionsPerClient` connections open
///   (``ConnectionLimiter``), so slow connections are bounded in number as well as in time.
public struct SlowClientGuard: Sendable, Equatable {
    public var idleSeconds: Double
    /// 0 turns the body rate check off (the idle limit still applies).
    public var bodyMinBytesPerSecond: Int
    /// 0: no cap.
    public var maxConnectionsPerClient: Int

    public static let `default` = SlowClientGuard(idleSeconds: 30, bodyMinBytesPerSecond: 500, maxConnectionsPerClient: 256)

    public init(idleSeconds: Double, bodyMinBytesPerSecond: Int, maxConnectionsPerClient: Int = SlowClientGuard.default.maxConnectionsPerClient) {
        self.idleSeconds = idleSeconds
        self.bodyMinBytesPerSecond = bodyMinBytesPerSecond
        self.maxConnectionsPerClient = maxConnectionsPerClient
    }

    /// The HTTP/1.1 channel configuration that closes idle connections and counts each
    /// against its client's cap (one limiter for the whole server: call this once).
    public var channelConfiguration: HTTP1Channel.Configuration {
        let idle = TimeAmount.nanoseconds(Int64(idleSeconds * 1_000_000_000))
        guard maxConnectionsPerClient > 0 else { return HTTP1Channel.Configuration(idleTimeout: idle) }
        let limiter = ConnectionLimiter(perClient: maxConnectionsPerClient)
        return HTTP1Channel.Configuration(additionalChannelHandlers: [ConnectionLimitHandler(limiter: limiter)], idleTimeout: idle)
    }

    /// Whether `received` bytes `elapsed` seconds after the request began are too few.
    func isTooSlow(received: Int, elapsedSeconds: Double) -> Bool {
        guard bodyMinBytesPerSecond > 0 else { return false }
        return elapsedSeconds > idleSeconds + Double(received) / Double(bodyMinBytesPerSecond)
    }
}

/// Applies ``SlowClientGuard``'s body rate to every request body.
struct BodyRateMiddleware<Context: RequestContext>: RouterMiddleware {
    let guardrail: SlowClientGuard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard guardrail.bodyMinBytesPerSecond > 0 else { return try await next(request, context) }
        var request = request
        request.body = RequestBody(asyncSequence: RateCheckedBody(base: request.body, guardrail: guardrail, start: .now))
        return try await next(request, context)
    }
}

/// A request body that throws 408 `body_too_slow` once it falls behind the minimum rate.
struct RateCheckedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let guardrail: SlowClientGuard
    let start: ContinuousClock.Instant

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let guardrail: SlowClientGuard
        let start: ContinuousClock.Instant
        var received = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            received += chunk.readableBytes
            let elapsed = Self.seconds(ContinuousClock.now - start)
            if guardrail.isTooSlow(received: received, elapsedSeconds: elapsed) {
                let rate = Int(Double(received) / Swift.max(elapsed, 0.001))
                throw APIError(
                    .requestTimeout, code: .bodyTooSlow,
                    message: "the request body arrived at \(rate) bytes/s after \(Int(elapsed)) s, below the minimum of \(guardrail.bodyMinBytesPerSecond) bytes/s; nothing was accepted")
            }
            return chunk
        }

        static func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), guardrail: guardrail, start: start)
    }
}
