import Foundation
import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// The dispatcher as an embeddable service: journal, scheduler and transport wired
/// together. The HTTP server, the demo, the load test and the benchmarks all drive this.
///
///     let dispatcher = try Dispatcher(configuration: .init(dataDirectory: "/var/lib/sluice"))
///     try await dispatcher.putSender(phoneNumberID: "1065", tierMessagesPerSecond: 80, accessToken: token)
///     let receipt = try await dispatcher.submitCampaign(senderPhoneNumberID: "1065", messageObject: json, recipients: list)
///     await dispatcher.shutdown()
public final class Dispatcher: Sendable {
    public let configuration: EngineConfiguration
    public let recovery: RecoveryReport
    let journal: Journal
    let loop: DispatchLoop
    private let transport: CurlTransport
    public let clock: any Clock
    /// Incoming media, by SHA-256.
    public let mediaVolume: MediaVolume
    let logger: Logger
    private let shutdownState = ShutdownState()
    private let lastPurge = Locked<Int64>(0)
    /// Numbers whose new fencing token is being journaled (`setOwnership`).
    let fencingWrites = Locked<Set<String>>([])
    /// Where the status deadline's scan of the messages stands.
    let deadlineSweep = Locked<DeadlineSweep>(DeadlineSweep())

    /// Opens (or creates) the journal under `dataDirectory`, turns what a crash left
    /// `in_flight` into `in_doubt`, and starts dispatching what is queued.
    public init(configuration: EngineConfiguration, clock: any Clock = SystemClock(), logger: Logger = Logger(label: "sluice.engine")) throws {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        mediaVolume = try MediaVolume(directory: configuration.mediaDirectoryInForce)
        let journal = try Journal(directory: configuration.dataDirectory + "/journal", configuration: configuration.journal)
        self.journal = journal
        do {
            var departures: DepartureRecord?
            if configuration.recordsDepartures {
                do {
                    departures = try DepartureRecord(path: configuration.dataDirectory + "/departures")
                } catch {
                    logger.warning("\(error): after a crash every message in flight will be in_doubt")
                }
            }
            let bootID = DepartureRecord.currentBootID()
            let evidence = bootID.flatMap { departures?.evidence(bootID: $0) }
            recovery = try journal.recover(
                nowMilliseconds: clock.wallMilliseconds(),
                inDoubtSettleMilliseconds: configuration.outcome.inDoubtSettleMilliseconds,
                departures: evidence)
            if recovery.inFlightToInDoubt > 0 {
                logger.warning("recovery: \(recovery.inFlightToInDoubt) message(s) had begun to leave at the last stop; they are in_doubt and wait \(configuration.outcome.inDoubtSettleMilliseconds / 1000) s for a status before any resend")
            }
            if recovery.inFlightToQueued > 0 {
                logger.notice("recovery: \(recovery.inFlightToQueued) message(s) were staged at the last stop but had not left (departure record): queued again")
            }
            // Only after the journal took what the record said: a crash before this line
            // finds the same record at the next start.
            do {
                try departures?.reset(bootID: bootID ?? "", wallNanoseconds: clock.wallMilliseconds() * 1_000_000)
            } catch {
                logger.warning("\(error): departures are not recorded in this run; after a crash every message in flight will be in_doubt")
                departures = nil
            }
            var transportConfiguration = configuration.transport
            transportConfiguration.departureRecord = departures
            // Uploads a stopped process left half-received (or half-discarded) are never
            // sent: cancel them before the dispatch loop looks for queued messages.
            for id in try journal.unfinishedUploads() {
                let discarded = try Self.discardSynchronously(journal, id)
                logger.warning("campaign \(id) had not completed its upload at the last stop: cancelled, \(discarded) message(s) discarded")
            }
            _ = try Self.applySynchronously(journal, [
                .purgeIdempotency(createdBefore: clock.wallMilliseconds() - IdempotencyRecord.lifetimeMilliseconds, max: Self.purgeIdempotencyMax)
            ])
            let loop = DispatchLoop(configuration: configuration, journal: journal, clock: clock, logger: logger)
            self.loop = loop
            transport = try CurlTransport(configuration: transportConfiguration) { departed, completions in
                loop.post(.transport(departed: departed, completions: completions))
            }
            loop.transport = transport
            try loop.start(senders: journal.senders())
        } catch {
            journal.close()
            throw error
        }
    }

    // MARK: Senders

    /// Registers a sending number or changes its tier and token. The change reaches the
    /// running scheduler as soon as it is journaled. A PUT also lifts a pause (not with
    /// `keepingPause`: a PATCH that leaves the token as it is). An app
    /// secret (for webhook signatures), a messaging limit or a group that is not given
    /// keeps its previous value; `.set(nil)` clears a limit (unlimited) or a group.
    @discardableResult
    public func putSender(
        phoneNumberID: String, tierMessagesPerSecond: Double, burst: Int = 1, accessToken: String, appSecret: String? = nil,
        messagingLimit: SenderSetting<Int> = .keep, group: SenderSetting<String> = .keep,
        customerWindow: CustomerWindowPolicy? = nil, optOutKeywords: SenderSetting<[String]> = .keep,
        displayPhoneNumber: SenderSetting<String> = .keep, keepingPause: Bool = false
    ) async throws -> SenderRecord {
        if let problem = CampaignIntake.problem(phoneNumberID: phoneNumberID, tier: tierMessagesPerSecond, burst: burst, accessToken: accessToken) {
            throw IntakeError.invalidSender(problem)
        }
        if let appSecret, let problem = CampaignIntake.problem(appSecret: appSecret) { throw IntakeError.invalidSender(problem) }
        if case .set(let limit?) = messagingLimit, let problem = CampaignIntake.problem(messagingLimit: limit) { throw IntakeError.invalidSender(problem) }
        if case .set(let name?) = group, let problem = CampaignIntake.problem(group: name) { throw IntakeError.invalidSender(problem) }
        if case .set(let keywords?) = optOutKeywords, let problem = ContactKeywords.problem(keywords) {
            throw IntakeError.invalidSender(FieldProblem("opt_out_keywords", problem))
        }
        let existing = try journal.sender(phoneNumberID: phoneNumberID)
        var record = SenderRecord(
            id: existing?.id ?? SenderID(0), phoneNumberID: phoneNumberID, tierMessagesPerSecond: tierMessagesPerSecond,
            burst: UInt32(burst), accessToken: accessToken, paused: keepingPause && existing?.paused == true,
            pauseReason: keepingPause ? existing?.pauseReason : nil,
            appSecret: appSecret ?? existing?.appSecret,
            messagingLimit: messagingLimit.value(keeping: existing?.messagingLimit), group: group.value(keeping: existing?.group),
            customerWindow: customerWindow ?? existing?.customerWindow ?? .off, optOutKeywords: optOutKeywords.value(keeping: existing?.optOutKeywords),
            displayPhoneNumber: displayPhoneNumber.value(keeping: existing?.displayPhoneNumber).map(Self.displayDigits))
        let receipt = try await journal.apply([.putSender(record)])
        guard case .sender(let id)? = receipt.results.first else {
            preconditionFailure("journal answered putSender with \(receipt.results)")
        }
        record.id = id
        loop.post(.sender(record))
        return record
    }

    public func sender(phoneNumberID: String) throws -> SenderRecord? {
        try journal.sender(phoneNumberID: phoneNumberID)
    }

    public func senders() throws -> [SenderRecord] { try journal.senders() }

    /// Live per-sender figures, refreshed a few times a second.
    public func senderSnapshots() -> [SenderSnapshot] { loop.snapshots() }

    // MARK: Campaigns

    /// A campaign whose recipients are all at hand (the demo, the load test): the upload
    /// path with the list read in one go. Returns once the campaign is durable and active.
    /// Recipients that fail validation are listed in the receipt and not journaled; input
    /// that fails as a whole throws `IntakeError` and leaves nothing behind.
    public func submitCampaign(
        senderPhoneNumberID: String, messageObject: [UInt8], recipients: [RecipientInput], options: CampaignOptions = .standard, dedupe: Bool = true
    ) async throws(IntakeError) -> CampaignReceipt {
        guard !recipients.isEmpty else { throw .noRecipients }
        guard recipients.count <= CampaignIntake.recipientsPerRequestMax else {
            throw .tooManyRecipients(count: recipients.count, max: CampaignIntake.recipientsPerRequestMax)
        }
        var upload = try await beginCampaign(
            senderPhoneNumberID: senderPhoneNumberID, messageObject: messageObject, options: options,
            batchRecipients: min(recipients.count, CampaignUpload.batchRecipientsDefault))
        upload.dedupe = dedupe
        do {
            for (index, recipient) in recipients.enumerated() { try await upload.add(recipient, position: index) }
            _ = try await upload.complete(storing: nil)
        } catch {
            await upload.cancel(removing: true)
            throw error
        }
        return upload.receipt
    }

    /// Starts a streamed campaign: checks the sender and the message object, then
    /// journals the campaign `receiving` (nothing is sent until `complete`). Throws
    /// `IntakeError` with nothing journaled when either is not valid.
    public func beginCampaign(
        senderPhoneNumberID: String, messageObject: [UInt8], options: CampaignOptions = .standard,
        batchRecipients: Int = CampaignUpload.batchRecipientsDefault
    ) async throws(IntakeError) -> CampaignUpload {
        if let problem = CampaignIntake.problem(options: options, nowMilliseconds: clock.wallMilliseconds()) {
            throw .invalidOption(problem)
        }
        try checkIntakeSpace()
        let sender: SenderRecord?
        do { sender = try journal.sender(phoneNumberID: senderPhoneNumberID) } catch { throw .journal("\(error)") }
        guard let sender else { throw .unknownSender(senderPhoneNumberID) }
        let template: MessageTemplate
        do { template = try MessageTemplate(messageObject: messageObject) } catch { throw .invalidMessage("\(error)") }
        try checkMedia(template)
        let receipt: JournalReceipt
        do {
            receipt = try await journal.apply([.beginCampaign(sender: sender.id, message: messageObject, createdMilliseconds: clock.wallMilliseconds(), options: options)])
        } catch {
            throw Self.intakeError(error)
        }
        guard case .campaign(let id, _, _)? = receipt.results.first else {
            preconditionFailure("journal answered beginCampaign with \(receipt.results)")
        }
        return CampaignUpload(id: id, sender: sender.id, template: template, options: options, batchRecipients: batchRecipients, dispatcher: self)
    }

    /// An upload that adds recipients to `campaign`, which is sending (`active` or
    /// `paused`): they are journaled in one commit at `complete` and page in at once.
    /// Throws `.campaignState` for a campaign in another state, nil when there is none.
    public func appendingTo(_ campaign: CampaignID) throws(IntakeError) -> CampaignUpload? {
        let record: CampaignRecord?
        do { record = try journal.campaign(campaign) } catch { throw .journal("\(error)") }
        guard let record else { return nil }
        guard record.state == .active || record.state == .paused else {
            throw .campaignState("campaign \(campaign) is \(record.state) and takes no more recipients")
        }
        try checkIntakeSpace()
        let template: MessageTemplate
        do { template = try MessageTemplate(messageObject: record.message) } catch { throw .invalidMessage("\(error)") }
        return CampaignUpload(
            id: campaign, sender: record.sender, template: template, options: record.options, batchRecipients: CampaignUpload.appendRecipientsMax,
            dispatcher: self, appending: true)
    }

    /// Recipients were added to a campaign that is sending: they page in.
    func campaignGrew(_ campaign: CampaignID, sender: SenderID) {
        loop.post(.campaignAvailable(sender, campaign))
    }

    /// The live (unexpired) answer stored under an idempotency key.
    public func idempotencyRecord(scope: String, key: String) throws -> IdempotencyRecord? {
        guard let record = try journal.idempotency(scope: scope, key: key), record.isLive(nowMilliseconds: clock.wallMilliseconds()) else { return nil }
        return record
    }

    /// A completed upload goes to the scheduler, compiled; now and then expired
    /// idempotency answers are purged.
    func campaignCompleted(_ campaign: CampaignID, _ compiled: CampaignBook.Compiled, storedAnswer: Bool) {
        loop.post(.campaignCompleted(campaign, compiled))
        guard storedAnswer else { return }
        let now = clock.wallMilliseconds()
        let due = lastPurge.withLock { last in
            guard now - last >= Self.purgeIntervalMilliseconds else { return false }
            last = now
            return true
        }
        if due {
            journal.apply([.purgeIdempotency(createdBefore: now - IdempotencyRecord.lifetimeMilliseconds, max: Self.purgeIdempotencyMax)]) { _ in }
        }
    }

    /// Cancels a `receiving` campaign, deleting its messages in batches; `removing`, the
    /// campaign too once they are gone.
    func discardUpload(_ id: CampaignID, removing: Bool = false) async -> Bool {
        while true {
            do {
                let receipt = try await journal.apply([.cancelCampaign(id, discardMax: CampaignUpload.discardBatchMax, removing: removing)])
                guard case .discarded(let n)? = receipt.results.first, n == CampaignUpload.discardBatchMax else { return true }
            } catch .unknownCampaign {
                return true  // discarded already: the last batch removes the campaign
            } catch {
                logger.error("cancelling campaign \(id) failed: \(error); the next start cancels it")
                return false
            }
        }
    }

    static let purgeIdempotencyMax = 100_000
    static let purgeIntervalMilliseconds: Int64 = 3_600_000

    private static func discardSynchronously(_ journal: Journal, _ id: CampaignID) throws -> Int {
        var total = 0
        while true {
            let receipt = try applySynchronously(journal, [.cancelCampaign(id, discardMax: CampaignUpload.discardBatchMax)])
            guard case .discarded(let n)? = receipt.results.first else { return total }
            total += n
            if n < CampaignUpload.discardBatchMax { return total }
        }
    }

    /// `apply` for `init`, which is synchronous (never on the writer thread).
    private static func applySynchronously(_ journal: Journal, _ mutations: [JournalMutation]) throws -> JournalReceipt {
        let done = DispatchSemaphore(value: 0)
        let result = Locked<Result<JournalReceipt, JournalError>?>(nil)
        journal.apply(mutations) { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// The campaign's progress with its current send rate and ETA.
    public func campaignProgress(_ id: CampaignID) throws -> CampaignProgress? {
        guard let record = try journal.campaign(id) else { return nil }
        let wall = clock.wallMilliseconds()
        let phone = try journal.senders().first { $0.id == record.sender }?.phoneNumberID
        var progress = CampaignProgress(record: record, senderPhoneNumberID: phone, wallMilliseconds: wall)
        progress.sendRate = loop.sendRate(campaign: id)
        try estimate(&progress, record: record, wallMilliseconds: wall)
        return progress
    }

    /// Fills `etaSeconds` and `waitingFor`: the sender's current rate over what it sends
    /// before this campaign is drained (`DrainEstimate`), from the start time when it is
    /// scheduled.
    private func estimate(_ progress: inout CampaignProgress, record: CampaignRecord, wallMilliseconds wall: Int64) throws {
        guard progress.unsent > 0 else { return }
        switch record.state {
        case .paused:
            progress.waitingFor = CampaignProgress.Hold.paused.rawValue
            return
        case .receiving, .cancelled, .withdrawn:
            return
        case .active, .done:
            break
        }
        let scheduled = record.options.scheduleAtMilliseconds.map { $0 > wall } ?? false
        if scheduled { progress.waitingFor = CampaignProgress.Hold.scheduled.rawValue }
        if loop.isPreparing(campaign: record.id) {
            progress.waitingFor = CampaignProgress.Hold.mediaUpload.rawValue
            return
        }
        guard let sender = loop.snapshots().first(where: { $0.id == record.sender }) else { return }
        if sender.paused {
            progress.waitingFor = CampaignProgress.Hold.senderPaused.rawValue
            return
        }
        var others: [DrainEstimate.Campaign] = []
        for id in try journal.campaignsWithQueuedMessages(sender: record.sender) where id != record.id {
            guard let other = try journal.campaign(id), other.state == .active || other.state == .done,
                  other.options.isOpen(atMilliseconds: wall) else { continue }
            let unsent = MessageState.allCases.filter(\.isUnsent).reduce(0) { $0 + other.counts[$1] }
            others.append(DrainEstimate.Campaign(unsent: unsent, priority: other.options.priority))
        }
        let mine = DrainEstimate.Campaign(unsent: progress.unsent, priority: record.options.priority)
        guard var seconds = DrainEstimate.seconds(mine, others: others, messagesPerSecond: sender.effectiveMessagesPerSecond) else { return }
        if scheduled, let start = record.options.scheduleAtMilliseconds { seconds += Double(start - wall) / 1000 }
        // The messaging limit is reached: nothing goes to a new recipient before the window
        // has room again.
        if let until = sender.limitedUntilMilliseconds, until > wall {
            progress.waitingFor = CampaignProgress.Hold.messagingLimit.rawValue
            seconds += Double(until - wall) / 1000
        }
        if sender.endpointError != nil { progress.waitingFor = CampaignProgress.Hold.endpointUnreachable.rawValue }
        progress.etaSeconds = seconds
    }

    /// The owner's pause, resume or cancel (`paused`, `active`, `withdrawn`): journaled,
    /// then applied by the dispatch loop within one loop turn. Returns nil for an unknown
    /// campaign; throws `CampaignStateConflict` for a move its state does not allow.
    public func setCampaignState(_ id: CampaignID, _ state: CampaignState) async throws -> CampaignProgress? {
        precondition([.paused, .active, .withdrawn].contains(state), "owners pause, resume or cancel")
        guard try journal.campaign(id) != nil else { return nil }
        do {
            _ = try await journal.apply([.setCampaignState(id, state)])
        } catch .campaignState(_, let current, let expected) {
            throw CampaignStateConflict(current: current, expected: expected)
        }
        loop.post(.campaignChanged(id, state))
        if state == .withdrawn { await awaitUnsentEnded(id) }
        return try campaignProgress(id)
    }

    /// Longest a cancel's answer waits for what was not sent to end `cancelled`.
    static let cancelAnswerWaitMilliseconds: Int64 = 5_000

    /// Waits until the loop has ended the cancelled campaign's unsent messages (and those
    /// on the wire have their answers), so that the answer shows the counts after the
    /// cancel; a campaign too large to end within the bound answers with what is left.
    private func awaitUnsentEnded(_ id: CampaignID) async {
        let deadline = clock.wallMilliseconds() + Self.cancelAnswerWaitMilliseconds
        while clock.wallMilliseconds() < deadline {
            guard let record = try? journal.campaign(id) else { return }
            if MessageState.allCases.filter(\.isUnsent).allSatisfy({ record.counts[$0] == 0 }) { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A page of campaigns in id order after `after`, only those whose progress state is
    /// `state` when given; `next` is the cursor for the following page (nil at the end).
    /// Scans at most `scanMax` campaigns per call, so a rare state pages in steps.
    public func campaignPage(
        after: CampaignID?, limit: Int, state: String?, label: String? = nil, nameContains: String? = nil, origin: CampaignOrigin? = nil,
        scanMax: Int = 10_000
    ) throws -> (campaigns: [CampaignProgress], next: CampaignID?) {
        let phones = Dictionary(try journal.senders().map { ($0.id, $0.phoneNumberID) }, uniquingKeysWith: { a, _ in a })
        let wall = clock.wallMilliseconds()
        var out: [CampaignProgress] = []
        var cursor = after
        var scanned = 0
        while out.count < limit && scanned < scanMax {
            let want = min(1_000, scanMax - scanned)
            let page = try journal.campaigns(after: cursor, limit: want)
            guard let last = page.last else { return (out, nil) }
            for record in page {
                scanned += 1
                cursor = record.id
                var progress = CampaignProgress(record: record, senderPhoneNumberID: phones[record.sender], wallMilliseconds: wall)
                progress.sendRate = loop.sendRate(campaign: record.id)
                if (state == nil || progress.state == state) && (label == nil || record.options.labels.contains(label!))
                    && (nameContains == nil || record.options.name?.localizedCaseInsensitiveContains(nameContains!) == true)
                    && (origin == nil || record.options.origin == origin)
                {
                    out.append(progress)
                    if out.count == limit { break }
                }
            }
            if page.count < want && cursor == last.id && out.count < limit { return (out, nil) }
        }
        // More may follow: the caller pages on from the last campaign looked at.
        let more = try !journal.campaigns(after: cursor, limit: 1).isEmpty
        return (out, more ? cursor : nil)
    }

    /// The `limit` newest campaigns, newest first, each with its rate and ETA as
    /// `campaignProgress` gives them (the dashboard's list).
    public func newestCampaigns(limit: Int) throws -> [CampaignProgress] {
        let phones = Dictionary(try journal.senders().map { ($0.id, $0.phoneNumberID) }, uniquingKeysWith: { a, _ in a })
        let wall = clock.wallMilliseconds()
        return try journal.newestCampaigns(limit: limit).map { record in
            var progress = CampaignProgress(record: record, senderPhoneNumberID: phones[record.sender], wallMilliseconds: wall)
            progress.sendRate = loop.sendRate(campaign: record.id)
            try estimate(&progress, record: record, wallMilliseconds: wall)
            return progress
        }
    }

    public func message(_ id: MessageID) throws -> MessageRecord? { try journal.message(id) }

    // MARK: Lifecycle

    /// Stops taking new send slots, lets requests on the wire finish (up to the drain
    /// timeout), journals their outcomes, returns unsent messages to the queue and closes
    /// the journal. Idempotent.
    public func shutdown() async {
        guard shutdownState.begin() else { return }
        loop.post(.stop)
        await loop.waitUntilFinished()
        transport.shutdown(drainTimeoutMilliseconds: 1_000)
        journal.close()
        logger.info("dispatcher stopped")
    }
}

/// A pause, resume or cancel that the campaign's state does not allow.
public struct CampaignStateConflict: Error, Sendable, Equatable {
    /// The state as the API shows it (`receiving`, `cancelled`, …).
    public var current: String
    /// The state(s) the move needs.
    public var expected: String
    init(current: CampaignState, expected: String) {
        self.current = current.description
        self.expected = expected
    }
}

private final class ShutdownState: @unchecked Sendable {
    private let lock = NSLock()
    private var begun = false
    func begin() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if begun { return false }
        begun = true
        return true
    }
}
