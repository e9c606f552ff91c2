import AsyncHTTPClient
import NIOCore
import SluiceCrypto
/// Status webhooks the mock sends like WhatsApp: for each accepted message `sent`, then
/// `delivered`, then (for `readShare` of them) `read`, to `url`, signed with
/// `X-Hub-Signature-256` from `appSecret`, echoing `biz_opaque_callback_data`.
/// Deliveries are at-least-once and may be duplicated or reordered, as WhatsApp's are.
public struct WebhookConfiguration: Sendable, Equatable {
    public var url: String
    public var appSecret: String
    /// When set, the mock subscribes first (`GET url?hub.mode=subscribe&hub.verify_token=…`)
    /// and sends statuses only after the receiver echoed the challenge.
    public var verifyToken: String?
    public var sentDelayMilliseconds: Int = 20
    public var deliveredDelayMilliseconds: Int = 150
    public var readDelayMilliseconds: Int = 600
    /// Share of messages that also get `read`.
    public var readShare: Double = 1
    /// Share of messages whose `delivered` is posted twice.
    public var duplicateShare: Double = 0
    /// Share of messages whose `delivered` comes before `sent`.
    public var reorderShare: Double = 0
    public var seed: UInt64 = 7
    /// Incoming messages per second per registered number, from simulated customers (every
    /// message type in turn, media included); 0: none.
    public var inboundMessagesPerSecond: Double = 0
    /// Statuses in one POST: 1, as WhatsApp mostly sends them (many POSTs side by side);
    /// above 1, a number's statuses that came due together share a body, as in
    /// `entry[].changes[].value.statuses[]`. 1…``statusesPerPostMax``.
    public var statusesPerPost: Int = 1

    /// The most `statusesPerPost` may be.
    public static let statusesPerPostMax = 100
    /// Statuses waiting to be posted; beyond this new ones are dropped and counted.
    public static let pendingMax = 2_000_000
    /// Tries per status before it is dropped; with the backoff this covers about a minute of
    /// the receiver being down (a dispatcher restart).
    public static let attemptsMax = 16
    public static let retryDelayMillisecondsMax = 5_000
    public static let requestTimeoutMilliseconds = 5_000

    public init(url: String, appSecret: String) {
        self.url = url
        self.appSecret = appSecret
    }

    public func validate() throws(MockError) {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw .invalidConfiguration("webhook url '\(url)' must start with http:// or https://")
        }
        guard !appSecret.isEmpty else { throw .invalidConfiguration("webhook app secret must not be empty") }
        for (name, share) in [("read share", readShare), ("duplicate share", duplicateShare), ("reorder share", reorderShare)] {
            guard (0...1).contains(share) else { throw .invalidConfiguration("webhook \(name) must be between 0 and 1") }
        }
        guard (1...Self.statusesPerPostMax).contains(statusesPerPost) else {
            throw .invalidConfiguration("webhook statuses per post must be 1…\(Self.statusesPerPostMax)")
        }
        guard (0...1_000).contains(inboundMessagesPerSecond) else { throw .invalidConfiguration("inbound messages per second must be 0…1000") }
        for (name, ms) in [("sent", sentDelayMilliseconds), ("delivered", deliveredDelayMilliseconds), ("read", readDelayMilliseconds)] {
            guard (0...600_000).contains(ms) else { throw .invalidConfiguration("webhook \(name) delay must be 0…600000 ms") }
        }
    }
}

extension WebhookConfiguration {
    /// Posts `body` to `url`, signed with `X-Hub-Signature-256` from `appSecret` as
    /// WhatsApp signs: the receiver's HTTP status, or the error that kept it from answering.
    func post(_ body: [UInt8], client: HTTPClient) async -> Result<UInt, any Error> {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Hub-Signature-256", value: WebhookSignature.header(secret: Array(appSecret.utf8), body: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(Self.requestTimeoutMilliseconds)))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return .success(response.status.code)
        } catch {
            return .failure(error)
        }
    }
}
