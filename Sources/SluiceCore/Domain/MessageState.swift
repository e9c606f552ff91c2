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
/// status still moves it on. A message not sent when its campaign expires or is cancelled
/// ends `expired` or `cancelled`; an `in_doubt` one of an `at_most_once` campaign ends
/// `unknown` instead of being resent.
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
    /// Not sent by its campaign's `expires_at`.
    case expired = 9
    /// Not sent when its campaign was cancelled.
    case cancelled = 10
    /// Not sent: the contact opted out of the sender's messages (its suppression list).
    case suppressed = 11
    /// Not sent here: in a cluster, given to the node that holds its number, which sends
    /// it as a message of its own (the error message names that node and campaign).
    case handedOver = 12

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
        case .expired: "expired"
        case .cancelled: "cancelled"
        case .suppressed: "suppressed"
        case .handedOver: "handed_over"
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
        case .sent, .delivered, .read, .failed, .unknown, .expired, .cancelled, .suppressed: true
        // The node it went to reports it.
        case .queued, .inFlight, .retryAt, .inDoubt, .handedOver: false
        }
    }

    /// True when the message will not be sent again.
    public var isFinal: Bool {
        switch self {
        case .sent, .failed, .delivered, .read, .unknown, .expired, .cancelled, .suppressed, .handedOver: true
        case .queued, .inFlight, .retryAt, .inDoubt: false
        }
    }

    /// Whether the message waits to be sent (again): what a campaign's ETA counts.
    public var isUnsent: Bool {
        switch self {
        case .queued, .inFlight, .retryAt, .inDoubt: true
        case .sent, .failed, .delivered, .read, .unknown, .expired, .cancelled, .suppressed, .handedOver: false
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
        // Its campaign expired or was cancelled before it was (known to be) sent.
        case (.queued, .expired), (.inFlight, .expired), (.retryAt, .expired), (.inDoubt, .expired): true
        case (.queued, .cancelled), (.inFlight, .cancelled), (.retryAt, .cancelled), (.inDoubt, .cancelled): true
        // An in-doubt message may have left before: a status still proves it was sent.
        case (.expired, .sent), (.expired, .delivered), (.expired, .read), (.expired, .failed): true
        case (.cancelled, .sent), (.cancelled, .delivered), (.cancelled, .read), (.cancelled, .failed): true
        // Its turn came and the contact gate stopped it: suppressed, or (free-form, outside
        // the customer window) failed with 131047. An in-doubt one may have left before.
        case (.queued, .suppressed), (.retryAt, .suppressed), (.inDoubt, .suppressed), (.queued, .failed): true
        case (.suppressed, .sent), (.suppressed, .delivered), (.suppressed, .read), (.suppressed, .failed): true
        // Given to the number's holder in a cluster; an in-doubt one only when it may be
        // sent again (`at_least_once`, checked by the caller).
        case (.queued, .handedOver), (.retryAt, .handedOver), (.inDoubt, .handedOver): true
        case (.handedOver, .sent), (.handedOver, .delivered), (.handedOver, .read), (.handedOver, .failed): true
        // `at_most_once`: an in-doubt message is never resent.
        case (.inDoubt, .unknown): true
        default: false
        }
    }
}
