/// One message as the journal holds it.
public struct MessageRecord: Sendable, Equatable {
    public var id: MessageID
    public var campaign: CampaignID
    public var sender: SenderID
    public var state: MessageState
    /// Sends that used an attempt (throttles do not).
    public var attempts: UInt16
    /// Wall-clock milliseconds before which a `retry_at` or `in_doubt` message is not sent.
    public var notBeforeMilliseconds: Int64
    public var updatedMilliseconds: Int64
    /// Recipient, 7–15 digits.
    public var to: String
    /// Values for the campaign template's `{{1}}`, `{{2}}`, … placeholders.
    public var params: [String]
    public var wamid: String?
    /// WhatsApp `error.code` (or a transport code) of the last failure; 0 when none.
    public var errorCode: Int32
    public var errorMessage: String?
    /// The caller's own id for this recipient, given at intake.
    public var externalID: String?
    public var times: MessageTimes

    public init(
        id: MessageID, campaign: CampaignID, sender: SenderID, state: MessageState = .queued,
        attempts: UInt16 = 0, notBeforeMilliseconds: Int64 = 0, updatedMilliseconds: Int64 = 0,
        to: String, params: [String], wamid: String? = nil, errorCode: Int32 = 0, errorMessage: String? = nil,
        externalID: String? = nil, times: MessageTimes = MessageTimes()
    ) {
        self.id = id
        self.campaign = campaign
        self.sender = sender
        self.state = state
        self.attempts = attempts
        self.notBeforeMilliseconds = notBeforeMilliseconds
        self.updatedMilliseconds = updatedMilliseconds
        self.to = to
        self.params = params
        self.wamid = wamid
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.externalID = externalID
        self.times = times
    }
}

/// When a message reached each milestone, wall-clock ms; 0 when it has not (or when it
/// was journaled before times were kept).
public struct MessageTimes: Sendable, Equatable {
    public var accepted: Int64
    /// WhatsApp accepted the send (answer or `sent` status), first time.
    public var sent: Int64
    public var delivered: Int64
    public var read: Int64
    /// It ended without delivery: failed, unknown, expired, cancelled or suppressed.
    public var ended: Int64

    public init(accepted: Int64 = 0, sent: Int64 = 0, delivered: Int64 = 0, read: Int64 = 0, ended: Int64 = 0) {
        self.accepted = accepted
        self.sent = sent
        self.delivered = delivered
        self.read = read
        self.ended = ended
    }
}

/// Messages of one campaign per state, kept by the journal in the same transaction as
/// each transition so that progress is one read.
public struct StateCounts: Sendable, Equatable {
    public var values: [UInt64]
    public init() { values = Array(repeating: 0, count: MessageState.allCases.count) }
    public subscript(state: MessageState) -> UInt64 {
        get { values[Int(state.rawValue)] }
        set { values[Int(state.rawValue)] = newValue }
    }
    public var total: UInt64 { values.reduce(0, +) }
}

public enum CampaignState: UInt8, Sendable, CustomStringConvertible {
    case active = 0
    case done = 1
    /// A streamed upload is still arriving: its messages are journaled but not sent until
    /// the upload completes (then `active`).
    case receiving = 2
    /// The upload ended before it completed (client gone, bad line, restart): its messages
    /// were discarded and nothing of it is sent.
    case cancelled = 3
    /// Paused by its owner: nothing more is sent until it is resumed.
    case paused = 4
    /// Cancelled by its owner while sending: what was not sent ends `cancelled` (its
    /// messages are kept, unlike an upload's). Shown as `cancelled`.
    case withdrawn = 5
    public var description: String {
        switch self {
        case .active: "active"
        case .done: "done"
        case .receiving: "receiving"
        case .cancelled: "cancelled"
        case .paused: "paused"
        case .withdrawn: "cancelled"
        }
    }
}

/// Which campaigns of a sender go first: `transactional` before `marketing`.
public enum CampaignPriority: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case transactional = 0
    case marketing = 1
    public var description: String { self == .transactional ? "transactional" : "marketing" }
    public init?(name: String) {
        guard let p = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = p
    }
}

/// What happens to a message that may or may not have left when the process died or the
/// answer was lost (`in_doubt`) and no status settles it within the settle window.
public enum DeliveryMode: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Resent: the recipient may get it twice, never not at all.
    case atLeastOnce = 0
    /// Never resent: it ends `unknown`.
    case atMostOnce = 1
    public var description: String { self == .atLeastOnce ? "at_least_once" : "at_most_once" }
    public init?(name: String) {
        guard let m = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = m
    }
}

/// How a campaign is sent: when it may start and must end, its priority on its sender
/// and its delivery mode.
public struct CampaignOptions: Sendable, Equatable {
    /// Wall-clock ms before which nothing is sent; nil: at once.
    public var scheduleAtMilliseconds: Int64?
    /// Wall-clock ms after which what was not sent ends `expired`; nil: never.
    public var expiresAtMilliseconds: Int64?
    public var priority: CampaignPriority
    public var delivery: DeliveryMode
    /// The owner's name for it, for people and the list's filter.
    public var name: String?
    /// The owner's labels, for the list's filter.
    public var labels: [String]
    /// The campaign whose recipients it retries.
    public var retryOf: CampaignID?
    /// In a cluster, the campaign on another node whose messages this one sends for it.
    public var origin: CampaignOrigin?

    public init(
        scheduleAtMilliseconds: Int64? = nil, expiresAtMilliseconds: Int64? = nil, priority: CampaignPriority = .marketing, delivery: DeliveryMode = .atLeastOnce,
        name: String? = nil, labels: [String] = [], retryOf: CampaignID? = nil, origin: CampaignOrigin? = nil
    ) {
        self.scheduleAtMilliseconds = scheduleAtMilliseconds
        self.expiresAtMilliseconds = expiresAtMilliseconds
        self.priority = priority
        self.delivery = delivery
        self.name = name
        self.labels = labels
        self.retryOf = retryOf
        self.origin = origin
    }

    /// What a campaign gets when it names none.
    public static let standard = CampaignOptions()

    /// Whether the campaign may send at `wallMilliseconds` (started and not expired).
    public func isOpen(atMilliseconds wall: Int64) -> Bool {
        if let start = scheduleAtMilliseconds, wall < start { return false }
        if let end = expiresAtMilliseconds, wall >= end { return false }
        return true
    }
}

/// Where a handed-over campaign came from: the node it was submitted to and its id there.
/// A node holds one campaign per origin, to which each handed-over batch is added.
public struct CampaignOrigin: Sendable, Hashable, CustomStringConvertible {
    public var node: String
    public var campaign: CampaignID

    public init(node: String, campaign: CampaignID) {
        self.node = node
        self.campaign = campaign
    }

    /// `<node>:<campaign>`, as `?origin=` takes it.
    public var description: String { "\(node):\(campaign)" }

    /// `<node>:<campaign>`; nil for anything else (node ids have no ':').
    public init?(_ text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"), let id = UInt64(text[text.index(after: colon)...]), id > 0 else { return nil }
        let node = String(text[..<colon])
        guard !node.isEmpty, !node.contains(":") else { return nil }
        self.init(node: node, campaign: CampaignID(id))
    }
}

/// A campaign: one sender, one message object with placeholders, many recipients.
public struct CampaignRecord: Sendable, Equatable {
    public var id: CampaignID
    public var sender: SenderID
    public var state: CampaignState
    public var createdMilliseconds: Int64
    /// The Cloud API message object as the client sent it (JSON, UTF-8), without `to`.
    public var message: [UInt8]
    public var counts: StateCounts
    public var options: CampaignOptions
    /// Why it is `paused` when Sluice paused it (a media upload failed); nil when its owner did.
    public var pauseReason: String?
    /// Its first and last message ids (nil before the first, and in records written before
    /// they were kept): its messages lie between, among other campaigns' that streamed in
    /// at the same time.
    public var firstMessage: MessageID?
    public var lastMessage: MessageID?
    /// Its `failed` messages by error code.
    public var failures: FailureCounts
    /// Campaigns created to retry its recipients, oldest first (the last `retriesKept`).
    public var retries: [CampaignID]
    public static let retriesKept = 32

    public init(
        id: CampaignID, sender: SenderID, state: CampaignState = .active, createdMilliseconds: Int64, message: [UInt8],
        counts: StateCounts = StateCounts(), options: CampaignOptions = .standard, pauseReason: String? = nil,
        firstMessage: MessageID? = nil, lastMessage: MessageID? = nil, failures: FailureCounts = FailureCounts(), retries: [CampaignID] = []
    ) {
        self.id = id
        self.sender = sender
        self.state = state
        self.createdMilliseconds = createdMilliseconds
        self.message = message
        self.counts = counts
        self.options = options
        self.pauseReason = pauseReason
        self.firstMessage = firstMessage
        self.lastMessage = lastMessage
        self.failures = failures
        self.retries = retries
    }
}

/// Failed messages by error code, in the order codes first failed. Bounded: past
/// `codesMax` distinct codes the rest count under `otherCode`.
public struct FailureCounts: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var code: Int32
        public var count: UInt64
        public init(code: Int32, count: UInt64) {
            self.code = code
            self.count = count
        }
    }

    public static let codesMax = 32
    /// Where codes past `codesMax` are counted.
    public static let otherCode = Int32.min
    public var entries: [Entry]

    public init(entries: [Entry] = []) { self.entries = entries }

    public mutating func add(_ code: Int32, count: UInt64 = 1) {
        if let i = entries.firstIndex(where: { $0.code == code }) {
            entries[i].count += count
        } else if entries.count < Self.codesMax - 1 || code == Self.otherCode {
            entries.append(Entry(code: code, count: count))
        } else {
            add(Self.otherCode, count: count)
        }
    }

    public var total: UInt64 { entries.reduce(0) { $0 + $1.count } }
}

/// An ownership of a number in a cluster: the etcd revision at which its owner key was
/// created (every request sent under it carries the token), and when this node took it.
public struct SenderFencing: Sendable, Equatable {
    public var token: Int64
    public var sinceMilliseconds: Int64

    public init(token: Int64, sinceMilliseconds: Int64) {
        self.token = token
        self.sinceMilliseconds = sinceMilliseconds
    }
}

/// A sending phone number and its rate tier.
public struct SenderRecord: Sendable, Equatable {
    public var id: SenderID
    /// WhatsApp's `phone_number_id`, the path segment of the send URL.
    public var phoneNumberID: String
    public var tierMessagesPerSecond: Double
    public var burst: UInt32
    public var accessToken: String
    public var paused: Bool
    public var pauseReason: String?
    /// The Meta app secret that signs this number's status webhooks (`X-Hub-Signature-256`).
    public var appSecret: String?
    /// WhatsApp's messaging limit: unique recipients per rolling 24 h (one of
    /// `RecipientWindow.tiers`); nil: unlimited.
    public var messagingLimit: Int?
    /// Senders with the same group share one messaging-limit window (a business
    /// portfolio); nil: the sender alone.
    public var group: String?
    /// Whether free-form messages wait for the contact's customer service window.
    public var customerWindow: CustomerWindowPolicy
    /// Texts and button payloads that put a contact on the suppression list; nil:
    /// `ContactKeywords.standardOptOut`.
    public var optOutKeywords: [String]?
    /// The number as people dial it (`display_phone_number`, digits): how WhatsApp names it
    /// in account webhooks. Learnt from the number's first message or status webhook.
    public var displayPhoneNumber: String?
    /// In a cluster: the ownership this node last took the number under, journaled before
    /// it sends under it. Kept by the journal across other writes of the sender.
    public var fencing: SenderFencing?

    public init(
        id: SenderID, phoneNumberID: String, tierMessagesPerSecond: Double, burst: UInt32 = 1, accessToken: String, paused: Bool = false,
        pauseReason: String? = nil, appSecret: String? = nil, messagingLimit: Int? = nil, group: String? = nil,
        customerWindow: CustomerWindowPolicy = .off, optOutKeywords: [String]? = nil, displayPhoneNumber: String? = nil,
        fencing: SenderFencing? = nil
    ) {
        self.id = id
        self.phoneNumberID = phoneNumberID
        self.tierMessagesPerSecond = tierMessagesPerSecond
        self.burst = burst
        self.accessToken = accessToken
        self.paused = paused
        self.pauseReason = pauseReason
        self.appSecret = appSecret
        self.messagingLimit = messagingLimit
        self.group = group
        self.customerWindow = customerWindow
        self.optOutKeywords = optOutKeywords
        self.displayPhoneNumber = displayPhoneNumber
        self.fencing = fencing
    }

    /// The keywords an incoming message is matched against.
    public var effectiveOptOutKeywords: [String] { optOutKeywords ?? ContactKeywords.standardOptOut }
}
