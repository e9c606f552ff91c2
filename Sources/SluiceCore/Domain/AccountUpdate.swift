/// A change WhatsApp announced for one of the numbers (a `phone_number_quality_update`
/// webhook), with what Sluice changed because of it.
public struct AccountUpdate: Sendable, Equatable {
    /// The number's phone number id (found by the display number the webhook names).
    public var senderPhoneNumberID: String
    /// `display_phone_number` as WhatsApp gave it.
    public var displayPhoneNumber: String
    /// `event`: THROUGHPUT_UPGRADE, UPGRADE, DOWNGRADE, FLAGGED, UNFLAGGED, ONBOARDING, …
    public var event: String
    /// The messaging limit announced (`max_daily_conversations_per_business`, or the older
    /// `current_limit`), as WhatsApp names it (`TIER_2K`); nil when none.
    public var limit: String?
    /// `old_limit`, when given.
    public var oldLimit: String?
    /// The tier the number has after this update (messages per second).
    public var tierMessagesPerSecond: Double
    /// The messaging limit it has after this update; nil: unlimited.
    public var messagingLimit: Int?
    /// When Sluice journaled it (wall-clock ms).
    public var receivedMilliseconds: Int64

    public init(
        senderPhoneNumberID: String, displayPhoneNumber: String, event: String, limit: String? = nil, oldLimit: String? = nil,
        tierMessagesPerSecond: Double, messagingLimit: Int?, receivedMilliseconds: Int64
    ) {
        self.senderPhoneNumberID = senderPhoneNumberID
        self.displayPhoneNumber = displayPhoneNumber
        self.event = event
        self.limit = limit
        self.oldLimit = oldLimit
        self.tierMessagesPerSecond = tierMessagesPerSecond
        self.messagingLimit = messagingLimit
        self.receivedMilliseconds = receivedMilliseconds
    }

    /// WhatsApp's higher throughput level: every number that reaches it sends at 1 000/s.
    public static let upgradedTierMessagesPerSecond = 1_000.0
    public static let throughputUpgrade = "THROUGHPUT_UPGRADE"

    /// What a limit name means for the messaging cap: `.some(n)` a cap of n (one of
    /// `RecipientWindow.tiers`), `.some(nil)` unlimited, nil a name that changes nothing
    /// here (`TIER_NOT_SET`, or a level Sluice does not cap at).
    public static func messagingLimit(named name: String) -> Int?? {
        switch name {
        case "TIER_250": 250
        case "TIER_2K": 2_000
        case "TIER_10K": 10_000
        case "TIER_100K": 100_000
        case "TIER_UNLIMITED": .some(nil)
        default: nil
        }
    }

    /// The key its event waits under in a subscriber's outbox: one per number, so that a
    /// number's account events arrive in order. The high bit keeps it apart from message
    /// ids; FNV-1a, so that it is the same after a restart.
    public var orderKey: MessageID {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "account\0\(senderPhoneNumberID)".utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return MessageID(1 << 63 | hash)
    }
}

/// An account update as a subscriber receives it.
public struct AccountEvent: Sendable, Equatable {
    public var eventID: UInt64
    public var update: AccountUpdate

    public init(eventID: UInt64, update: AccountUpdate) {
        self.eventID = eventID
        self.update = update
    }
}
