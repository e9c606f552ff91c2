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
    /// The dispatcher's `--connections` and h2load's `-c`.
    public var connections: Int
    /// Messages the dispatcher was given (and requests the reference sent).
    public var offeredMessages: Int
    /// All senders' arrivals per second at the endpoint, first to last arrival.
    public var sluiceMessagesPerSecond: Double
    /// What h2load reported.
    public var reference: ReferenceResult
    /// `sluiceMessagesPerSecond / reference.requestsPerSecond` (0 when the reference sent nothing).
    public var ratio: Double

    /// Creates a report; the ratio follows from the two rates.
    public init(senders: Int, connections: Int, offeredMessages: Int, sluiceMessagesPerSecond: Double, reference: ReferenceResult) {
        self.senders = senders
        self.connections = connections
        self.offeredMessages = offeredMessages
        self.sluiceMessagesPerSecond = sluiceMessagesPerSecond
        self.reference = reference
        self.ratio = reference.requestsPerSecond > 0 ? sluiceMessagesPerSecond / reference.requestsPerSecond : 0
    }

    enum CodingKeys: String, CodingKey {
        case senders, connections
        case offeredMessages = "offered_messages"
        case sluiceMessagesPerSecond = "sluice_messages_per_second"
        case reference
        case ratio
    }
}
