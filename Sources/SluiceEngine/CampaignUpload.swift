import SluiceCore
import SluiceJournal
import SluiceTransport

/// How `CampaignUpload.complete` ended.
public enum UploadCompletion: Sendable, Equatable {
    /// The campaign is `active` (and the answer stored under its idempotency key).
    case completed
    /// Another request stored an answer under the same idempotency key first: this
    /// upload was cancelled and `record` is what that request answered.
    case keyTaken(IdempotencyRecord)
}

/// A campaign whose recipients stream in (NDJSON, CSV): journaled in batches as they
/// arrive, each batch durable before the caller reads more, and sent only once complete.
///
/// The campaign is `receiving` until `complete` flips it to `active` (in the same commit
/// as the idempotency answer, when there is one); until then the dispatcher does not know
/// it. An upload that does not complete — the client went away, a line was too long, the
/// process stopped — is `cancel`led: its messages are deleted and the campaign stays
/// `cancelled`, so nothing of a half-received campaign is ever sent and a retry starts
/// afresh. `Dispatcher.init` cancels what a stopped process left `receiving`.
///
///     var upload = try await dispatcher.beginCampaign(senderPhoneNumberID: "1065", messageObject: json)
///     for (line, recipient) in rows { try await upload.add(recipient, position: line) }
///     let receipt = upload.receipt
///     _ = try await upload.complete(storing: nil)
public struct CampaignUpload: Sendable {
    /// Messages per journal commit while streaming.
    public static let batchRecipientsDefault = 5_000
    /// Rejections listed in the answer (all are counted).
    public static let rejectionsListedMax = 100
    /// Recipients one upload may hold.
    public static let recipientsMax = 10_000_000
    /// Messages deleted per commit when an upload is cancelled.
    static let discardBatchMax = 5_000
    /// Recipients one batch added to a campaign that is sending may hold: they are
    /// journaled in one commit with the answer, so that a batch sent twice is added once.
    public static let appendRecipientsMax = 10_000

    public let id: CampaignID
    let sender: SenderID
    public var senderID: SenderID { sender }
    /// The message compiled once, and the options given at the start: with `complete`'s
    /// they travel to the dispatch loop, which need not read them back.
    let template: MessageTemplate
    let options: CampaignOptions
    let batchRecipients: Int
    let dispatcher: Dispatcher
    /// Adds to a campaign that exists (`Dispatcher.appendingTo`) rather than making one:
    /// nothing is journaled before `complete`, and `cancel` leaves the campaign alone.
    let appending: Bool
    private var buffer: [NewMessage] = []
    private var journaled = 0
    private var rejectedCount = 0
    private var rejections: [RecipientRejection] = []
    /// Commits of recipients so far (each at most `batchRecipients`).
    public private(set) var batchesJournaled = 0
    /// Whether a recipient already in this campaign is refused (counted as rejected with
    /// its position) rather than sent twice. Applies to recipients added after it is set.
    public var dedupe = true
    /// Recipients so far, when deduplicating: `to` (7–15 digits, checked before) as its
    /// value × 16 + its length, exact and 8 bytes (a million take about 24 MB at peak).
    private var seen: Set<UInt64> = []

    static func dedupeKey(_ to: String) -> UInt64 {
        var value: UInt64 = 0
        for c in to.utf8 { value = value &* 10 &+ UInt64(c &- UInt8(ascii: "0")) }
        return value << 4 | UInt64(to.utf8.count)
    }

    init(
        id: CampaignID, sender: SenderID, template: MessageTemplate, options: CampaignOptions, batchRecipients: Int, dispatcher: Dispatcher,
        appending: Bool = false
    ) {
        precondition(batchRecipients > 0, "batchRecipients must be positive")
        self.id = id
        self.sender = sender
        self.template = template
        self.options = options
        self.batchRecipients = appending ? Self.appendRecipientsMax : batchRecipients
        self.dispatcher = dispatcher
        self.appending = appending
        buffer.reserveCapacity(min(self.batchRecipients, 1_000))
    }

    /// Whether any recipient was added or rejected yet.
    public var hasRecipients: Bool { journaled + buffer.count + rejectedCount > 0 }

    public var receipt: CampaignReceipt {
        CampaignReceipt(id: id, accepted: journaled + buffer.count, rejectedCount: rejectedCount, rejections: rejections)
    }

    /// Validates one recipient: accepted ones are buffered and journaled a batch at a
    /// time (this call then waits for the commit); invalid ones are counted as rejected.
    /// Throws only when the upload cannot go on (too many recipients, journal failure).
    public mutating func add(_ recipient: RecipientInput, position: Int) async throws(IntakeError) {
        if let reason = CampaignIntake.problem(recipient: recipient, placeholderCount: template.placeholderCount) {
            reject(position: position, reason: reason)
            return
        }
        let most = appending ? Self.appendRecipientsMax : Self.recipientsMax
        guard journaled + buffer.count < most else { throw .tooManyRecipients(count: journaled + buffer.count + 1, max: most) }
        if dedupe && !seen.insert(Self.dedupeKey(recipient.to)).inserted {
            reject(position: position, reason: "\(recipient.to) is already a recipient of this campaign (send \"dedupe\": false to send it again)")
            return
        }
        buffer.append(NewMessage(to: recipient.to, params: recipient.params, externalID: recipient.externalID))
        if buffer.count >= batchRecipients && !appending { try await flush() }
    }

    /// Counts a row that could not be read as a recipient.
    public mutating func reject(position: Int, reason: String) {
        rejectedCount += 1
        if rejections.count < Self.rejectionsListedMax { rejections.append(RecipientRejection(position: position, reason: reason)) }
    }

    private mutating func flush() async throws(IntakeError) {
        guard !buffer.isEmpty else { return }
        try dispatcher.checkIntakeSpace()
        do {
            _ = try await dispatcher.journal.apply([
                .appendMessages(campaign: id, createdMilliseconds: dispatcher.clock.wallMilliseconds(), recipients: buffer)
            ])
        } catch {
            throw Dispatcher.intakeError(error)
        }
        journaled += buffer.count
        batchesJournaled += 1
        buffer.removeAll(keepingCapacity: true)
    }

    /// Journals what is buffered and makes the campaign `active` — together with
    /// `answer` under its idempotency key, in one commit — then hands it to the
    /// dispatcher. Refused input (no accepted recipient, a bad late option) removes the
    /// campaign and throws; on any other throw it is left `receiving`: cancel it.
    ///
    /// `alsoStoring` goes in the same commit (a cluster node's note of which campaign
    /// here sends another node's campaign). When appending, the recipients and the answer
    /// commit together, and the campaign, sending already, pages them in.
    public mutating func complete(
        storing answer: IdempotencyRecord?, options: CampaignOptions? = nil, alsoStoring notes: [IdempotencyRecord] = []
    ) async throws(IntakeError) -> UploadCompletion {
        if appending { return try await completeAppending(storing: answer, notes: notes) }
        if let options, let problem = CampaignIntake.problem(options: options, nowMilliseconds: dispatcher.clock.wallMilliseconds()) {
            await cancel(removing: true)
            throw .invalidOption(problem)
        }
        try await flush()
        guard journaled > 0 else {
            await cancel(removing: true)
            throw .noValidRecipients(rejectedCount: rejectedCount, rejections: rejections)
        }
        do {
            _ = try await dispatcher.journal.apply([.completeCampaign(id, options: options)] + Self.storing(answer, notes))
        } catch .idempotencyKeyExists(let scope, let key) {
            await cancel()
            return .keyTaken(try stored(scope: scope, key: key))
        } catch {
            // A full disk can first show at this last commit: 507, as for the batches.
            throw Dispatcher.intakeError(error)
        }
        dispatcher.campaignCompleted(
            id, CampaignBook.Compiled(sender: sender, template: template, options: options ?? self.options), storedAnswer: answer != nil)
        return .completed
    }

    /// The answer under its key (an expired one is replaced), and notes, which replace any
    /// before them: they answer no request.
    private static func storing(_ answer: IdempotencyRecord?, _ notes: [IdempotencyRecord]) -> [JournalMutation] {
        var mutations: [JournalMutation] = []
        if let answer {
            mutations.append(.putIdempotency(answer, replacingCreatedBefore: answer.createdMilliseconds - IdempotencyRecord.lifetimeMilliseconds(scope: answer.scope)))
        }
        return mutations + notes.map { .putIdempotency($0, replacingCreatedBefore: .max) }
    }

    /// What another request stored under the key first.
    private func stored(scope: String, key: String) throws(IntakeError) -> IdempotencyRecord {
        let stored: IdempotencyRecord?
        do { stored = try dispatcher.journal.idempotency(scope: scope, key: key) } catch { throw .journal("\(error)") }
        guard let stored else { throw .journal("the answer under idempotency key '\(key)' vanished") }
        return stored
    }

    private mutating func completeAppending(storing answer: IdempotencyRecord?, notes: [IdempotencyRecord]) async throws(IntakeError) -> UploadCompletion {
        guard !buffer.isEmpty else { throw .noValidRecipients(rejectedCount: rejectedCount, rejections: rejections) }
        try dispatcher.checkIntakeSpace()
        let append = JournalMutation.appendMessages(campaign: id, createdMilliseconds: dispatcher.clock.wallMilliseconds(), recipients: buffer)
        do {
            _ = try await dispatcher.journal.apply([append] + Self.storing(answer, notes))
        } catch .idempotencyKeyExists(let scope, let key) {
            // Nothing was added: the first request's answer stands.
            return .keyTaken(try stored(scope: scope, key: key))
        } catch {
            throw Dispatcher.intakeError(error)
        }
        journaled += buffer.count
        batchesJournaled += 1
        buffer.removeAll()
        dispatcher.campaignGrew(id, sender: sender)
        return .completed
    }

    /// Cancels the campaign and deletes its messages, a commit per `discardBatchMax`;
    /// `removing`, the campaign record too (the request is refused as bad input).
    /// Returns false when the journal refused (the next start cancels it then). An
    /// upload adding to a campaign journaled nothing yet: the campaign stays as it is.
    @discardableResult
    public func cancel(removing: Bool = false) async -> Bool {
        guard !appending else { return true }
        return await dispatcher.discardUpload(id, removing: removing)
    }
}
