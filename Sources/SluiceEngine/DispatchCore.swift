import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// What is sent when, as a state machine: events in (with the time they are handled at),
/// actions out. It owns the `Scheduler` (pacing, fairness, in-flight bounds), decides
/// which pages to read and stage, which messages go, and how each outcome is journaled;
/// it performs no I/O and reads no clock. `DispatchLoop` drives it: its thread, its
/// mailbox, and the effects of the actions (journal, transport).
///
/// Crash safety: a message is journaled `in_flight` *before* it enters the scheduler (a
/// `.stage` action answered by `.paged` or `.due`), so every message that could be on the
/// wire when the process dies is `in_flight` in the journal and comes back `in_doubt`
/// (never resent blindly), unless the departure record shows it never left. Commit
/// latency stays off the pacing path: pages are committed ahead of their send slots.
///
/// Split by concern: campaigns (`+Campaigns`), paging and the due scan (`+Paging`),
/// admission to the transport (`+Sending`), outcomes and back-off (`+Outcomes`), senders
/// (`+Senders`), the published snapshot (`+Snapshots`) and ownership (`+Ownership`); the
/// journal reads it makes are `DispatchLookups`.
struct DispatchCore {
    enum Event {
        case sender(SenderRecord)
        /// The journal deleted the sender (it had no live work): forget it.
        case senderDeleted(SenderID)
        /// Incoming messages per sender, just journaled: their share of the tier.
        case inbound([SenderID: Int])
        /// Mark an incoming message read (`id` names the caller's wait): `.readAnswered`.
        case readReceipt(id: UInt64, SenderID, wamid: String)
        /// Sends of the last messaging window, read for senders whose window started
        /// tracking them (`MessagingLimits.configure`); they were held until now.
        case recipientHistory(Set<SenderID>, [Journal.RecipientSend])
        case campaignAvailable(SenderID, CampaignID)
        /// Intake made the campaign active; it comes compiled.
        case campaignCompleted(CampaignID, CampaignBook.Compiled)
        /// The answer to `.readPage`: queued messages after the cursor (`limit` asked).
        case pageRead(CampaignKey, [MessageRecord], limit: Int, generation: UInt64)
        /// The answer to `.stage(.page)`: the page is journaled `in_flight`.
        case paged(SenderID, CampaignID, [MessageRecord], exhausted: Bool, generation: UInt64)
        /// Reading or staging a page failed.
        case pageFailed(CampaignKey, String)
        /// The answer to `.readDue`: retries and in-doubt messages whose time has come.
        case dueRead(SenderID, [MessageRecord])
        /// The answer to `.stage(.due)`: the due messages are journaled `in_flight`.
        case due(SenderID, [MessageRecord])
        /// What the transport handed to libcurl and what finished, in one iteration.
        case transport(departed: [TransportDeparture], completions: [TransportCompletion])
        /// The owner paused, resumed or cancelled the campaign (journaled).
        case campaignChanged(CampaignID, CampaignState)
        /// A commit that returned messages of the campaign to the queue is durable.
        case restaged(CampaignID)
        /// Retention removed the campaign and its messages (all final): forget it.
        case campaignRemoved(CampaignID)
        /// The last `.endUnsent` of the campaign moved a full batch: more may be left.
        case endMore(CampaignID, MessageState)
        /// Send outcomes whose commit failed for the store's sake (disk full): kept to retry.
        case outcomesFailed([MessageTransition])
        /// An outcome commit succeeded (ends a failing episode).
        case outcomesRecorded
        /// A file has a Meta media id for the sender (journaled): campaigns waiting for it go.
        case mediaUploaded(MediaUpload)
        /// Uploading a file for the sender failed for good (`reason`).
        case mediaUploadFailed(SenderID, String, reason: String)
        /// In a cluster: the senders whose numbers this node holds, each until when it may
        /// send for it (its lease's last renewal plus the safe part of its TTL). Any other
        /// sender is held.
        case ownership([SenderID: Instant])
        /// In a cluster: the fencing token of each number this node holds (the revision its
        /// owner key was created at), written into its requests' callback data.
        case fencing([SenderID: Int64])
        case stop
    }

    /// Effects for the driver, in order. Reads are answered by an event at once; commits
    /// by an event when durable (see `Commit`).
    enum Action {
        /// Read queued messages of the campaign after `after`; answer `.pageRead` or `.pageFailed`.
        case readPage(CampaignKey, after: MessageID?, limit: Int, generation: UInt64)
        /// Read the sender's messages due by `notAfterMilliseconds`; answer `.dueRead`.
        case readDue(SenderID, notAfterMilliseconds: Int64, limit: Int)
        /// Journal the messages `in_flight` (the transitions); answer `.paged`/`.pageFailed`
        /// or `.due`, carrying `messages`.
        case stage(Staging, [MessageTransition], messages: [MessageRecord])
        case commit(Commit)
        case send([OutboundRequest])
        /// Open connections ahead for a sender (warm start).
        case warm(url: String, bearerToken: String, connections: Int)
        /// Read the senders' sends since `sinceMilliseconds` off the loop thread; answer
        /// `.recipientHistory`.
        case readHistory(Set<SenderID>, sinceMilliseconds: Int64)
        case publish(Publication)
        /// A read receipt's outcome, for the caller waiting on `id`.
        case readAnswered(UInt64, ReadReceiptOutcome)
        /// Upload a file of the media volume for the sender; answer `.mediaUploaded` or
        /// `.mediaUploadFailed`.
        case uploadMedia(SenderID, String)
        /// Pause the campaign, journaled with `reason`; answer `.campaignChanged`.
        case pauseCampaign(CampaignID, reason: String)
    }

    enum Staging {
        case page(CampaignKey, exhausted: Bool, generation: UInt64)
        case due(SenderID)
    }

    /// Journal writes and the event each answers with.
    enum Commit {
        /// Send outcomes: `.outcomesRecorded`, or `.outcomesFailed` when the store refused them.
        case outcomes([MessageTransition])
        /// Staged messages of a held campaign back to `queued`: `.restaged(campaign)`.
        case returnToQueue(CampaignID, [MessageTransition])
        /// Due messages of held or ended campaigns: `.restaged` for each held campaign.
        case settleDue(SenderID, [MessageTransition], restaged: Set<CampaignID>)
        /// Never-sent staged messages back to `queued` at shutdown; no answer.
        case restage([MessageTransition])
        /// A batch of the campaign's unsent messages ended: `.endMore` when it was full.
        case endUnsent(CampaignID, MessageState, max: Int, updatedMilliseconds: Int64)
        /// A sender's pause; no answer.
        case sender(SenderRecord)
    }

    /// What other threads read: per-sender snapshots, send rates, loop lag, latency.
    struct Publication {
        var senders: [SenderSnapshot]
        var campaignRates: [CampaignID: Double]
        var lagNanoseconds: Int64
        var latencyNanoseconds: Int64
        var campaignsHeld: Int
        /// Campaigns waiting for a file's upload to their number.
        var campaignsPreparing: Set<CampaignID> = []
    }

    struct SenderRuntime {
        var record: SenderRecord
        var url: String
        var snapshot: SenderSnapshot
        /// Probes in a row that could not reach the endpoint (0: it answers).
        var endpointFailures = 0
        /// The end of the current unreachable backoff: requests that were on the wire
        /// together fail together, and count as one failed probe.
        var unreachableUntil = Instant.zero
        /// Counts the operator's changes (a new token, a PUT that lifts a pause).
        var revision: UInt64 = 0
    }

    struct CampaignKey: Hashable {
        var sender: SenderID
        var campaign: CampaignID
    }

    struct InFlight {
        var message: MessageRecord
        /// Its admission number at the sender's pacer (departure reports).
        var admission: UInt64
        /// The sender's `revision` when it left: an answer to a request sent before the
        /// operator's last change (a revoked token's 190 arriving after the new token)
        /// does not pause the sender again.
        var senderRevision: UInt64
    }

    let configuration: EngineConfiguration
    let lookups: any DispatchLookups
    /// Departure stamps are `CLOCK_MONOTONIC`: on the core's clock only when that is the
    /// system's pacing clock.
    let departuresOnClock: Bool
    let logger: Logger
    var random: SeededGenerator

    /// The time of the event or tick being handled.
    var now = Instant.zero
    var wall: Int64 = 0

    var scheduler: Scheduler
    /// Connections opened ahead per sender (warm start).
    var warmth: ConnectionWarmth
    var senders: [SenderID: SenderRuntime] = [:]
    var campaigns = CampaignBook()
    /// Messages handed to the transport, by tag (the message id).
    var inFlight: [UInt64: InFlight] = [:]
    /// Recent recipients per sender (the pair limit).
    var spacings: [SenderID: RecipientSpacing] = [:]
    /// Unique recipients per sender group (the messaging limit).
    var limits: MessagingLimits
    /// Senders whose messaging window lacks their recent sends (read from the journal).
    var historyNeeded: Set<SenderID> = []
    /// Per sender, when its window has room again (`dispatch` → `holdCapped`).
    var capacityAt: [SenderID: Int64] = [:]
    /// Senders held until their recent sends are merged into their window.
    var awaitingHistory: Set<SenderID> = []
    /// Deleted senders the scheduler still holds (a request of theirs on the wire).
    var removing: Set<SenderID> = []
    /// Messages journaled `in_flight` and waiting in the scheduler for their slot.
    var staged: [MessageID: SenderID] = [:]
    /// Of those, the ones staged again from `in_doubt` or `retry_at`: a status for an
    /// earlier attempt may settle one before its slot, and then it must not go.
    var resends: Set<MessageID> = []
    /// Pages being read or staged.
    var refillsOutstanding: Set<CampaignKey> = []
    /// Bumped each time new messages of the campaign are known to be queued.
    var availability: [CampaignKey: UInt64] = [:]
    var dueOutstanding: Set<SenderID> = []
    var nextDueScan = Instant.zero
    var nextSnapshot = Instant.zero
    /// Outcomes waiting for their commit: one commit per `outcomeFlushMilliseconds` instead
    /// of one per transport wakeup (an fsync per message at a smooth 1000 msg/s).
    var pendingOutcomes: [MessageTransition] = []
    var outcomesFlushAt: Instant?
    /// Outcome commits are failing (disk full); logged once per episode.
    var outcomesFailing = false
    /// No page is read before this (a page read or commit failed).
    var refillsPausedUntil: Instant?
    var stopping = false
    /// When a stopping core gives up on requests still on the wire.
    var drainDeadline: Instant?
    /// The pacing instant the last `nextWake` asked for (the lag it woke with is published).
    var pacedWake: Instant?
    /// Latest the core ran after a pacing instant, since the last snapshot.
    var lagMaxNanoseconds: Int64 = 0
    /// Messages sent per campaign and sender since the last snapshot, and their smoothed
    /// rates (the current send rate of progress reports).
    var sentSinceSnapshot: [CampaignID: UInt64] = [:]
    var campaignRates: [CampaignID: Double] = [:]
    var senderRates: [SenderID: Double] = [:]
    var senderSentAtSnapshot: [SenderID: UInt64] = [:]
    var lastSnapshot: Instant?
    /// Scratch for `admit`, kept to reuse its capacity.
    var batch: [MessageRecord] = []
    var admissions: [UInt64] = []
    var sideSlots: [SideAdmission] = []
    /// Read receipts waiting for their sender's slot, oldest first, and those on the wire by tag.
    /// Uploads asked of the uploader and not answered yet (`DispatchCore+Media`).
    var mediaRequested: Set<MediaNeed> = []
    /// Of those, the ones not yet handed out as `.uploadMedia`.
    var mediaAsked: [MediaNeed] = []
    var nextMediaCheckMilliseconds: Int64 = 0
    var reads: [SenderID: [ReadRequest]] = [:]
    var readsInFlight: [UInt64: ReadInFlight] = [:]
    /// In a cluster (`EngineConfiguration.clustered`): until when each owned sender may
    /// send. Nil outside a cluster: every sender is this node's.
    var ownership: [SenderID: Instant]?
    /// In a cluster: `@<node>:<fencing token>` of each held number (`Event.fencing`), made
    /// once per ownership rather than per request.
    var callbackSuffixes: [SenderID: String] = [:]

    init(
        configuration: EngineConfiguration, lookups: any DispatchLookups, departuresOnClock: Bool, logger: Logger,
        random: SeededGenerator = SeededGenerator(seed: UInt64.random(in: 0...UInt64.max))
    ) {
        self.configuration = configuration
        self.lookups = lookups
        self.departuresOnClock = departuresOnClock
        self.logger = logger
        self.random = random
        var scheduling = configuration.scheduler
        // Dispatch no more than the connections carry, so messages leave when paced
        // instead of waiting in the transport's queue and leaving together.
        scheduling.inFlightTotalMax = min(scheduling.inFlightTotalMax, configuration.transport.concurrentRequestsMax)
        self.scheduler = Scheduler(configuration: scheduling)
        self.warmth = ConnectionWarmth(
            requestsPerConnection: configuration.transport.httpVersion == .http2 ? TransportConfiguration.streamsPerConnectionMax : 1,
            connectionsMax: configuration.warmStart ? configuration.transport.connectionsPerHostMax : 0)
        self.limits = MessagingLimits(windowMilliseconds: configuration.messagingWindowMilliseconds)
        campaigns.failureGuardLimit = configuration.failureGuardMessages
        // Nothing is sent until the cluster says which numbers are this node's.
        if configuration.clustered { ownership = [:] }
        batch.reserveCapacity(configuration.scheduler.batchMax)
        admissions.reserveCapacity(configuration.scheduler.batchMax)
    }

    // MARK: - Time

    /// When the core next has work without an event: a pacing slot, the due scan, a
    /// snapshot, an outcome commit, a campaign's start or expiry, the drain's end.
    mutating func nextWake(now: Instant, wall: Int64) -> Instant {
        pacedWake = nil
        if stopping {
            // Draining: only the drain's end and outcome commits; answers are events.
            var deadline = drainDeadline ?? now
            if let outcomesFlushAt { deadline = min(deadline, outcomesFlushAt) }
            return deadline
        }
        var deadline = min(nextDueScan, nextSnapshot)
        if let wake = scheduler.nextWakeup(now: now) {
            deadline = min(deadline, wake)
            pacedWake = wake
        }
        if let outcomesFlushAt { deadline = min(deadline, outcomesFlushAt) }
        if let timer = campaigns.nextTimerMilliseconds {
            deadline = min(deadline, now + max(0, timer - wall) * 1_000_000)
        }
        if let end = ownershipEnd(after: now) { deadline = min(deadline, end) }
        return deadline
    }

    /// Does what is due at `now`: timers, paging, the due scan, the sends whose slots have
    /// come, snapshots and outcome commits. True once a stopping core has drained (or its
    /// drain timed out): the driver then calls `finish`.
    mutating func tick(now: Instant, wall: Int64, into actions: inout [Action]) -> Bool {
        self.now = now
        self.wall = wall
        if let paced = pacedWake, now >= paced { lagMaxNanoseconds = max(lagMaxNanoseconds, now - paced) }
        pacedWake = nil
        expireOwnership(into: &actions)
        if stopping {
            flushOutcomes(into: &actions)
            if drainDeadline == nil {
                drainDeadline = now + Int64(configuration.drainTimeoutMilliseconds) * 1_000_000
            }
            let drained = inFlight.isEmpty && readsInFlight.isEmpty && refillsOutstanding.isEmpty && dueOutstanding.isEmpty
            return drained || now >= drainDeadline!
        }
        scheduler.tick(now: now)
        expireReads(into: &actions)
        fireCampaignTimers(into: &actions)
        if wall >= nextMediaCheckMilliseconds {
            checkMediaUploads(into: &actions)
            nextMediaCheckMilliseconds = wall + configuration.mediaUploadCheckIntervalMilliseconds
        }
        for need in mediaAsked { actions.append(.uploadMedia(need.sender, need.media)) }
        mediaAsked.removeAll()
        issueRefills(into: &actions)
        if now >= nextDueScan {
            scanDue(into: &actions)
            nextDueScan = now + configuration.dueScanIntervalMilliseconds * 1_000_000
        }
        admit(into: &actions)
        if now >= nextSnapshot {
            actions.append(.publish(publication()))
            nextSnapshot = now + 200_000_000
        }
        if let at = outcomesFlushAt, now >= at || (!outcomesFailing && pendingOutcomes.count >= Self.outcomesBatchMax) {
            flushOutcomes(into: &actions)
        }
        return false
    }

    /// The last commit and snapshot of a stopped core.
    mutating func finish(now: Instant, wall: Int64, into actions: inout [Action]) {
        self.now = now
        self.wall = wall
        flushOutcomes(into: &actions)
        actions.append(.publish(publication()))
        answerAllReads(.stopping, into: &actions)
        for entry in readsInFlight.values { actions.append(.readAnswered(entry.id, .failed("the dispatcher stopped before WhatsApp answered"))) }
        readsInFlight = [:]
        if !inFlight.isEmpty {
            logger.warning("\(inFlight.count) request(s) still in flight at shutdown stay in_flight in the journal and recover as in_doubt")
        }
    }

    // MARK: - Events

    mutating func handle(_ event: Event, now: Instant, wall: Int64, into actions: inout [Action]) {
        self.now = now
        self.wall = wall
        switch event {
        case .sender(let record):
            install(record, into: &actions)
            releaseHolds()
            loadHistory(into: &actions)
        case .senderDeleted(let sender):
            forget(sender)
        case .readReceipt(let id, let sender, let wamid):
            enqueueRead(id: id, sender: sender, wamid: wamid, into: &actions)
        case .mediaUploaded(let upload):
            mediaUploaded(upload, into: &actions)
        case .ownership(let deadlines):
            setOwnership(deadlines, into: &actions)
        case .fencing(let tokens):
            let node = configuration.nodeID ?? ""
            callbackSuffixes = tokens.mapValues { "@\(node):\($0)" }
        case .mediaUploadFailed(let sender, let media, let reason):
            mediaUploadFailed(sender: sender, media: media, reason: reason, into: &actions)
        case .inbound(let counts):
            for (sender, count) in counts where senders[sender] != nil {
                scheduler.noteInbound(sender: sender, count: count, now: now)
            }
        case .recipientHistory(let waiting, let sends):
            mergeHistory(waiting, sends)
        case .campaignAvailable(let sender, let campaign):
            // A sender deleted meanwhile had nothing left to send.
            guard senders[sender] != nil else { return }
            noteAvailable(CampaignKey(sender: sender, campaign: campaign), into: &actions)
        case .campaignCompleted(let campaign, let compiled):
            guard senders[compiled.sender] != nil else { return }
            // An entry read before (a pause that overtook this news) stands, already learnt.
            if campaigns[campaign] == nil {
                if compiled.template.mediaResolved {
                    learn(campaign, campaigns.entry(campaign, compiled: compiled, wallMilliseconds: wall))
                } else {
                    _ = campaignEntry(campaign)  // its files need the number's Meta media ids
                }
            }
            noteAvailable(CampaignKey(sender: compiled.sender, campaign: campaign), into: &actions)
        case .pageRead(let key, let page, let limit, let generation):
            pageRead(key, page, limit: limit, generation: generation, into: &actions)
        case .paged(let sender, let campaign, let messages, let exhausted, let generation):
            paged(CampaignKey(sender: sender, campaign: campaign), messages, exhausted: exhausted, generation: generation, into: &actions)
        case .pageFailed(let key, let reason):
            refillsOutstanding.remove(key)
            if refillsPausedUntil == nil { logger.error("paging campaign \(key.campaign) failed: \(reason); paging pauses \(Self.outcomeRetryMilliseconds) ms") }
            // The journal refused (disk full): give it time instead of retrying every turn.
            refillsPausedUntil = now + Self.outcomeRetryMilliseconds * 1_000_000
        case .dueRead(let sender, let due):
            dueRead(sender, due, into: &actions)
        case .due(let sender, let candidates):
            due(sender, candidates, into: &actions)
        case .transport(let departed, let completions):
            for departure in departed {
                // The transport's stamp is on our clock only when ours is the system's;
                // otherwise now, a little after it left, errs on the safe side.
                let at = departuresOnClock ? min(now, Instant(nanoseconds: departure.monotonicNanoseconds)) : now
                guard let entry = inFlight[departure.tag] else {
                    if departure.tag & Self.readTagBit != 0 { readDeparted(tag: departure.tag, at: at) }
                    continue
                }
                scheduler.departed(sender: entry.message.sender, admission: entry.admission, at: at)
            }
            if !completions.isEmpty { settle(completions, into: &actions) }
        case .campaignChanged(let id, let state):
            guard let entry = campaignEntry(id) else { return }
            if case .ended = entry.status { return }
            let status: CampaignBook.Status = state == .withdrawn
                ? .ended(.cancelled)
                : CampaignBook.status(options: entry.options, paused: state == .paused, mediaMissing: entry.mediaMissing, wallMilliseconds: wall)
            setStatus(id, status, into: &actions)
        case .restaged(let id):
            guard var entry = campaigns[id] else { return }
            entry.restaging -= 1
            let resume = entry.restaging == 0 && entry.availableAfterRestage && entry.status == .open
            if entry.restaging == 0 { entry.availableAfterRestage = false }
            campaigns[id] = entry
            if resume, !stopping { markAvailable(CampaignKey(sender: entry.sender, campaign: id)) }
        case .endMore(let id, let state):
            if !stopping { sweep(id, to: state, into: &actions) }
        case .campaignRemoved(let id):
            if let entry = campaigns.remove(id) { availability[CampaignKey(sender: entry.sender, campaign: id)] = nil }
            var dropped: [MessageRecord] = []
            scheduler.forgetCampaign(id, into: &dropped)
            for m in dropped { unstage(m.id) }
        case .outcomesRecorded:
            if outcomesFailing {
                outcomesFailing = false
                logger.notice("the journal records send outcomes again")
            }
        case .outcomesFailed(let transitions):
            // Retried ahead of newer ones, after a pause: the disk may need time to free.
            if !outcomesFailing {
                outcomesFailing = true
                logger.error("the journal cannot record send outcomes (\(transitions.count) waiting); retrying every \(Self.outcomeRetryMilliseconds) ms until it can")
            }
            pendingOutcomes.insert(contentsOf: transitions, at: 0)
            outcomesFlushAt = now + Self.outcomeRetryMilliseconds * 1_000_000
        case .stop:
            stopping = true
            answerAllReads(.stopping, into: &actions)
            // What waits for a slot goes back to the queue: it was never sent.
            var waiting: [MessageRecord] = []
            scheduler.drainQueued(into: &waiting)
            restage(waiting, into: &actions)
        }
    }

    /// Ends an admission that will not be sent: its pacing slot and in-flight place are
    /// released at once.
    mutating func release(_ message: MessageRecord, admission: UInt64) {
        scheduler.departed(sender: message.sender, admission: admission, at: now)
        scheduler.completed(sender: message.sender, count: 1, now: now)
    }

    mutating func unstage(_ id: MessageID) {
        staged.removeValue(forKey: id)
        resends.remove(id)
    }

    /// Messages ended per commit when a campaign is cancelled or expires.
    static let endBatchMax = 5_000
    /// Most outcomes held for one commit.
    static let outcomesBatchMax = 1024
    /// Pause before outcomes (or a page) whose commit failed are tried again.
    static let outcomeRetryMilliseconds: Int64 = 200
    /// First and longest hold of a sender whose endpoint cannot be reached.
    static let unreachableBackoffMilliseconds: Int64 = 500
    static let unreachableBackoffMaxMilliseconds: Int64 = 30_000
    /// Time constant of the published send rates.
    static let rateSmoothingSeconds = 2.0
}
