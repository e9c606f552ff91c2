import SluiceCore

/// One change to the journal. A list of them given to `Journal.apply` commits together.
public enum JournalMutation: Sendable {
    /// Inserts or replaces a sender by `phoneNumberID`. With `id.rawValue == 0` the journal
    /// assigns the next `SenderID`; an existing phone number always keeps its id.
    case putSender(SenderRecord)
    /// Deletes the sender with this `phoneNumberID`; its id is never given out again, and
    /// the same number registered later gets a new one. Fails with `senderBusy` while any
    /// of its messages is `queued`, `in_flight`, `retry_at` or `in_doubt`, or one of its
    /// campaigns is `receiving` (checked in the deleting transaction: nothing can be
    /// orphaned). Result `deletedSender`, nil for an unknown number.
    case deleteSender(phoneNumberID: String)
    /// In a cluster: the ownership the node takes the number under (`SenderRecord.fencing`),
    /// journaled before it sends under it. Fails with `invalidField` for an unknown number.
    case setSenderFencing(phoneNumberID: String, SenderFencing)
    /// A new campaign: assigns its `CampaignID` and contiguous `MessageID`s, all `queued`.
    case createCampaign(sender: SenderID, message: [UInt8], createdMilliseconds: Int64, recipients: [NewMessage], options: CampaignOptions = .standard)
    /// Later chunks of a streamed campaign: more contiguous ids, all `queued`.
    case appendMessages(campaign: CampaignID, createdMilliseconds: Int64, recipients: [NewMessage])
    /// A campaign whose recipients stream in: created `receiving` with no message; chunks
    /// follow with `appendMessages`, then `completeCampaign` or `cancelCampaign`.
    case beginCampaign(sender: SenderID, message: [UInt8], createdMilliseconds: Int64, options: CampaignOptions = .standard)
    /// `receiving` → `active`, with `options` replacing those it began with when given
    /// (a JSON body may name them after its recipients). Fails with `campaignState` for a
    /// campaign in another state.
    case completeCampaign(CampaignID, options: CampaignOptions? = nil)
    /// `receiving` (or `cancelled`) → `cancelled`, deleting up to `discardMax` of its
    /// queued messages: repeat until the result's `discarded` is below `discardMax`. With
    /// `removing`, that last call removes the campaign itself (a request refused as bad
    /// input leaves no trace; its id is not given out again). Fails with `campaignState`
    /// for an `active` or `done` campaign, `unknownCampaign` once removed.
    case cancelCampaign(CampaignID, discardMax: Int, removing: Bool = false)
    /// An owner's change of a sent campaign: `active` ⇄ `paused`, or `active`/`paused`/`done`
    /// → `withdrawn` (then `endMessages` ends what was not sent). Setting the state it has
    /// changes nothing; other moves fail with `campaignState`.
    case setCampaignState(CampaignID, CampaignState, reason: String? = nil)
    /// Moves up to `max` of the campaign's `queued`, `retry_at` and `in_doubt` messages to
    /// `to` (`expired`, `cancelled`): repeat until the result's `moved` is below `max`.
    /// `in_flight` ones are the dispatcher's to end.
    case endMessages(campaign: CampaignID, to: MessageState, max: Int, updatedMilliseconds: Int64)
    /// Stores the first answer under an idempotency key. A stored record created before
    /// `replacingCreatedBefore` (expired) is replaced; a live one fails the call with
    /// `idempotencyKeyExists`.
    case putIdempotency(IdempotencyRecord, replacingCreatedBefore: Int64)
    /// Deletes up to `max` idempotency records created before `createdBefore` (a node's
    /// handovers, scope `node:…`, that much longer: `IdempotencyRecord.handoverLifetimeMilliseconds`).
    case purgeIdempotency(createdBefore: Int64, max: Int)
    /// State changes. Unknown ids and transitions `MessageState.canTransition` forbids
    /// (late or duplicate webhooks) are counted as rejected and change nothing.
    case transition([MessageTransition])
    /// Stores a new API key; fails with `apiKeyExists` when its id is taken.
    case createAPIKey(APIKeyRecord)
    /// Marks a key revoked. Unknown ids change nothing; a revoked key keeps its first time.
    case revokeAPIKey(id: String, revokedMilliseconds: Int64)
    /// Stores a new subscriber with the next id (`record.id` and counters are ignored);
    /// fails with `tooManySubscriptions` beyond `Journal.subscriptionsMax`.
    /// From the next transition on, every reported state change its filter accepts gets
    /// an outbox entry in the transaction that journals the change.
    case createSubscription(SubscriptionRecord)
    /// Deletes the subscriber (no more events) and up to `discardMax` of its outbox
    /// entries: repeat until the result's `discarded` is below `discardMax`. An unknown id
    /// only purges entries left behind.
    case deleteSubscription(id: UInt64, discardMax: Int)
    /// Retention: deletes up to `max` messages of a finished campaign (no unsent message,
    /// not `receiving`, no status event waiting in the outbox) with ids from
    /// `messagesFrom` on, and the campaign itself once none is left. Result `removed`;
    /// repeat from its `resume` until that is nil. An unknown campaign changes nothing;
    /// one that is not finished fails with `campaignState`. Removed ids are never given
    /// out again.
    case removeCampaign(CampaignID, messagesFrom: MessageID, max: Int)
    /// Outcomes of delivery attempts. Entries that are gone (their subscriber was
    /// deleted) are skipped.
    case settleOutbox([OutboxSettlement])
    /// Incoming messages from a webhook. One whose wamid is already journaled (Meta
    /// delivers at least once) is a duplicate and changes nothing; each new one gets an
    /// outbox entry for every subscriber that asks for messages, and its media (if any and
    /// not yet known) a `pending` record, due at once. Each also sets its contact's last
    /// inbound time, and `actions[i]` (an opt-out or opt-in keyword) its suppression.
    /// Result `inbound`.
    case recordInbound([InboundMessage], actions: [ContactAction?] = [])
    /// Puts a contact on a number's suppression list (`suppressed`, keeping an earlier
    /// time and source) or takes it off. Result `contact`.
    case setSuppression(phoneNumberID: String, waID: String, suppressed: Bool, atMilliseconds: Int64, source: SuppressionSource)
    /// An account update WhatsApp announced: `sender` (the number as the update leaves it)
    /// is stored like `putSender`, with an event for every subscriber that asks for
    /// account events. Result `sender`.
    case recordAccountUpdate(AccountUpdate, sender: SenderRecord)
    /// Retention of incoming messages: scans up to `max` records with wamids after `after`
    /// and deletes those received before `receivedBefore`. Result `inboundRemoved`.
    case removeInbound(receivedBefore: Int64, after: String?, max: Int)
    /// Outcomes of media downloads; each applies only to a `pending` record. Result
    /// `settled` (how many applied).
    case settleMedia([MediaSettlement])
    /// Retention of the media volume: scans up to `max` media records with ids after
    /// `after` and deletes those received before `receivedBefore` that are no longer
    /// pending. Result `mediaRemoved`; repeat from its `resume` until that is nil.
    case removeMedia(receivedBefore: Int64, after: String?, max: Int)
    /// A file uploaded through `POST /v1/media`, already in the volume (`MediaRecord`
    /// `stored`, no sender): `.done`.
    case storeUpload(MediaRecord)
    /// A number's Meta media id for an uploaded file: `.done`, or `.settled(0)` when the
    /// file is no longer kept.
    case recordMediaUpload(MediaUpload)

    /// Records this mutation writes, for the per-transaction cap.
    var recordCount: Int {
        switch self {
        case .putSender, .deleteSender, .setSenderFencing, .createAPIKey, .revokeAPIKey, .beginCampaign, .completeCampaign, .putIdempotency, .createSubscription, .setCampaignState: 1
        case .storeUpload, .recordMediaUpload: 2
        case .endMessages(_, _, let max, _): max
        case .cancelCampaign(_, let discardMax, _), .deleteSubscription(_, let discardMax): 1 + discardMax
        case .removeCampaign(_, _, let max): 1 + max
        case .settleOutbox(let settlements): settlements.count
        case .purgeIdempotency(_, let max): max
        case .createCampaign(_, _, _, let recipients, _): 1 + recipients.count
        case .appendMessages(_, _, let recipients): recipients.count
        case .transition(let transitions): transitions.count
        case .recordInbound(let messages, _): 4 * messages.count
        case .setSuppression: 2
        case .recordAccountUpdate: 1 + Journal.subscriptionsMax
        case .removeInbound(_, _, let max): max
        case .settleMedia(let settlements): 3 * settlements.count
        case .removeMedia(_, _, let max): 2 * max
        }
    }
}

/// One recipient of a campaign.
public struct NewMessage: Sendable, Equatable {
    /// Recipient phone number.
    public var to: String
    /// Values for the template's placeholders.
    public var params: [String]
    /// The caller's own id for this recipient.
    public var externalID: String?
    public init(to: String, params: [String], externalID: String? = nil) {
        self.to = to
        self.params = params
        self.externalID = externalID
    }
}

/// A message's move to another state, with what the move learned.
public struct MessageTransition: Sendable, Equatable {
    public var id: MessageID
    public var to: MessageState
    /// New attempt count; nil keeps it.
    public var attempts: UInt16?
    /// When a `retry_at` or `in_doubt` message may go again (wall-clock ms). Ignored, and
    /// stored as 0, for other states.
    public var notBeforeMilliseconds: Int64
    public var updatedMilliseconds: Int64
    /// nil keeps the stored wamid.
    public var wamid: String?
    /// 0 keeps the stored code.
    public var errorCode: Int32
    /// nil keeps the stored message.
    public var errorMessage: String?

    public init(
        id: MessageID, to: MessageState, attempts: UInt16? = nil, notBeforeMilliseconds: Int64 = 0,
        updatedMilliseconds: Int64, wamid: String? = nil, errorCode: Int32 = 0, errorMessage: String? = nil
    ) {
        self.id = id
        self.to = to
        self.attempts = attempts
        self.notBeforeMilliseconds = notBeforeMilliseconds
        self.updatedMilliseconds = updatedMilliseconds
        self.wamid = wamid
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }
}

/// What one `apply` call did: one result per mutation, in order.
public struct JournalReceipt: Sendable, Equatable {
    public var results: [MutationResult]
    public init(results: [MutationResult]) { self.results = results }
}

/// The outcome of one mutation.
public enum MutationResult: Sendable, Equatable {
    case sender(SenderID)
    /// `deleteSender`: the record as it was (nil: no such sender, nothing changed).
    case deletedSender(SenderRecord?)
    case campaign(CampaignID, firstMessage: MessageID, count: Int)
    case messages(firstMessage: MessageID, count: Int)
    /// `rejected`: unknown ids and forbidden transitions, which changed nothing (a message
    /// whose state moved since it was read: staging it must not send it).
    case transitions(applied: Int, rejected: [MessageID])
    /// The key as stored after `createAPIKey` or `revokeAPIKey`; nil for an unknown id.
    case apiKey(APIKeyRecord?)
    /// `completeCampaign`, `putIdempotency`.
    case done
    /// `cancelCampaign`: messages deleted by this call; `deleteSubscription`: outbox entries.
    case discarded(Int)
    /// `createSubscription`: the record as stored, with its id.
    case subscription(SubscriptionRecord)
    /// `settleOutbox`: settlements that found their entry.
    case settled(Int)
    /// `purgeIdempotency`: records deleted.
    case purged(Int)
    /// `endMessages`: messages moved; `setCampaignState`: the state before.
    case moved(Int)
    case campaignState(CampaignState)
    /// `removeCampaign`: messages deleted by this call, and the id to continue from (nil:
    /// the campaign and all its messages are gone).
    case removed(messages: Int, resume: MessageID?)
    /// `recordInbound`: messages journaled, and those already journaled (redeliveries).
    case inbound(recorded: Int, duplicates: Int)
    /// `removeMedia`: records deleted, the files no record names any more (sha256 hex),
    /// and the id to continue after (nil: the scan is done).
    case mediaRemoved(records: Int, unreferenced: [String], resume: String?)
    /// `removeInbound`: records deleted, and the wamid to continue after (nil: done).
    case inboundRemoved(records: Int, resume: String?)
    /// `setSuppression`: the contact as it now is, and whether this call changed it.
    case contact(ContactRecord, changed: Bool)
}
