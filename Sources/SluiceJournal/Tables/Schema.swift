/// The journal's tables and the `meta` entries that identify a Sluice journal.
enum Schema {
    /// Bumped on any incompatible change of a key or record layout. 2: `outbox` keys have
    /// a lane; version 1 journals are migrated when opened (`Journal+Migration.swift`).
    static let version: UInt32 = 2
    static let magic = "sluice-journal"

    static let metaMagicKey = "magic"
    static let metaVersionKey = "schema_version"
    /// u64 big-endian: the next message id, written when messages are discarded so that
    /// ids stay unique even when the discarded ones were the last (absent in older journals).
    static let metaNextMessageIDKey = "next_message_id"
    /// u64 big-endian: the next campaign id, written when campaigns are removed (retention)
    /// so that a removed campaign's id — which idempotency records may still answer with —
    /// is never given out again (absent in older journals).
    static let metaNextCampaignIDKey = "next_campaign_id"
    /// u64 big-endian × 2: campaigns and messages removed by retention so far.
    static let metaRetentionRemovedKey = "retention_removed"
    /// u64 big-endian: the next status event id (absent before the first event).
    static let metaNextEventIDKey = "next_event_id"
    /// A sealed constant (`RecordCipher.keyCheck`): present once the journal is encrypted,
    /// it proves the key on open. Records from before it stay readable (format 1).
    static let metaKeyCheckKey = "key_check"
    /// 32 random bytes, sealed like a record: the HMAC key of `contacts` keys, so that a
    /// journal without its key does not tell whose numbers it holds.
    static let metaContactIndexKey = "contact_index_key"

    static let messages = "messages"
    static let pending = "pending"
    static let due = "due"
    static let inflight = "inflight"
    static let campaigns = "campaigns"
    static let senders = "senders"
    static let keys = "keys"
    static let idempotency = "idempotency"
    static let subscriptions = "subscriptions"
    static let outbox = "outbox"
    static let wamids = "wamids"
    static let inbound = "inbound"
    static let media = "media"
    static let mediaDue = "media_due"
    static let mediaBlobs = "media_blobs"
    static let contacts = "contacts"
    static let suppressed = "suppressed"
    static let mediaUploads = "media_uploads"
    static let meta = "meta"

    static let all = [
        meta, messages, pending, due, inflight, campaigns, senders, keys, idempotency, subscriptions, outbox, wamids, inbound, media, mediaDue,
        mediaBlobs, contacts, suppressed, mediaUploads,
    ]
    /// Tables added to version 1 without changing any existing layout: a journal written
    /// before them gets them, empty, when it is opened (older builds ignore them).
    static let added: Set<String> = [keys, idempotency, subscriptions, outbox, wamids, inbound, media, mediaDue, mediaBlobs, contacts, suppressed, mediaUploads]
}

/// The opened tables.
struct Tables: Sendable {
    var meta: Database
    var messages: Database
    var pending: Database
    var due: Database
    var inflight: Database
    var campaigns: Database
    var senders: Database
    /// API keys by id (UTF-8).
    var keys: Database
    /// First answers to requests with an `Idempotency-Key`, by scope, 0, key (UTF-8).
    var idempotency: Database
    /// Subscribers by u64 id.
    var subscriptions: Database
    /// Events waiting for delivery, by subscription | lane | order key | event id (u64
    /// each): a message's (a contact's) events are adjacent and in order, in its lane.
    var outbox: Database
    /// Message ids (u64 big-endian) by the wamid WhatsApp gave their send (UTF-8): a
    /// status without Sluice's callback data settles through it.
    var wamids: Database
    /// Incoming messages by wamid (UTF-8): `InboundCodec`. Deduplicates Meta's redeliveries.
    var inbound: Database
    /// Media records by Meta's media id (UTF-8): `MediaCodec`.
    var media: Database
    /// Pending downloads by when they are tried next: `MediaCodec.dueKey`.
    var mediaDue: Database
    /// How many media records name each stored file: sha256 hex → u64 big-endian.
    var mediaBlobs: Database
    /// Each number's contacts: last incoming message, suppression (`ContactCodec`).
    var contacts: Database
    /// The suppressed ones among them (same keys, empty values): a number's suppression
    /// list without scanning all its contacts.
    var suppressed: Database
    /// Uploaded files as each number's Meta media id: `MediaUploadCodec`.
    var mediaUploads: Database
}
