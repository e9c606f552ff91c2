/// The one state machine of a message. Every change is a journal transition.
///
///     queued ──▶ in_flight ──▶ sent ──▶ delivered ──▶ read
///        ▲           │  └────▶ failed
///        │           ├───────▶ retry_at ──▶ in_flight
///        └───────────┤
///                    └───────▶ in_doubt ──▶ in_flight (after the settle window)
///
/// A status webhook may move `in_doubt` straight to `sent`, `delivered` or `read`. A `sent`
/// message that gets no further status by the status deadline ends `unknown`; a late
/// status still moves it on.
public enum MessageState: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case queued = 0
    case inFlight = 1
    case sent = 2
    case retryAt = 3
    case failed = 4
    case inDoubt = 5
    case delivered = 6
    case read = 7
    /// Sent, but no delivery status came by the status deadline. Appended: the raw values
    /// (and campaign counts, indexed by them) of the states above are in stored journals.
    case unknown = 8

    public var description: String {
        switch self {
        case .queued: "queued"
        case .inFlight: "in_flight"
        case .sent: "sent"
        case .retryAt: "retry_at"
        case .failed: "failed"
        case .inDoubt: "in_doubt"
        case .delivered: "delivered"
        case .read: "read"
        case .unknown: "unknown"
        }
    }

    /// The state named by `description` (`"in_flight"`, `"unknown"`, …).
    public init?(name: String) {
        guard let state = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = state
    }

    /// States a subscriber hears about: the ones WhatsApp reports, and `unknown`.
    public var isReported: Bool {
        switch self {
        case .sent, .delivered, .read, .failed, .unknown: true
        case .queued, .inFlight, .retryAt, .inDoubt: false
        }
    }

    /// True when the message will not be sent again.
    public var isFinal: Bool {
        switch self {
        case .sent, .failed, .delivered, .read, .unknown: true
        case .queued, .inFlight, .retryAt, .inDoubt: false
        }
    }

    /// Whether the journal may record `self → next`. Anything else is a bug upstream.
    public func canTransition(to next: MessageState) -> Bool {
        switch (self, next) {
        case (.queued, .inFlight), (.retryAt, .inFlight), (.inDoubt, .inFlight): true
        // Throttled before it was sent: back to the queue without using an attempt.
        case (.inFlight, .queued): true
        case (.inFlight, .sent), (.inFlight, .failed), (.inFlight, .retryAt), (.inFlight, .inDoubt): true
        // A status webhook proves an in-doubt message (or one that got an error answer and
        // waits to retry) was sent after all.
        case (.inDoubt, .sent), (.inDoubt, .delivered), (.inDoubt, .read), (.inDoubt, .failed): true
        case (.retryAt, .sent), (.retryAt, .delivered), (.retryAt, .read), (.retryAt, .failed): true
        case (.inFlight, .delivered), (.inFlight, .read): true
        case (.sent, .delivered), (.sent, .read), (.delivered, .read): true
        case (.sent, .failed), (.delivered, .failed): true
        // The status deadline passed; a status that arrives later still counts.
        case (.sent, .unknown): true
        case (.unknown, .delivered), (.unknown, .read), (.unknown, .failed): true
        default: false
        }
    }
}
