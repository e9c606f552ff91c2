/// A subscriber: a URL that receives a signed POST for every reported status change
/// (`MessageState.isReported`) that its filter lets through.
public struct SubscriptionRecord: Sendable, Equatable {
    /// Assigned by the journal (0 asks for the next one); public as `sub_<id>`.
    public var id: UInt64
    /// `http://` or `https://`.
    public var url: String
    /// Signs each body: `X-Sluice-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
    public var secret: String
    /// Only this campaign's events, when set.
    public var campaign: CampaignID?
    /// Only these states, when set (a subset of the reported ones).
    public var states: Set<MessageState>?
    public var createdMilliseconds: Int64
    public var counters: DeliveryCounters

    public init(
        id: UInt64 = 0, url: String, secret: String, campaign: CampaignID? = nil, states: Set<MessageState>? = nil,
        createdMilliseconds: Int64, counters: DeliveryCounters = DeliveryCounters()
    ) {
        self.id = id
        self.url = url
        self.secret = secret
        self.campaign = campaign
        self.states = states
        self.createdMilliseconds = createdMilliseconds
        self.counters = counters
    }

    /// `sub_<id>`.
    public var publicID: String { "sub_\(id)" }

    /// The number in `sub_<id>`; nil for anything else.
    public static func id(publicID: String) -> UInt64? {
        guard publicID.hasPrefix("sub_"), let n = UInt64(publicID.dropFirst(4)), n > 0 else { return nil }
        return n
    }

    /// Whether an event of `campaign` moving to `state` goes to this subscriber.
    public func accepts(campaign: CampaignID, state: MessageState) -> Bool {
        guard state.isReported else { return false }
        if let only = self.campaign, only != campaign { return false }
        if let states, !states.contains(state) { return false }
        return true
    }
}

/// A subscriber's delivery figures, kept by the journal in the transactions that change them.
public struct DeliveryCounters: Sendable, Equatable {
    /// Events in the outbox, not yet delivered nor dead.
    public var pending: UInt64 = 0
    /// Events the subscriber answered with a 2xx.
    public var delivered: UInt64 = 0
    /// Attempts that got no 2xx (an event retried five times counts five).
    public var failedAttempts: UInt64 = 0
    /// Events given up on after the retry period.
    public var dead: UInt64 = 0

    public init(pending: UInt64 = 0, delivered: UInt64 = 0, failedAttempts: UInt64 = 0, dead: UInt64 = 0) {
        self.pending = pending
        self.delivered = delivered
        self.failedAttempts = failedAttempts
        self.dead = dead
    }
}

/// One status change as a subscriber receives it.
public struct StatusEvent: Sendable, Equatable {
    /// Unique per status change, the same for every subscriber: lets a subscriber drop a
    /// redelivery (delivery is at least once).
    public var eventID: UInt64
    public var message: MessageID
    public var campaign: CampaignID
    /// The sender's WhatsApp `phone_number_id`.
    public var senderPhoneNumberID: String
    public var recipient: String
    public var state: MessageState
    public var wamid: String?
    /// 0 when none.
    public var errorCode: Int32
    public var errorMessage: String?
    /// When the change was journaled (wall-clock ms).
    public var occurredMilliseconds: Int64

    public init(
        eventID: UInt64, message: MessageID, campaign: CampaignID, senderPhoneNumberID: String, recipient: String,
        state: MessageState, wamid: String?, errorCode: Int32, errorMessage: String?, occurredMilliseconds: Int64
    ) {
        self.eventID = eventID
        self.message = message
        self.campaign = campaign
        self.senderPhoneNumberID = senderPhoneNumberID
        self.recipient = recipient
        self.state = state
        self.wamid = wamid
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.occurredMilliseconds = occurredMilliseconds
    }
}

/// An event waiting in the outbox for one subscriber. Entries of one (subscriber, message)
/// are delivered one at a time, in `event.eventID` order.
public struct OutboxEntry: Sendable, Equatable {
    public var subscription: UInt64
    public var event: StatusEvent
    /// Attempts that failed so far.
    public var attempts: UInt32
    /// Not tried again before this (wall-clock ms); 0 for a new entry.
    public var nextAttemptMilliseconds: Int64

    public init(subscription: UInt64, event: StatusEvent, attempts: UInt32, nextAttemptMilliseconds: Int64) {
        self.subscription = subscription
        self.event = event
        self.attempts = attempts
        self.nextAttemptMilliseconds = nextAttemptMilliseconds
    }
}

/// A page of a subscriber's outbox: the first due event of each message.
public struct OutboxPage: Sendable, Equatable {
    public var entries: [OutboxEntry]
    /// The message to continue after; nil when the subscriber's entries are exhausted.
    public var resume: MessageID?
    /// Entries looked at, due or not.
    public var scanned: Int

    public init(entries: [OutboxEntry], resume: MessageID?, scanned: Int) {
        self.entries = entries
        self.resume = resume
        self.scanned = scanned
    }
}

/// What became of one delivery attempt.
public enum OutboxSettlement: Sendable, Equatable {
    /// 2xx: the entry is deleted.
    case delivered(subscription: UInt64, message: MessageID, eventID: UInt64)
    /// No 2xx: try again at `nextAttemptMilliseconds`.
    case failed(subscription: UInt64, message: MessageID, eventID: UInt64, attempts: UInt32, nextAttemptMilliseconds: Int64)
    /// No 2xx and the retry period is over: the entry is deleted and counted dead.
    case dead(subscription: UInt64, message: MessageID, eventID: UInt64)
}
