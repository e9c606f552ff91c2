import Foundation
import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// The one thread that decides what is sent when.
///
/// It owns the `Scheduler` (pacing, fairness, in-flight bounds), pages queued messages in
/// from the journal, hands batches to the transport and turns outcomes into journal
/// transitions. Other threads talk to it only through its mailbox.
///
/// Crash safety: a message is journaled `in_flight` *before* it enters the scheduler, so
/// every message that could be on the wire when the process dies is `in_flight` in the
/// journal and comes back `in_doubt` (never resent blindly). Commit latency stays off the
/// pacing path: pages are committed ahead of their send slots, and the set a crash makes
/// `in_doubt` is bounded by the page size plus the in-flight bound per sender.
final class DispatchLoop: @unchecked Sendable {
    enum Event {
        case sender(SenderRecord)
        /// The journal deleted the sender (it had no live work): forget it.
        case senderDeleted(SenderID)
        /// Sends of the last messaging window, read for senders whose window started
        /// tracking them (`MessagingLimits.configure`); they were held until now.
        case recipientHistory(Set<SenderID>, [Journal.RecipientSend])
        case campaignAvailable(SenderID, CampaignID)
        /// Intake made the campaign active; it comes compiled.
        case campaignCompleted(CampaignID, CampaignBook.Compiled)
        case paged(SenderID, CampaignID, [MessageRecord], exhausted: Bool, generation: UInt64)
        case pageFailed(SenderID, CampaignID, JournalError)
        case due(SenderID, [MessageRecord])
        /// What the transport handed to libcurl and what finished, in one iteration.
        case transport(departed: [TransportDeparture], completions: [TransportCompletion])
        /// The owner paused, resumed or cancelled the campaign (journaled).
        case campaignChanged(CampaignID, CampaignState)
        /// A commit that returned messages of the campaign to the queue is durable.
        case restaged(CampaignID)
        /// Retention removed the campaign and its messages (all final): forget it.
        case campaignRemoved(CampaignID)
        /// The last `endMessages` of the campaign moved a full batch: more may be left.
        case endMore(CampaignID, MessageState)
        /// Send outcomes whose commit failed for the store's sake (disk full): kept to retry.
        case outcomesFailed([MessageTransition])
        /// An outcome commit succeeded (ends a failing episode).
        case outcomesRecorded
        case stop
    }

    struct SenderRuntime {
        var record: SenderRecord
        var url: String
        var snapshot: SenderSnapshot
        /// Sends in a row that could not reach the endpoint (0: it answers).
        var endpointFailures = 0
    }

    struct CampaignKey: Hashable {
        var sender: SenderID
        var campaign: CampaignID
    }

    let configuration: EngineConfiguration
    let journal: Journal
    let clock: any Clock
    /// The transport stamps departures with `CLOCK_MONOTONIC`, `SystemClock`'s pacing clock.
    let usesSystemClock: Bool
    let logger: Logger
    let mailbox = Mailbox<Event>()
    nonisolated(unsafe) var transport: CurlTransport?

    // Owned by the loop thread.
    var scheduler: Scheduler
    /// Connections opened ahead per sender (warm start).
    var warmth: ConnectionWarmth
    var senders: [SenderID: SenderRuntime] = [:]
    var campaigns = CampaignBook()
    struct InFlight {
        var message: MessageRecord
        /// Its admission number at the sender's pacer (departure reports).
        var admission: UInt64
    }

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
    /// Senders held until their recent sends are merged into their window (`loadHistory`).
    var awaitingHistory: Set<SenderID> = []
    /// Deleted senders the scheduler still holds (a request of theirs on the wire).
    var removing: Set<SenderID> = []
    /// Messages journaled `in_flight` and waiting in the scheduler for their slot.
    var staged: [MessageID: SenderID] = [:]
    /// Of those, the ones staged again from `in_doubt` or `retry_at`: a status for an
    /// earlier attempt may settle one before its slot, and then it must not go.
    var resends: Set<MessageID> = []
    var refillsOutstanding: Set<CampaignKey> = []
    var availability: [CampaignKey: UInt64] = [:]
    var dueOutstanding: Set<SenderID> = []
    var nextDueScan = Instant.zero
    var nextSnapshot = Instant.zero
    /// Outcomes waiting for their commit: one commit per `outcomeFlushNanoseconds` instead
    /// of one per transport wakeup (an fsync per message at a smooth 1000 msg/s).
    var pendingOutcomes: [MessageTransition] = []
    var outcomesFlushAt: Instant?
    /// Outcome commits are failing (disk full); logged once per episode.
    var outcomesFailing = false
    /// No page is read before this (a page commit failed).
    var refillsPausedUntil: Instant?
    var stopping = false
    /// Messages sent per campaign and sender since the last snapshot, and their smoothed
    /// rates (the current send rate of progress reports).
    var sentSinceSnapshot: [CampaignID: UInt64] = [:]
    var campaignRates: [CampaignID: Double] = [:]
    var senderRates: [SenderID: Double] = [:]
    var senderSentAtSnapshot: [SenderID: UInt64] = [:]
    var lastSnapshot: Instant?

    // Published for other threads.
    let snapshotLock = NSLock()
    var publishedSnapshots: [SenderSnapshot] = []
    var publishedCampaignRates: [CampaignID: Double] = [:]
    /// Latest the loop woke after a pacing instant it slept until, since the last snapshot.
    var lagMaxNanoseconds: Int64 = 0
    var publishedLagNanoseconds: Int64 = 0
    var publishedLatencyNanoseconds: Int64 = 0
    var publishedCampaignsHeld = 0
    let doneLock = NSLock()
    var finished = false
    var finishWaiters: [CheckedContinuation<Void, Never>] = []

    init(configuration: EngineConfiguration, journal: Journal, clock: any Clock, logger: Logger) {
        self.configuration = configuration
        self.journal = journal
        self.clock = clock
        self.usesSystemClock = clock is SystemClock
        self.logger = logger
        var scheduling = configuration.scheduler
        // Dispatch no more than the connections carry, so messages leave when paced
        // instead of waiting in the transport's queue and leaving together.
        scheduling.inFlightTotalMax = min(scheduling.inFlightTotalMax, configuration.transport.concurrentRequestsMax)
        self.scheduler = Scheduler(configuration: scheduling)
        self.warmth = ConnectionWarmth(
            requestsPerConnection: configuration.transport.httpVersion == .http2 ? TransportConfiguration.streamsPerConnectionMax : 1,
            connectionsMax: configuration.warmStart ? configuration.transport.connectionsPerHostMax : 0)
        self.limits = MessagingLimits(windowMilliseconds: configuration.messagingWindowMilliseconds)
    }

    func post(_ event: Event) { mailbox.post(event) }

    func start(senders records: [SenderRecord]) throws {
        let now = clock.now()
        for record in records {
            install(record, now: now)
            for campaign in try journal.campaignsWithQueuedMessages(sender: record.id) {
                noteAvailable(CampaignKey(sender: record.id, campaign: campaign))
            }
        }
        // Before the first send: the messaging-limit windows as the journal left them.
        limits.merge(try recentSends(of: historyNeeded), nowMilliseconds: clock.wallMilliseconds())
        historyNeeded = []
        let thread = Thread { [self] in run() }
        thread.name = "sluice-dispatch"
        thread.qualityOfService = .userInteractive
        thread.start()
    }

    /// Resolves once the loop has drained and exited.
    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            doneLock.lock()
            if finished {
                doneLock.unlock()
                continuation.resume()
            } else {
                finishWaiters.append(continuation)
                doneLock.unlock()
            }
        }
    }

    /// How late the loop woke for a send it had scheduled (worst in the last ~200 ms).
    /// False once the loop has finished (after shutdown).
    func isRunning() -> Bool {
        doneLock.lock()
        defer { doneLock.unlock() }
        return !finished
    }

    func lagNanoseconds() -> Int64 {
        snapshotLock.lock()
        defer { snapshotLock.unlock() }
        return publishedLagNanoseconds
    }

    /// The endpoint's p99 answer time the in-flight bounds are sized from.
    func latencyNanoseconds() -> Int64 {
        snapshotLock.lock()
        defer { snapshotLock.unlock() }
        return publishedLatencyNanoseconds
    }

    func snapshots() -> [SenderSnapshot] {
        snapshotLock.lock()
        defer { snapshotLock.unlock() }
        return publishedSnapshots
    }

    /// Campaigns the loop and its scheduler hold state for (cached options, paging
    /// cursors); bounded by the campaigns retention keeps.
    func campaignsHeld() -> Int {
        snapshotLock.lock()
        defer { snapshotLock.unlock() }
        return publishedCampaignsHeld
    }

    /// The campaign's messages sent per second, smoothed over about two seconds.
    func sendRate(campaign: CampaignID) -> Double {
        snapshotLock.lock()
        defer { snapshotLock.unlock() }
        return publishedCampaignRates[campaign] ?? 0
    }

    // MARK: - The loop

    func run() {
        var events: [Event] = []
        var batch: [MessageRecord] = []
        batch.reserveCapacity(configuration.scheduler.batchMax)
        var admissions: [UInt64] = []
        admissions.reserveCapacity(configuration.scheduler.batchMax)
        var drainDeadline: Instant?
        while true {
            let now = clock.now()
            var deadline = min(nextDueScan, nextSnapshot)
            var paced: Instant?
            if !stopping, let wake = scheduler.nextWakeup(now: now) {
                deadline = min(deadline, wake)
                paced = wake
            }
            if let drainDeadline { deadline = min(deadline, drainDeadline) }
            if let outcomesFlushAt { deadline = min(deadline, outcomesFlushAt) }
            if !stopping, let timer = campaigns.nextTimerMilliseconds {
                deadline = min(deadline, now + max(0, timer - clock.wallMilliseconds()) * 1_000_000)
            }
            if deadline > now { mailbox.take(waitingUntil: deadline, into: &events) } else { mailbox.take(waitingUntil: now, into: &events) }
            for event in events { handle(event) }
            events.removeAll(keepingCapacity: true)

            let tickTime = clock.now()
            if let paced, tickTime >= paced { lagMaxNanoseconds = max(lagMaxNanoseconds, tickTime - paced) }
            if stopping {
                flushOutcomes()
                if drainDeadline == nil {
                    drainDeadline = tickTime + Int64(configuration.drainTimeoutMilliseconds) * 1_000_000
                }
                let drained = inFlight.isEmpty && refillsOutstanding.isEmpty && dueOutstanding.isEmpty
                if drained || tickTime >= drainDeadline! { break }
                continue
            }
            scheduler.tick(now: tickTime)
            fireCampaignTimers()
            issueRefills()
            if tickTime >= nextDueScan {
                scanDue()
                nextDueScan = tickTime + configuration.dueScanIntervalMilliseconds * 1_000_000
            }
            scheduler.nextBatch(now: tickTime, into: &batch, admissions: &admissions)
            if !batch.isEmpty {
                dispatch(batch, admissions: admissions)
                batch.removeAll(keepingCapacity: true)
                admissions.removeAll(keepingCapacity: true)
            }
            if tickTime >= nextSnapshot {
                publishSnapshots()
                nextSnapshot = tickTime + 200_000_000
            }
            if let at = outcomesFlushAt, tickTime >= at || (!outcomesFailing && pendingOutcomes.count >= Self.outcomesBatchMax) { flushOutcomes() }
        }
        flushOutcomes()
        finish()
    }

    func handle(_ event: Event) {
        let now = clock.now()
        switch event {
        case .sender(let record):
            install(record, now: now)
            releaseHolds(now: now)
            loadHistory()
        case .senderDeleted(let sender):
            forget(sender, now: now)
        case .recipientHistory(let waiting, let sends):
            mergeHistory(waiting, sends, now: now)
        case .campaignAvailable(let sender, let campaign):
            // A sender deleted meanwhile had nothing left to send.
            guard senders[sender] != nil else { return }
            noteAvailable(CampaignKey(sender: sender, campaign: campaign))
        case .campaignCompleted(let campaign, let compiled):
            guard senders[compiled.sender] != nil else { return }
            // An entry read before (a pause that overtook this news) stands, already learnt.
            if campaigns[campaign] == nil { learn(campaign, campaigns.entry(campaign, compiled: compiled, wallMilliseconds: clock.wallMilliseconds())) }
            noteAvailable(CampaignKey(sender: compiled.sender, campaign: campaign))
        case .paged(let sender, let campaign, let messages, let exhausted, let generation):
            let key = CampaignKey(sender: sender, campaign: campaign)
            guard senders[sender] != nil else {
                refillsOutstanding.remove(key)
                return
            }
            refillsOutstanding.remove(key)
            for m in messages { staged[m.id] = sender }
            if stopping {
                restage(messages)
                return
            }
            // Paused, cancelled or expired while the page was read.
            if let status = campaignEntry(campaign)?.status, status != .open {
                route(messages)
                return
            }
            scheduler.refilled(sender: sender, campaign: campaign, messages: messages, exhausted: exhausted, now: now)
            // New intake landed while this page was read: the campaign is not exhausted.
            if exhausted, availability[key, default: 0] != generation { scheduler.noteMoreAvailable(sender: sender, campaign: campaign) }
        case .pageFailed(let sender, let campaign, let error):
            refillsOutstanding.remove(CampaignKey(sender: sender, campaign: campaign))
            if refillsPausedUntil == nil { logger.error("journaling a page of campaign \(campaign) in_flight failed: \(error); paging pauses \(Self.outcomeRetryMilliseconds) ms") }
            // The journal refused a commit (disk full): give it time instead of retrying
            // every loop turn.
            refillsPausedUntil = now + Self.outcomeRetryMilliseconds * 1_000_000
        case .due(let sender, let candidates):
            dueOutstanding.remove(sender)
            guard senders[sender] != nil else { return }
            // Keep only what the transition really moved: a status webhook may have settled
            // an in-doubt message between the read and the commit.
            let messages = candidates.filter { (try? journal.message($0.id))??.state == .inFlight }
            for m in messages {
                staged[m.id] = sender
                resends.insert(m.id)
            }
            if stopping {
                restage(messages)
                return
            }
            route(messages)
        case .transport(let departed, let completions):
            for departure in departed {
                guard let entry = inFlight[departure.tag] else { continue }
                // The transport's stamp is on our clock only when ours is the system's;
                // otherwise now, a little after it left, errs on the safe side.
                let at = usesSystemClock ? min(now, Instant(nanoseconds: departure.monotonicNanoseconds)) : now
                scheduler.departed(sender: entry.message.sender, admission: entry.admission, at: at)
            }
            if !completions.isEmpty { settle(completions, now: now) }
        case .campaignChanged(let id, let state):
            guard let entry = campaignEntry(id) else { return }
            if case .ended = entry.status { return }
            let status: CampaignBook.Status = state == .withdrawn
                ? .ended(.cancelled) : CampaignBook.status(options: entry.options, paused: state == .paused, wallMilliseconds: clock.wallMilliseconds())
            setStatus(id, status)
        case .restaged(let id):
            guard var entry = campaigns[id] else { return }
            entry.restaging -= 1
            let resume = entry.restaging == 0 && entry.availableAfterRestage && entry.status == .open
            if entry.restaging == 0 { entry.availableAfterRestage = false }
            campaigns[id] = entry
            if resume, !stopping { markAvailable(CampaignKey(sender: entry.sender, campaign: id)) }
        case .endMore(let id, let state):
            if !stopping { sweep(id, to: state) }
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
            outcomesFlushAt = clock.now() + Self.outcomeRetryMilliseconds * 1_000_000
        case .stop:
            stopping = true
            // What waits for a slot goes back to the queue: it was never sent.
            var waiting: [MessageRecord] = []
            scheduler.drainQueued(into: &waiting)
            restage(waiting)
        }
    }

    func install(_ record: SenderRecord, now: Instant) {
        let url = configuration.sendURL(phoneNumberID: record.phoneNumberID)
        let previous = senders[record.id]?.snapshot
        let snapshot = SenderSnapshot(
            id: record.id, phoneNumberID: record.phoneNumberID, tierMessagesPerSecond: record.tierMessagesPerSecond,
            effectiveMessagesPerSecond: record.tierMessagesPerSecond, paused: record.paused, pauseReason: record.pauseReason,
            staged: 0, inFlight: 0, sent: previous?.sent ?? 0, failed: previous?.failed ?? 0, retried: previous?.retried ?? 0,
            throttled: previous?.throttled ?? 0, inDoubt: previous?.inDoubt ?? 0, errors: previous?.errors ?? [:])
        senders[record.id] = SenderRuntime(record: record, url: url, snapshot: snapshot)
        if spacings[record.id] == nil { spacings[record.id] = RecipientSpacing(spacingMilliseconds: configuration.pairSpacingMilliseconds) }
        historyNeeded.formUnion(limits.configure(record))
        scheduler.upsertSender(
            record.id, tierMessagesPerSecond: record.tierMessagesPerSecond, burst: Int(record.burst),
            paused: record.paused, now: now)
        warm(record)
    }

    /// Opens ahead the connections the sender's in-flight bound will fill (warm start).
    func warm(_ record: SenderRecord) {
        guard !record.paused, let limit = scheduler.inFlightLimit(sender: record.id) else { return }
        let count = warmth.toOpen(sender: record.id, inFlightLimit: limit)
        guard count > 0 else { return }
        transport?.warm(url: configuration.phoneNumberURL(phoneNumberID: record.phoneNumberID), bearerToken: record.accessToken, connections: count)
    }

    /// The campaign has queued messages in the journal: they page in if it is open.
    func noteAvailable(_ key: CampaignKey) {
        guard let entry = campaignEntry(key.campaign) else {
            // Not in the journal: its messages fail when they come up (`dispatch`).
            markAvailable(key)
            return
        }
        switch entry.status {
        case .open:
            if entry.restaging > 0 { campaigns[key.campaign]!.availableAfterRestage = true } else { markAvailable(key) }
        case .paused, .scheduled:
            break
        case .ended(let state):
            // Left over by a stop in the middle of ending it.
            sweep(key.campaign, to: state)
        }
    }

    func markAvailable(_ key: CampaignKey) {
        availability[key, default: 0] &+= 1
        scheduler.noteMoreAvailable(sender: key.sender, campaign: key.campaign)
    }

    func finish() {
        publishSnapshots()
        if !inFlight.isEmpty {
            logger.warning("\(inFlight.count) request(s) still in flight at shutdown stay in_flight in the journal and recover as in_doubt")
        }
        doneLock.lock()
        finished = true
        let waiters = finishWaiters
        finishWaiters = []
        doneLock.unlock()
        for w in waiters { w.resume() }
    }
}
