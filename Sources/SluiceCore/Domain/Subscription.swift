/// What a subscriber asks to receive.
public enum SubscriberEventKind: String, CaseIterable, Sendable, Comparable {
    /// A message's status changed (`message.status`).
    case status
    /// A customer wrote to one of the numbers (`message`).
    case message
    /// Something happened to a number's account (`account`).
    case account

    public static func < (a: Self, b: Self) -> Bool { a.bit < b.bit }

    /// Bit in a set of kinds, as the journal stores it.
    public var bit: UInt8 {
        switch self {
        case .status: 1
        case .message: 2
        case .account: 4
        }
    }
}

/// A subscriber: a URL that receives a signed POST for every event it asks for: reported
/// status changes (`MessageState.isReported`) that its filter lets through, incoming
/// messages, account events.
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
    /// The kinds of event it receives (not empty); `campaign` and `states` filter status events.
    public var events: Set<SubscriberEventKind>
    public var createdMilliseconds: Int64
    public var counters: DeliveryCounters
    /// Events per POST (`{"events": […]}` when above 1): a subscriber that keeps up with
    /// thousands of events a second at one per request cannot be asked to.
    public var batchMax: Int
    /// In a cluster: only status events of the campaign here that sends this campaign of
    /// another node (the campaign filter of a subscription mirrored from that node).
    public var origin: CampaignOrigin?
    /// In a cluster: the subscription of another node that this one mirrors, so that the
    /// events of this node's journal reach that subscriber too (`SubscriptionSync`).
    public var mirrorOf: SubscriptionMirror?

    /// The most events one POST carries.
    public static let batchMaxLimit = 100

    public init(
        id: UInt64 = 0, url: String, secret: String, campaign: CampaignID? = nil, states: Set<MessageState>? = nil,
        events: Set<SubscriberEventKind> = [.status], createdMilliseconds: Int64, counters: DeliveryCounters = DeliveryCounters(),
        batchMax: Int = 1, origin: CampaignOrigin? = nil, mirrorOf: SubscriptionMirror? = nil
    ) {
        self.id = id
        self.url = url
        self.secret = secret
        self.campaign = campaign
        self.states = states
        self.events = events
        self.createdMilliseconds = createdMilliseconds
        self.counters = counters
        self.batchMax = batchMax
        self.origin = origin
        self.mirrorOf = mirrorOf
    }

    /// `sub_<id>`.
    public var publicID: String { "sub_\(id)" }

    /// The number in `sub_<id>`; nil for anything else.
    public static func id(publicID: String) -> UInt64? {
        guard publicID.hasPrefix("sub_"), let n = UInt64(publicID.dropFirst(4)), n > 0 else { return nil }
        return n
    }

    /// Whether an event of `campaign` (sending `origin` for another node, if so) moving to
    /// `state` goes to this subscriber.
    public func accepts(campaign: CampaignID, origin campaignOrigin: CampaignOrigin? = nil, state: MessageState) -> Bool {
        guard state.isReported, events.contains(.status) else { return false }
        if let only = self.campaign, only != campaign { return false }
        if let origin, origin != campaignOrigin { return false }
        if let states, !states.contains(state) { return false }
        return true
    }
}

/// A subscription of another node of the cluster, by that node's id and its own id there.
public struct SubscriptionMirror: Sendable, Hashable, CustomStringConvertible {
    public var node: String
    public var id: UInt64

    public init(node: String, id: UInt64) {
        self.node = node
        self.id = id
    }

    /// `<node>/sub_<id>`.
    public var description: String { "\(node)/sub_\(id)" }
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

/// A message a customer sent to one of the numbers, as a subscriber receives it.
public struct InboundEvent: Sendable, Equatable {
    public var eventID: UInt64
    public var message: InboundMessage

    public init(eventID: UInt64, message: InboundMessage) {
        self.eventID = eventID
        self.message = message
    }
}

/// What an outbox entry reports.
public enum OutboxEvent: Sendable, Equatable {
    case status(StatusEvent)
    case message(InboundEvent)
    case account(AccountEvent)

    public var eventID: UInt64 {
        switch self {
        case .status(let e): e.eventID
        case .message(let e): e.eventID
        case .account(let e): e.eventID
        }
    }

    /// The key the entry waits under: a status event's message, an incoming message's
    /// contact (`InboundMessage.orderKey`), an account event's number. Events under one key are delivered in order.
    public var orderKey: MessageID {
        switch self {
        case .status(let e): e.message
        case .message(let e): e.message.orderKey
        case .account(let e): e.update.orderKey
        }
    }

    /// The lane the entry waits in (`OutboxLane`): its campaign, or its number for
    /// incoming messages and account events. Every event under one `orderKey` has one lane.
    public var lane: UInt64 {
        switch self {
        case .status(let e): OutboxLane.campaign(e.campaign)
        case .message(let e): OutboxLane.number(e.message.senderPhoneNumberID)
        case .account(let e): OutboxLane.number(e.update.senderPhoneNumberID)
        }
    }

    /// When the event happened (wall-clock ms): the retry period counts from it.
    public var occurredMilliseconds: Int64 {
        switch self {
        case .status(let e): e.occurredMilliseconds
        case .message(let e): e.message.receivedMilliseconds
        case .account(let e): e.update.receivedMilliseconds
        }
    }

    /// The status event; nil for another kind.
    public var status: StatusEvent? {
        if case .status(let e) = self { return e }
        return nil
    }

    /// The account event; nil for another kind.
    public var account: AccountEvent? {
        if case .account(let e) = self { return e }
        return nil
    }

    /// The incoming message event; nil for another kind.
    public var inbound: InboundEvent? {
        if case .message(let e) = self { return e }
        return nil
    }
}

/// An event waiting in the outbox for one subscriber. Entries under one (subscriber,
/// `event.orderKey`) are delivered one at a time, in `event.eventID` order.
public struct OutboxEntry: Sendable, Equatable {
    public var subscription: UInt64
    public var event: OutboxEvent
    /// Attempts that failed so far.
    public var attempts: UInt32
    /// Not tried again before this (wall-clock ms); 0 for a new entry.
    public var nextAttemptMilliseconds: Int64

    public init(subscription: UInt64, event: OutboxEvent, attempts: UInt32, nextAttemptMilliseconds: Int64) {
        self.subscription = subscription
        self.event = event
        self.attempts = attempts
        self.nextAttemptMilliseconds = nextAttemptMilliseconds
    }
}

/// The lanes of a subscriber's outbox. Delivery takes heads round-robin across lanes, so
/// that one campaign's flood (500 000 `cancelled` events) does not hold up another
/// campaign's events, nor incoming messages.
public enum OutboxLane {
    /// A campaign's status events: its id (below 2^63).
    public static func campaign(_ id: CampaignID) -> UInt64 { id.rawValue }

    /// A number's incoming messages and account events: FNV-1a of its phone number id with
    /// the high bit set (apart from campaign ids), the same after a restart.
    public static func number(_ senderPhoneNumberID: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "lane\0\(senderPhoneNumberID)".utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return 1 << 63 | hash
    }

    /// The campaign of a campaign lane; nil for a number's lane.
    public static func campaign(of lane: UInt64) -> CampaignID? { lane >> 63 == 0 ? CampaignID(lane) : nil }
}

/// Where a subscriber's round-robin over its outbox lanes stands between two pages: the
/// lane the next page begins at, and where each lane left part-read goes on. Memory is
/// bounded (`positionsMax`); a lane beyond it is read from its start again, which costs
/// scanning but loses nothing.
public struct OutboxCursor: Sendable, Equatable {
    /// Lanes whose position is kept.
    public static let positionsMax = 4_096

    /// The next page begins at the first lane from this one on.
    public var lane: UInt64 = 0
    /// A lane left part-read and the last order key looked at in it.
    public struct Position: Sendable, Equatable {
        public var lane: UInt64
        public var order: UInt64
    }

    /// Lanes left part-read, ascending by lane.
    public private(set) var positions: [Position] = []
    /// A lane was left part-read without a kept position since the last wrap: the pass is
    /// not over at the next one.
    public var untracked = false

    public init() {}

    /// Whether every lane read since the pass began was read to its end.
    public var isPassOver: Bool { positions.isEmpty && !untracked }

    /// The last order key looked at in `lane`; nil when the lane starts from its beginning.
    public func position(_ lane: UInt64) -> UInt64? {
        let i = index(lane)
        return i < positions.count && positions[i].lane == lane ? positions[i].order : nil
    }

    /// `lane` was left part-read after `order`.
    public mutating func leave(_ lane: UInt64, after order: UInt64) {
        let i = index(lane)
        if i < positions.count && positions[i].lane == lane {
            positions[i].order = order
        } else if positions.count < Self.positionsMax {
            positions.insert(Position(lane: lane, order: order), at: i)
        } else {
            untracked = true
        }
    }

    /// Forgets the positions of lanes from `lane` up to (not including) `below` (nil: to
    /// the last): they were read to their end, or have no entries left.
    public mutating func forget(from lane: UInt64, below: UInt64?) {
        let start = index(lane)
        let end = below.map(index) ?? positions.count
        if start < end { positions.removeSubrange(start..<end) }
    }

    /// The first index whose lane is not below `lane`.
    private func index(_ lane: UInt64) -> Int {
        var low = 0, high = positions.count
        while low < high {
            let mid = (low + high) / 2
            if positions[mid].lane < lane { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// A page of a subscriber's outbox: the first due event under each key, taken round-robin
/// across lanes.
public struct OutboxPage: Sendable, Equatable {
    public var entries: [OutboxEntry]
    /// Where the next page goes on; nil when the pass is over (every lane was read to its end).
    public var resume: OutboxCursor?
    /// Entries looked at, due or not.
    public var scanned: Int

    public init(entries: [OutboxEntry], resume: OutboxCursor?, scanned: Int) {
        self.entries = entries
        self.resume = resume
        self.scanned = scanned
    }
}

/// What became of one delivery attempt. `lane` and `message` are the event's `lane` and
/// `orderKey`: with the subscription and event id, they name its entry.
public enum OutboxSettlement: Sendable, Equatable {
    /// 2xx: the entry is deleted.
    case delivered(subscription: UInt64, lane: UInt64, message: MessageID, eventID: UInt64)
    /// No 2xx: try again at `nextAttemptMilliseconds`.
    case failed(subscription: UInt64, lane: UInt64, message: MessageID, eventID: UInt64, attempts: UInt32, nextAttemptMilliseconds: Int64)
    /// No 2xx and the retry period is over: the entry is deleted and counted dead.
    case dead(subscription: UInt64, lane: UInt64, message: MessageID, eventID: UInt64)

    /// The entry delivered.
    public static func delivered(_ entry: OutboxEntry) -> Self {
        .delivered(subscription: entry.subscription, lane: entry.event.lane, message: entry.event.orderKey, eventID: entry.event.eventID)
    }

    /// The entry failed its attempt number `attempts`, tried again at `next`.
    public static func failed(_ entry: OutboxEntry, attempts: UInt32, nextAttemptMilliseconds next: Int64) -> Self {
        .failed(
            subscription: entry.subscription, lane: entry.event.lane, message: entry.event.orderKey, eventID: entry.event.eventID,
            attempts: attempts, nextAttemptMilliseconds: next)
    }

    /// The entry given up.
    public static func dead(_ entry: OutboxEntry) -> Self {
        .dead(subscription: entry.subscription, lane: entry.event.lane, message: entry.event.orderKey, eventID: entry.event.eventID)
    }
}
