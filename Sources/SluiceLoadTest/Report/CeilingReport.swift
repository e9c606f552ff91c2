/// What a ceiling run (`sluice loadtest --ceiling`) measured: the dispatcher's sustained
/// rate with durable journaling and TLS against the mock, next to a reference client
/// (h2load) that sent as many requests to the same endpoint, in the same run.
///
/// ```swift
/// let c = CeilingReport(senders: 24, connections: 64, offeredMessages: 240_000,
///                       sluiceMessagesPerSecond: 9_000, reference: h2load)
/// c.ratio   // sluice msg/s ÷ reference req/s
/// ```
public struct CeilingReport: Sendable, Equatable, Codable {
    /// The share of the reference the dispatcher should reach.
    public static let ratioTarget = 0.60

    /// Senders, each at the dispatcher's highest tier and unlimited at the mock.
    public var senders: Int
    /// h2load's `-c`: the dispatcher's `--connections` when one was given, else the
    /// reference's default (the dispatcher then opens what it needs, up to its cap).
    public var connections: Int
    /// Both sides' HTTP version: "2" (h2load with 100 streams a connection) or "1.1".
    public var httpVersion: String
    /// Messages the dispatcher was given (and requests the reference sent).
    public var offeredMessages: Int
    /// All senders' arrivals per second at the endpoint, first to last arrival.
    public var sluiceMessagesPerSecond: Double
    /// What h2load reported.
    public var reference: ReferenceResult
    /// What the text and HTML reports call the protocol.
    public var protocolName: String { httpVersion == "1.1" ? "HTTP/1.1 keep-alive" : "HTTP/2" }

    /// `sluiceMessagesPerSecond / reference.requestsPerSecond` (0 when the reference sent nothing).
    public var ratio: Double

    /// Creates a report; the ratio follows from the two rates.
    public init(
        senders: Int, connections: Int, offeredMessages: Int, sluiceMessagesPerSecond: Double, reference: ReferenceResult,
        httpVersion: String = "2"
    ) {
        self.senders = senders
        self.httpVersion = httpVersion
        self.connections = connections
        self.offeredMessages = offeredMessages
        self.sluiceMessagesPerSecond = sluiceMessagesPerSecond
        self.reference = reference
        self.ratio = reference.requestsPerSecond > 0 ? sluiceMessagesPerSecond / reference.requestsPerSecond : 0
    }

    enum CodingKeys: String, CodingKey {
        case senders, connections
        case httpVersion = "http_version"
        case offeredMessages = "offered_messages"
        case sluiceMessagesPerSecond = "sluice_messages_per_second"
        case reference
        case ratio
    }

    /// Reports written before the protocol was recorded were HTTP/2 runs.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        senders = try c.decode(Int.self, forKey: .senders)
        connections = try c.decode(Int.self, forKey: .connections)
        httpVersion = try c.decodeIfPresent(String.self, forKey: .httpVersion) ?? "2"
        offeredMessages = try c.decode(Int.self, forKey: .offeredMessages)
        sluiceMessagesPerSecond = try c.decode(Double.self, forKey: .sluiceMessagesPerSecond)
        reference = try c.decode(ReferenceResult.self, forKey: .reference)
        ratio = try c.decode(Double.self, forKey: .ratio)
    }
}
