import SluiceCore

/// What `GET /v1/campaigns/{id}` reports: a campaign's state, options and messages per
/// state, and (for one campaign) its current send rate and an estimate of when it is done.
public struct CampaignProgress: Sendable, Equatable {
    public var id: CampaignID
    public var senderPhoneNumberID: String?
    /// `receiving` while a streamed upload arrives (nothing is sent yet), `cancelled` when
    /// the upload ended before completing (nothing of it is sent) or its owner cancelled
    /// it, `paused`, `scheduled` before `schedule_at`, else `active` while any message may
    /// still be sent, then `done`.
    public var state: String
    public var createdMilliseconds: Int64
    public var options: CampaignOptions
    public var total: UInt64
    /// `queued` includes messages waiting to retry.
    public var queued: UInt64
    public var inFlight: UInt64
    /// `sent` includes messages already `delivered` or `read`.
    public var sent: UInt64
    public var failed: UInt64
    public var inDoubt: UInt64
    public var delivered: UInt64
    public var read: UInt64
    /// Sent, with no delivery status by the status deadline.
    public var unknown: UInt64
    /// Not sent by `expires_at`.
    public var expired: UInt64
    /// Not sent when the campaign was cancelled.
    public var cancelled: UInt64
    /// Not sent: the contact is on the sender's suppression list.
    public var suppressed: UInt64
    /// Not sent here: given to the node that holds the number, in a cluster.
    public var handedOver: UInt64
    /// Messages that may still be sent: queued, in flight, waiting to retry, in doubt.
    public var unsent: UInt64
    /// Messages sent per second now (smoothed over about two seconds).
    public var sendRate: Double = 0
    /// Seconds until nothing is left to send, from the sender's current rate and what
    /// its other campaigns have queued ahead; nil when done or when it cannot be told.
    public var etaSeconds: Double?
    /// What holds the campaign back or why there is no ETA (a `Hold`), when something does.
    public var waitingFor: String?
    /// Why Sluice paused it (a media upload failed); nil when its owner did or it is not paused.
    public var pauseReason: String?
    /// Its `failed` messages by error code.
    public var failures: FailureCounts
    /// Campaigns that retry its recipients.
    public var retries: [CampaignID]

    init(record: CampaignRecord, senderPhoneNumberID: String?, wallMilliseconds wall: Int64) {
        let c = record.counts
        id = record.id
        self.senderPhoneNumberID = senderPhoneNumberID
        pauseReason = record.state == .paused ? record.pauseReason : nil
        createdMilliseconds = record.createdMilliseconds
        options = record.options
        failures = record.failures
        retries = record.retries
        total = c.total
        queued = c[.queued] + c[.retryAt]
        inFlight = c[.inFlight]
        sent = c[.sent] + c[.delivered] + c[.read]
        failed = c[.failed]
        inDoubt = c[.inDoubt]
        delivered = c[.delivered] + c[.read]
        read = c[.read]
        unknown = c[.unknown]
        expired = c[.expired]
        cancelled = c[.cancelled]
        suppressed = c[.suppressed]
        handedOver = c[.handedOver]
        unsent = MessageState.allCases.filter(\.isUnsent).reduce(0) { $0 + c[$1] }
        let shown: State
        switch record.state {
        case .receiving: shown = .receiving
        case .cancelled, .withdrawn: shown = .cancelled
        case .paused: shown = .paused
        case .active, .done:
            if let start = record.options.scheduleAtMilliseconds, wall < start, unsent > 0 {
                shown = .scheduled
            } else {
                shown = unsent == 0 ? .done : .active
            }
        }
        state = shown.rawValue
    }

    /// Every `state` a campaign shows in the API; the OpenAPI document lists the same.
    public enum State: String, CaseIterable, Sendable {
        case receiving, scheduled, active, paused, done, cancelled
    }

    /// Every `waiting_for` a campaign shows; the OpenAPI document lists the same.
    public enum Hold: String, CaseIterable, Sendable {
        case paused, scheduled
        /// A file it sends is being uploaded for its number.
        case mediaUpload = "media_upload"
        case senderPaused = "sender_paused"
        case messagingLimit = "messaging_limit"
        case endpointUnreachable = "endpoint_unreachable"
    }
}

/// A sender as the dispatch loop sees it, published a few times a second for progress
/// displays and metrics.
public struct SenderSnapshot: Sendable, Equatable {
    public var id: SenderID
    public var phoneNumberID: String
    public var tierMessagesPerSecond: Double
    /// The rate after throttle backoff (equal to the tier when WhatsApp is not pushing back).
    public var effectiveMessagesPerSecond: Double
    /// The rate left free for the number's incoming messages (`InboundReserve`).
    public var inboundReserveMessagesPerSecond: Double = 0
    public var paused: Bool
    public var pauseReason: String?
    /// Paged in and waiting for a send slot.
    public var staged: Int
    public var inFlight: Int
    /// Most sends it may have on the wire now: its rate × the endpoint's p99 answer time
    /// × headroom, within fixed bounds (see `InFlightBudget`).
    public var inFlightLimit: Int = 0
    /// Outcomes since this process started.
    public var sent: UInt64
    public var failed: UInt64
    public var retried: UInt64
    public var throttled: UInt64
    public var inDoubt: UInt64
    /// Unsuccessful send outcomes since this process started, by WhatsApp error code
    /// (`"131026"`), HTTP status without a Meta body (`"http_503"`), `"not_sent"` or `"in_doubt"`.
    public var errors: [String: UInt64] = [:]
    /// Messages sent per second, smoothed over about two seconds.
    public var sendRate: Double = 0
    /// Why the endpoint cannot be reached, while it cannot (its messages wait).
    public var endpointError: String? = nil
    /// In a cluster: whether this node paces the number now (always true outside one).
    public var owned = true
    /// The messaging limit that applies to the sender: the smallest limit in its group
    /// (unique recipients per rolling 24 h); nil: unlimited.
    public var messagingLimit: Int? = nil
    /// Unique recipients in the sender's group window now (0 when unlimited: not tracked).
    public var uniqueRecipients24h: Int = 0
    /// While the cap is reached: wall-clock milliseconds at which the window has room for a
    /// new recipient again (messages to new recipients wait until then); nil otherwise.
    public var limitedUntilMilliseconds: Int64? = nil
}
