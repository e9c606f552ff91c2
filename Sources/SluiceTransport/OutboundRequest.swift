import SluiceCore

/// One POST to the Cloud API.
public struct OutboundRequest: Sendable {
    /// Echoed in the completion (the message id).
    public var tag: UInt64
    /// The full URL, e.g. `https://graph.facebook.com/v21.0/123/messages`.
    public var url: String
    public var bearerToken: String
    /// The JSON body, e.g. rendered by ``MessageTemplate/render(to:params:callbackData:into:)``.
    public var body: [UInt8]

    public init(tag: UInt64, url: String, bearerToken: String, body: [UInt8]) {
        self.tag = tag
        self.url = url
        self.bearerToken = bearerToken
        self.body = body
    }
}

/// The outcome of one ``OutboundRequest``.
public struct TransportCompletion: Sendable {
    public var tag: UInt64
    public var result: SendResult
    /// From ``CurlTransport/send(_:)`` to completion, queueing included.
    public var elapsedNanoseconds: Int64
    /// From when the request left (its bytes began to be written) to completion: the
    /// endpoint's answer time without our own queueing; `elapsedNanoseconds` when it
    /// never left.
    public var answerNanoseconds: Int64

    public init(tag: UInt64, result: SendResult, elapsedNanoseconds: Int64, answerNanoseconds: Int64? = nil) {
        self.tag = tag
        self.result = result
        self.elapsedNanoseconds = elapsedNanoseconds
        self.answerNanoseconds = answerNanoseconds ?? elapsedNanoseconds
    }
}

/// A request whose connection was ready and whose bytes libcurl began to write.
public struct TransportDeparture: Sendable {
    public var tag: UInt64
    /// `CLOCK_MONOTONIC`, in nanoseconds, when it left.
    public var monotonicNanoseconds: Int64

    public init(tag: UInt64, monotonicNanoseconds: Int64) {
        self.tag = tag
        self.monotonicNanoseconds = monotonicNanoseconds
    }
}

/// Counters since the transport started; cheap to read from any thread.
public struct TransportStatistics: Sendable, Equatable {
    /// Easy handles created; they are reused, so this stays ≤ `inFlightMax`.
    public var handlesCreated: Int
    public var completed: Int
    public var responsesHTTP2: Int
    public var responsesHTTP1: Int
    public var notSent: Int
    public var inDoubt: Int
    /// Warm-up requests (``CurlTransport/warm(url:bearerToken:connections:)``) that opened
    /// a connection and got an answer (any HTTP status), and those that failed.
    public var warmConnectionsOpened: Int = 0
    public var warmFailures: Int = 0
}

/// Connections to open ahead of the sends that will need them (warm start): each one a
/// fresh connection carrying one GET of `url`, whose answer is only counted.
struct WarmRequest: Sendable {
    var url: String
    var bearerToken: String
    var connections: Int
}
