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

    private struct SenderRuntime {
        var record: SenderRecord
        var url: String
        var snapshot: SenderSnapshot
        /// Sends in a row that could not reach the endpoint (0: it answers).
        var endpointFailures = 0
    }

    private struct CampaignKey: Hashable {
        var sender: SenderID
        var campaign: CampaignID
    }

    private let configuration: EngineConfiguration
    private let journal: Journal
    private let clock: any Clock
    /// The transport stamps departures with `CLOCK_MONOTONIC`, `SystemClock`'s pacing clock.
    private let usesSystemClock: Bool
    private let logger: Logger
    private let mailbox = Mailbox<Event>()
    nonisolated(unsafe) var transport: CurlTransport?

    // Owned by the loop thread.
    private var scheduler: Scheduler
    /// Connections opened ahead per sender (warm start).
    private var warmth: ConnectionWarmth
    private var senders: [SenderID: SenderRuntime] = [:]
    private var campaigns = CampaignBook()
    private struct InFlight {
        var message: MessageRecord
        /// Its admission number at the sender's pacer (departure reports).
        var admission: UInt64
    }

    /// Messages handed to the transport, by tag (the message id).
    private var inFlight: [UInt64: InFlight] = [:]
    /// Recent recipients per sender (the pair limit).
    private var spacings: [SenderID: RecipientSpacing] = [:]
    /// Unique recipients per sender group (the messaging limit).
    private var limits: MessagingLimits
    /// Senders whose messaging window lacks their recent sends (read from the journal).
    private var historyNeeded: Set<SenderID> = []
    /// Per sender, when its window has room again (`dispatch` → `holdCapped`).
    private var capacityAt: [SenderID: Int64] = [:]
    /// Senders held until their recent sends are merged into their window (`loadHistory`).
    private var awaitingHistory: Set<SenderID> = []
    /// Deleted senders the scheduler still holds (a request of theirs on the wire).
    private var removing: Set<SenderID> = []
    /// Messages journaled `in_flight` and waiting in the scheduler for their slot.
    private var staged: [MessageID: SenderID] = [:]
    /// Of those, the ones staged again from `in_doubt` or `retry_at`: a status for an
    /// earlier attempt may settle one before its slot, and then it must not go.
    private var resends: Set<MessageID> = []
    private var refillsOutstanding: Set<CampaignKey> = []
    private var availability: [CampaignKey: UInt64] = [:]
    private var dueOutstanding: Set<SenderID> = []
    private var nextDueScan = Instant.zero
    private var nextSnapshot = Instant.zero
    /// Outcomes waiting for their commit: one commit per `outcomeFlushNanoseconds` instead
    /// of one per transport wakeup (an fsync per message at a smooth 1000 msg/s).
    private var pendingOutcomes: [MessageTransition] = []
    private var outcomesFlushAt: Instant?
    /// Outcome commits are failing (disk full); logged once per episode.
    private var outcomesFailing = false
    /// No page is read before this (a page commit failed).
    private var refillsPausedUntil: Instant?
    private var stopping = false
    /// Messages sent per campaign and sender since the last snapshot, and their smoothed
    /// rates (the current send rate of progress reports).
    private var sentSinceSnapshot: [CampaignID: UInt64] = [:]
    private var campaignRates: [CampaignID: Double] = [:]
    private var senderRates: [SenderID: Double] = [:]
    private var senderSentAtSnapshot: [SenderID: UInt64] = [:]
    private var lastSnapshot: Instant?

    // Published for other threads.
    private let snapshotLock = NSLock()
    private var publishedSnapshots: [SenderSnapshot] = []
    private var publishedCampaignRates: [CampaignID: Double] = [:]
    /// Latest the loop woke after a pacing instant it slept until, since the last snapshot.
    private var lagMaxNanoseconds: Int64 = 0
    private var publishedLagNanoseconds: Int64 = 0
    private var publishedLatencyNanoseconds: Int64 = 0
    private var publishedCampaignsHeld = 0
    private let doneLock = NSLock()
    private var finished = false
    private var finishWaiters: [CheckedContinuation<Void, Never>] = []

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

    private func run() {
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

    private func handle(_ event: Event) {
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

    private func install(_ record: SenderRecord, now: Instant) {
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
    private func warm(_ record: SenderRecord) {
        guard !record.paused, let limit = scheduler.inFlightLimit(sender: record.id) else { return }
        let count = warmth.toOpen(sender: record.id, inFlightLimit: limit)
        guard count > 0 else { return }
        transport?.warm(url: configuration.phoneNumberURL(phoneNumberID: record.phoneNumberID), bearerToken: record.accessToken, connections: count)
    }

    /// The campaign has queued messages in the journal: they page in if it is open.
    private func noteAvailable(_ key: CampaignKey) {
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

    private func markAvailable(_ key: CampaignKey) {
        availability[key, default: 0] &+= 1
        scheduler.noteMoreAvailable(sender: key.sender, campaign: key.campaign)
    }

    // MARK: Campaigns

    /// The campaign as the loop knows it, read from the journal the first time.
    private func campaignEntry(_ id: CampaignID) -> CampaignBook.Entry? {
        if let entry = campaigns[id] { return entry }
        do {
            guard let entry = try campaigns.entry(id, journal: journal, wallMilliseconds: clock.wallMilliseconds()) else { return nil }
            if senders[entry.sender] != nil {
                if entry.options.priority != .marketing { scheduler.setPriority(sender: entry.sender, campaign: id, entry.options.priority) }
                // What is staged of an at-most-once campaign ends `unknown` after a crash.
                if entry.options.delivery == .atMostOnce { scheduler.stageThinly(sender: entry.sender, campaign: id) }
            }
            return entry
        } catch {
            logger.error("reading campaign \(id) failed: \(error)")
            return nil
        }
    }

    /// Applies a new status to what the loop holds of the campaign: an open one pages
    /// in; a held one's staged messages go back to the queue; an ended one's staged and
    /// queued messages end. Messages on the wire finish as they would have.
    private func setStatus(_ id: CampaignID, _ status: CampaignBook.Status) {
        guard var entry = campaigns[id] else { return }
        entry.status = status
        campaigns[id] = entry
        let key = CampaignKey(sender: entry.sender, campaign: id)
        switch status {
        case .open:
            noteAvailable(key)
        case .paused, .scheduled:
            guard senders[entry.sender] != nil else { return }
            var held: [MessageRecord] = []
            scheduler.removeCampaign(sender: entry.sender, campaign: id, into: &held)
            returnToQueue(held, of: id)
        case .ended(let state):
            if senders[entry.sender] != nil {
                var ended: [MessageRecord] = []
                scheduler.removeCampaign(sender: entry.sender, campaign: id, into: &ended)
                end(ended, as: state)
            }
            sweep(id, to: state)
        }
    }

    /// Starts and expiries that have come.
    private func fireCampaignTimers() {
        guard let next = campaigns.nextTimerMilliseconds else { return }
        let wall = clock.wallMilliseconds()
        guard next <= wall else { return }
        for id in campaigns.dueTimers(wallMilliseconds: wall) {
            guard let entry = campaigns[id] else { continue }
            if case .ended = entry.status { continue }
            let status = CampaignBook.status(options: entry.options, paused: entry.status == .paused, wallMilliseconds: wall)
            if status != entry.status { setStatus(id, status) }
        }
    }

    /// Staged messages (journaled `in_flight`, not on the wire) by their campaign's
    /// status: back into the scheduler, back to the journal's queue, or ended. Put back
    /// at the front last first, so they go in the order given (due ones: oldest first).
    private func route(_ messages: [MessageRecord]) {
        var held: [CampaignID: [MessageRecord]] = [:]
        var ended: [MessageState: [MessageRecord]] = [:]
        for m in messages.reversed() {
            switch campaignEntry(m.campaign)?.status ?? .open {
            case .open: scheduler.requeueFront(m)
            case .paused, .scheduled: held[m.campaign, default: []].append(m)
            case .ended(let state): ended[state, default: []].append(m)
            }
        }
        for (id, list) in held { returnToQueue(list, of: id) }
        for (state, list) in ended { end(list, as: state) }
    }

    /// Journals staged messages of a held campaign back to `queued`; the campaign does
    /// not page in before that commit is durable.
    private func returnToQueue(_ messages: [MessageRecord], of campaign: CampaignID) {
        guard !messages.isEmpty else { return }
        campaigns[campaign]?.restaging += 1
        let wall = clock.wallMilliseconds()
        let transitions = messages.map { MessageTransition(id: $0.id, to: .queued, updatedMilliseconds: wall) }
        for m in messages { unstage(m.id) }
        journal.apply([.transition(transitions)]) { [self, logger] result in
            if case .failure(let error) = result { logger.error("returning messages of campaign \(campaign) to the queue failed: \(error)") }
            post(.restaged(campaign))
        }
    }

    /// Journals staged messages as ended (`cancelled`, `expired`) without sending them.
    private func end(_ messages: [MessageRecord], as state: MessageState) {
        guard !messages.isEmpty else { return }
        let wall = clock.wallMilliseconds()
        for m in messages { unstage(m.id) }
        record(messages.map { MessageTransition(id: $0.id, to: state, updatedMilliseconds: wall) })
    }

    /// Ends the campaign's queued and due messages in the journal, a batch per commit.
    private func sweep(_ id: CampaignID, to state: MessageState) {
        let batch = Self.endBatchMax
        journal.apply([.endMessages(campaign: id, to: state, max: batch, updatedMilliseconds: clock.wallMilliseconds())]) { [self, logger] result in
            switch result {
            case .success(let receipt):
                if case .moved(let n)? = receipt.results.first, n == batch { post(.endMore(id, state)) }
            case .failure(let error):
                logger.error("ending the unsent messages of campaign \(id) failed: \(error); the next start ends them")
            }
        }
    }

    /// Messages ended per commit when a campaign is cancelled or expires.
    static let endBatchMax = 5_000

    // MARK: Paging

    /// Reads the next page of each low campaign queue and journals it `in_flight`; the
    /// scheduler gets it once that commit is durable.
    private func issueRefills() {
        if let until = refillsPausedUntil {
            guard clock.now() >= until else { return }
            refillsPausedUntil = nil
        }
        for request in scheduler.refillRequests() {
            let key = CampaignKey(sender: request.sender, campaign: request.campaign)
            guard !refillsOutstanding.contains(key) else { continue }
            let pageSize = request.limit
            let generation = availability[key, default: 0]
            let page: [MessageRecord]
            do {
                page = try journal.queuedMessages(sender: request.sender, campaign: request.campaign, after: request.after, limit: pageSize)
            } catch {
                logger.error("paging campaign \(request.campaign) failed: \(error)")
                continue
            }
            if page.isEmpty {
                scheduler.refilled(sender: request.sender, campaign: request.campaign, messages: [], exhausted: true, now: clock.now())
                if availability[key, default: 0] != generation { scheduler.noteMoreAvailable(sender: key.sender, campaign: key.campaign) }
                continue
            }
            refillsOutstanding.insert(key)
            let exhausted = page.count < pageSize
            markInFlight(page) { [self] result in
                switch result {
                case .success(let messages):
                    post(.paged(key.sender, key.campaign, messages, exhausted: exhausted, generation: generation))
                case .failure(let error):
                    post(.pageFailed(key.sender, key.campaign, error))
                }
            }
        }
    }

    /// Retries and in-doubt messages whose time has come. Those of an open campaign are
    /// journaled `in_flight` and staged; an in-doubt one of an `at_most_once` campaign
    /// ends `unknown`; those of a held campaign go back to the queue, of an ended one end.
    private func scanDue() {
        let wall = clock.wallMilliseconds()
        for (id, runtime) in senders where !runtime.record.paused && !dueOutstanding.contains(id) {
            // Staged messages are in_flight in the journal, in doubt after a crash: keep the
            // sender's staging bounded (about twice its staging time) however many are due.
            let rate = scheduler.effectiveRate(sender: id) ?? runtime.record.tierMessagesPerSecond
            let stagedMax = 2 * max(configuration.scheduler.pageSize, Int(rate * Double(configuration.scheduler.stagingNanoseconds) / 1e9))
            guard scheduler.queuedCount(sender: id) < stagedMax else { continue }
            do {
                guard let earliest = try journal.earliestDueMilliseconds(sender: id), earliest <= wall else { continue }
                let due = try journal.dueMessages(sender: id, notAfterMilliseconds: wall, limit: configuration.scheduler.pageSize)
                guard !due.isEmpty else { continue }
                var open: [MessageRecord] = []
                var settled: [MessageTransition] = []
                var held: Set<CampaignID> = []
                for m in due {
                    let entry = campaignEntry(m.campaign)
                    switch entry?.status ?? .open {
                    case .open:
                        if m.state == .inDoubt, entry?.options.delivery == .atMostOnce {
                            settled.append(MessageTransition(id: m.id, to: .unknown, updatedMilliseconds: wall, errorMessage: "in doubt and not resent (at_most_once)"))
                        } else {
                            open.append(m)
                        }
                    case .paused, .scheduled:
                        // Through `in_flight`: the only way back to the queue.
                        settled.append(MessageTransition(id: m.id, to: .inFlight, updatedMilliseconds: wall))
                        settled.append(MessageTransition(id: m.id, to: .queued, updatedMilliseconds: wall))
                        held.insert(m.campaign)
                    case .ended(let state):
                        settled.append(MessageTransition(id: m.id, to: state, updatedMilliseconds: wall))
                    }
                }
                for c in held { campaigns[c]?.restaging += 1 }
                dueOutstanding.insert(id)
                if !settled.isEmpty {
                    let restaged = held
                    journal.apply([.transition(settled)]) { [self, logger] result in
                        if case .failure(let error) = result { logger.error("settling due messages of sender \(id) failed: \(error)") }
                        for c in restaged { post(.restaged(c)) }
                    }
                }
                markInFlight(open) { [self] result in
                    switch result {
                    case .success(let messages):
                        post(.due(id, messages))
                    case .failure:
                        post(.due(id, []))
                    }
                }
            } catch {
                logger.error("scanning due messages of sender \(id) failed: \(error)")
            }
        }
    }

    private func markInFlight(_ page: [MessageRecord], completion: @escaping @Sendable (Result<[MessageRecord], JournalError>) -> Void) {
        guard !page.isEmpty else { return completion(.success([])) }
        let wall = clock.wallMilliseconds()
        var transitions: [MessageTransition] = []
        transitions.reserveCapacity(page.count)
        var moved = page
        for i in moved.indices {
            transitions.append(MessageTransition(
                id: moved[i].id, to: .inFlight, attempts: nil, notBeforeMilliseconds: 0,
                updatedMilliseconds: wall, wamid: nil, errorCode: 0, errorMessage: nil))
            moved[i].state = .inFlight
        }
        let result = moved
        journal.apply([.transition(transitions)]) { outcome in
            switch outcome {
            case .success: completion(.success(result))
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }

    /// Journals never-sent staged messages back to `queued` (graceful shutdown).
    private func restage(_ messages: [MessageRecord]) {
        guard !messages.isEmpty else { return }
        let wall = clock.wallMilliseconds()
        let transitions = messages.map {
            MessageTransition(
                id: $0.id, to: .queued, attempts: nil, notBeforeMilliseconds: 0, updatedMilliseconds: wall,
                wamid: nil, errorCode: 0, errorMessage: nil)
        }
        for m in messages { unstage(m.id) }
        applyLogged(transitions, what: "returning unsent messages to the queue")
    }

    // MARK: Sending

    private func unstage(_ id: MessageID) {
        staged.removeValue(forKey: id)
        resends.remove(id)
    }

    private func dispatch(_ batch: [MessageRecord], admissions: [UInt64]) {
        var requests: [OutboundRequest] = []
        requests.reserveCapacity(batch.count)
        var failures: [MessageTransition] = []
        var capped: [MessageRecord] = []
        let wall = clock.wallMilliseconds()
        let now = clock.now()
        var notSent: [MessageRecord] = []
        for (message, admission) in zip(batch, admissions) {
            // Paused, cancelled or expired since it was staged: its slot goes unused.
            // One lookup per message: its status here, its compiled message below.
            let entry = campaignEntry(message.campaign)
            if let entry, entry.status != .open || !entry.options.isOpen(atMilliseconds: wall) {
                scheduler.departed(sender: message.sender, admission: admission, at: now)
                scheduler.completed(sender: message.sender, count: 1)
                notSent.append(message)
                continue
            }
            let resend = !resends.isEmpty && resends.contains(message.id)
            unstage(message.id)
            // A resend a status webhook settled while it waited for this slot: it was sent
            // after all. One journal read, for resends only.
            if resend, let state = (try? journal.message(message.id))??.state, state != .inFlight {
                scheduler.departed(sender: message.sender, admission: admission, at: now)
                scheduler.completed(sender: message.sender, count: 1)
                continue
            }
            // The messaging limit: a new recipient over the group's cap waits, still
            // `in_flight` in the journal, no attempt used; its sender is held until the
            // window has room (`holdCapped`).
            if limits.isActive, let until = limits.admit(sender: message.sender, recipient: message.to, nowMilliseconds: wall) {
                scheduler.departed(sender: message.sender, admission: admission, at: now)
                scheduler.completed(sender: message.sender, count: 1, now: now)
                capped.append(message)
                capacityAt[message.sender] = until
                continue
            }
            // The pair limit: a recipient sent to within the spacing waits as retry_at
            // until it ends; no attempt is used and WhatsApp never sees a 131056. Mutated
            // in place in its own table: a copy of it alive here would make every admit
            // copy the whole recent-recipient map.
            if let notBefore = spacings[message.sender]?.admit(message.to, message: message.id.rawValue, nowMilliseconds: wall) {
                scheduler.departed(sender: message.sender, admission: admission, at: now)
                scheduler.completed(sender: message.sender, count: 1)
                failures.append(MessageTransition(
                    id: message.id, to: .retryAt, attempts: nil, notBeforeMilliseconds: notBefore,
                    updatedMilliseconds: wall, wamid: nil, errorCode: 0,
                    errorMessage: "waiting: sent to the same recipient less than \(configuration.pairSpacingMilliseconds) ms ago (pair limit)"))
                continue
            }
            guard let runtime = senders[message.sender] else {
                preconditionFailure("message \(message.id) of unknown sender \(message.sender)")
            }
            guard let template = entry?.template else {
                scheduler.departed(sender: message.sender, admission: admission, at: now)
                scheduler.completed(sender: message.sender, count: 1)
                failures.append(MessageTransition(
                    id: message.id, to: .failed, attempts: message.attempts, notBeforeMilliseconds: 0,
                    updatedMilliseconds: wall, wamid: nil, errorCode: -1,
                    errorMessage: entry?.broken ?? "campaign \(message.campaign) is missing from the journal"))
                continue
            }
            var body: [UInt8] = []
            body.reserveCapacity(512)
            template.render(to: message.to, params: message.params, callbackData: message.id.description, into: &body)
            inFlight[message.id.rawValue] = InFlight(message: message, admission: admission)
            requests.append(OutboundRequest(tag: message.id.rawValue, url: runtime.url, bearerToken: runtime.record.accessToken, body: body))
        }
        if !failures.isEmpty { record(failures) }
        if !requests.isEmpty { transport?.send(requests) }
        if !capped.isEmpty { holdCapped(capped, wall: wall, now: now) }
        if !notSent.isEmpty {
            for m in notSent {
                // An expiry the timer has not fired yet: end the campaign now.
                if let entry = campaigns[m.campaign], entry.status == .open, !entry.options.isOpen(atMilliseconds: wall) {
                    setStatus(m.campaign, CampaignBook.status(options: entry.options, paused: false, wallMilliseconds: wall))
                }
            }
            route(notSent)
        }
    }

    // MARK: Outcomes

    private func settle(_ completions: [TransportCompletion], now: Instant) {
        let wall = clock.wallMilliseconds()
        var transitions: [MessageTransition] = []
        transitions.reserveCapacity(completions.count)
        var pausedSenders: [SenderID: String] = [:]
        var unreachable: [SenderID: String] = [:]
        var reached: Set<SenderID> = []
        for completion in completions {
            guard let entry = inFlight.removeValue(forKey: completion.tag) else {
                assertionFailure("completion for a message that is not in flight: \(completion.tag)")
                continue
            }
            let message = entry.message
            // Refused before libcurl had it: no departure report came.
            scheduler.departed(sender: message.sender, admission: entry.admission, at: now)
            scheduler.completed(sender: message.sender, count: 1, now: now)
            let attempts = message.attempts &+ 1
            // A local generator: an inout access to an empty stored property crashes the thread
            // sanitizer (it instruments a meaningless address).
            var rng = SystemRandomNumberGenerator()
            let decision = configuration.outcome.decide(completion.result, attempts: attempts, using: &rng)
            if let label = Self.errorLabel(completion.result) { senders[message.sender]?.snapshot.errors[label, default: 0] += 1 }
            switch decision.sender {
            case .none: break
            case .throttle:
                scheduler.throttled(sender: message.sender, now: now)
                senders[message.sender]?.snapshot.throttled += 1
            case .pause(let reason):
                pausedSenders[message.sender] = reason
            case .backoff(let reason):
                unreachable[message.sender] = reason
            }
            switch completion.result {
            case .notSent, .untrusted: break
            case .accepted, .rejected, .httpError:
                reached.insert(message.sender)
                // An answer: how long the endpoint takes sizes how much may be in flight.
                scheduler.answered(latencyNanoseconds: completion.answerNanoseconds, now: now)
            case .inDoubt: reached.insert(message.sender)
            }
            switch decision.message {
            case .sent(let wamid):
                senders[message.sender]?.snapshot.sent += 1
                sentSinceSnapshot[message.campaign, default: 0] += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .sent, attempts: attempts, notBeforeMilliseconds: 0,
                    updatedMilliseconds: wall, wamid: wamid, errorCode: 0, errorMessage: nil))
            case .requeue:
                // Not sent (throttled or the sender is paused): still `in_flight` in the
                // journal, back at the head of its queue in memory, no attempt used.
                staged[message.id] = message.sender
                if stopping { restage([message]) } else { route([message]) }
            case .retry(let after):
                senders[message.sender]?.snapshot.retried += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .retryAt, attempts: attempts, notBeforeMilliseconds: wall + after,
                    updatedMilliseconds: wall, wamid: nil, errorCode: errorCode(completion.result),
                    errorMessage: errorText(completion.result)))
            case .fail(let code, let text):
                senders[message.sender]?.snapshot.failed += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .failed, attempts: attempts, notBeforeMilliseconds: 0,
                    updatedMilliseconds: wall, wamid: nil, errorCode: code, errorMessage: text))
            case .inDoubt(let settle):
                senders[message.sender]?.snapshot.inDoubt += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .inDoubt, attempts: attempts, notBeforeMilliseconds: wall + settle,
                    updatedMilliseconds: wall, wamid: nil, errorCode: 0, errorMessage: errorText(completion.result)))
            }
        }
        if !transitions.isEmpty { record(transitions) }
        for (sender, reason) in pausedSenders { pause(sender, reason: reason) }
        for sender in reached where unreachable[sender] == nil { endpointReached(sender) }
        for (sender, reason) in unreachable { endpointUnreachable(sender, reason: reason, now: now) }
    }

    /// The endpoint could not be reached for the sender (connect, DNS, TLS handshake): its
    /// messages wait, and it probes again after a backoff that doubles up to
    /// `unreachableBackoffMaxMilliseconds`, with jitter.
    private func endpointUnreachable(_ sender: SenderID, reason: String, now: Instant) {
        guard var runtime = senders[sender] else { return }
        let failures = runtime.endpointFailures
        runtime.endpointFailures += 1
        if failures == 0 {
            logger.warning("the endpoint of sender \(runtime.record.phoneNumberID) cannot be reached (\(reason)); its messages wait and it retries with backoff")
        }
        runtime.snapshot.endpointError = reason
        senders[sender] = runtime
        let base = min(Self.unreachableBackoffMaxMilliseconds, Self.unreachableBackoffMilliseconds << min(failures, 16))
        var rng = SystemRandomNumberGenerator()
        let delay = base / 2 + Int64.random(in: 0...(base / 2), using: &rng)
        scheduler.hold(sender, until: now + delay * 1_000_000)
    }

    private func endpointReached(_ sender: SenderID) {
        guard var runtime = senders[sender], runtime.endpointFailures > 0 else { return }
        logger.notice("the endpoint of sender \(runtime.record.phoneNumberID) answers again after \(runtime.endpointFailures) failed attempt(s)")
        runtime.endpointFailures = 0
        runtime.snapshot.endpointError = nil
        senders[sender] = runtime
    }

    private func pause(_ sender: SenderID, reason: String) {
        guard var runtime = senders[sender], !runtime.record.paused else { return }
        logger.warning("pausing sender \(runtime.record.phoneNumberID): \(reason)")
        runtime.record.paused = true
        runtime.record.pauseReason = reason
        runtime.snapshot.paused = true
        runtime.snapshot.pauseReason = reason
        senders[sender] = runtime
        scheduler.pause(sender)
        let record = runtime.record
        journal.apply([.putSender(record)]) { [logger] result in
            if case .failure(let error) = result { logger.error("journaling the pause of \(record.phoneNumberID) failed: \(error)") }
        }
    }

    /// First and longest hold of a sender whose endpoint cannot be reached.
    static let unreachableBackoffMilliseconds: Int64 = 500
    static let unreachableBackoffMaxMilliseconds: Int64 = 30_000

    /// Time constant of the published send rates.
    static let rateSmoothingSeconds = 2.0

    /// Most outcomes held for one commit.
    static let outcomesBatchMax = 1024

    /// Queues outcomes for the next group commit. A crash before it leaves these messages
    /// `in_flight`, so they recover `in_doubt`, as if the process had died a moment sooner.
    private func record(_ transitions: [MessageTransition]) {
        if pendingOutcomes.isEmpty {
            outcomesFlushAt = clock.now() + configuration.outcomeFlushMilliseconds * 1_000_000
        }
        pendingOutcomes.append(contentsOf: transitions)
    }

    /// Commits the pending outcomes. A commit that fails for the store's sake (disk full)
    /// hands them back to be retried: the loop never forgets an outcome it could not
    /// record, so a message that went is not resent once the disk has room again.
    private func flushOutcomes() {
        outcomesFlushAt = nil
        guard !pendingOutcomes.isEmpty else { return }
        let batch = pendingOutcomes
        pendingOutcomes.removeAll(keepingCapacity: true)
        journal.apply([.transition(batch)]) { [self, logger] result in
            switch result {
            case .success(let receipt):
                if case .transitions(_, let rejected)? = receipt.results.first, rejected > 0 {
                    logger.warning("recording send outcomes: the journal rejected \(rejected) transition(s)")
                }
                post(.outcomesRecorded)
            case .failure(let error) where error.isTransient:
                post(.outcomesFailed(batch))
            case .failure(let error):
                logger.error("recording send outcomes failed: \(error)")
            }
        }
    }

    /// Pause before outcomes whose commit failed are tried again.
    static let outcomeRetryMilliseconds: Int64 = 200

    private func applyLogged(_ transitions: [MessageTransition], what: String) {
        journal.apply([.transition(transitions)]) { [logger] result in
            switch result {
            case .success(let receipt):
                if case .transitions(_, let rejected)? = receipt.results.first, rejected > 0 {
                    logger.warning("\(what): the journal rejected \(rejected) transition(s)")
                }
            case .failure(let error):
                logger.error("\(what) failed: \(error)")
            }
        }
    }

    private func errorCode(_ result: SendResult) -> Int32 {
        switch result {
        case .rejected(_, let code, _): Int32(truncatingIfNeeded: code)
        case .httpError(let status): Int32(status)
        default: 0
        }
    }

    /// The metrics label of an unsuccessful outcome; nil for an accepted send.
    static func errorLabel(_ result: SendResult) -> String? {
        switch result {
        case .accepted: nil
        case .rejected(_, let code, _): String(code)
        case .httpError(let status): "http_\(status)"
        case .notSent: "not_sent"
        case .untrusted: "untrusted"
        case .inDoubt: "in_doubt"
        }
    }

    private func errorText(_ result: SendResult) -> String? {
        switch result {
        case .rejected(let status, let code, let message): "HTTP \(status), error \(code): \(message)"
        case .httpError(let status): "HTTP \(status)"
        case .notSent(let reason), .inDoubt(let reason), .untrusted(let reason): reason
        case .accepted: nil
        }
    }

    private func publishSnapshots() {
        if !removing.isEmpty { removeIdle() }
        let now = clock.now()
        let seconds = lastSnapshot.map { Double(now - $0) / 1e9 } ?? 0
        lastSnapshot = now
        // Exponential smoothing over about `rateSmoothingSeconds`.
        let alpha = seconds > 0 ? 1 - exp(-seconds / Self.rateSmoothingSeconds) : 0
        if seconds > 0 {
            for id in Set(campaignRates.keys).union(sentSinceSnapshot.keys) {
                let current = Double(sentSinceSnapshot[id] ?? 0) / seconds
                let rate = (campaignRates[id] ?? 0) + alpha * (current - (campaignRates[id] ?? 0))
                campaignRates[id] = rate < 0.01 && sentSinceSnapshot[id] == nil ? nil : rate
            }
        }
        sentSinceSnapshot.removeAll(keepingCapacity: true)
        var list: [SenderSnapshot] = []
        list.reserveCapacity(senders.count)
        let wall = clock.wallMilliseconds()
        for (id, runtime) in senders {
            var s = runtime.snapshot
            if seconds > 0 {
                let current = Double(s.sent &- (senderSentAtSnapshot[id] ?? s.sent)) / seconds
                senderRates[id, default: 0] += alpha * (current - senderRates[id, default: 0])
            }
            senderSentAtSnapshot[id] = s.sent
            s.sendRate = senderRates[id] ?? 0
            s.effectiveMessagesPerSecond = scheduler.effectiveRate(sender: id) ?? s.tierMessagesPerSecond
            s.staged = scheduler.queuedCount(sender: id)
            s.inFlight = scheduler.inFlightCount(sender: id)
            s.inFlightLimit = scheduler.inFlightLimit(sender: id) ?? 0
            let limit = limits.status(id, nowMilliseconds: wall)
            s.messagingLimit = limit.limit
            s.uniqueRecipients24h = limit.unique
            s.limitedUntilMilliseconds = limit.limitedUntil
            list.append(s)
        }
        list.sort { $0.id < $1.id }
        snapshotLock.lock()
        publishedSnapshots = list
        publishedCampaignRates = campaignRates
        publishedLagNanoseconds = lagMaxNanoseconds
        publishedLatencyNanoseconds = scheduler.budget.latencyNanoseconds
        // The scheduler keeps state only for campaigns the book has loaded.
        publishedCampaignsHeld = campaigns.entries.count
        snapshotLock.unlock()
        lagMaxNanoseconds = 0
    }

    // MARK: Senders: deletion and the messaging limit

    /// Removes a deleted sender. The journal refused the deletion while any message of it
    /// was queued, in flight or due, so the scheduler holds nothing of it.
    private func forget(_ sender: SenderID, now: Instant) {
        guard senders.removeValue(forKey: sender) != nil else { return }
        warmth.forget(sender)
        spacings[sender] = nil
        limits.remove(sender)
        historyNeeded.remove(sender)
        awaitingHistory.remove(sender)
        availability = availability.filter { $0.key.sender != sender }
        // A status webhook may have settled a message whose request is still on the wire:
        // the scheduler keeps the sender, paused, until that completes.
        scheduler.pause(sender)
        removing.insert(sender)
        removeIdle()
    }

    /// Removes deleted senders from the scheduler once nothing of them is in flight. One
    /// with staged messages (the journal holds them `in_flight`, so it refused the
    /// deletion: not expected) stays in it, paused, rather than lose them.
    private func removeIdle() {
        for sender in removing where scheduler.inFlightCount(sender: sender) == 0 {
            removing.remove(sender)
            if scheduler.queuedCount(sender: sender) > 0 {
                logger.error("deleted sender \(sender) still has \(scheduler.queuedCount(sender: sender)) staged message(s); kept paused")
                continue
            }
            scheduler.removeSender(sender, now: clock.now())
        }
    }

    /// Puts capped messages back at the head of their queues (in their order) and holds
    /// each sender until its window has room: no pacing slot is spent on them meanwhile.
    private func holdCapped(_ capped: [MessageRecord], wall: Int64, now: Instant) {
        for message in capped.reversed() {
            staged[message.id] = message.sender
            scheduler.requeueFront(message)
        }
        for (sender, until) in capacityAt {
            scheduler.hold(sender, until: now + max(0, until - wall) * 1_000_000)
        }
        capacityAt.removeAll(keepingCapacity: true)
    }

    /// A sender's limit or group changed, or a pause was lifted: senders held for a full
    /// window dispatch again, and are held anew if it is still full. O(senders), per PUT.
    private func releaseHolds(now: Instant) {
        for id in senders.keys where !awaitingHistory.contains(id) {
            if let held = scheduler.heldUntil(sender: id), held > now { scheduler.hold(id, until: now) }
        }
    }

    /// Reads the recent sends of `historyNeeded` off this thread and holds those senders
    /// until they are merged (`recipientHistory`).
    private func loadHistory() {
        guard !historyNeeded.isEmpty else { return }
        let waiting = historyNeeded
        historyNeeded = []
        awaitingHistory.formUnion(waiting)
        for sender in waiting { scheduler.hold(sender, until: .never) }
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            do {
                post(.recipientHistory(waiting, try recentSends(of: waiting)))
            } catch {
                logger.error("reading the recent recipients of sender(s) \(waiting.sorted()) failed: \(error); their messaging-limit window starts empty")
                post(.recipientHistory(waiting, []))
            }
        }
    }

    private func mergeHistory(_ waiting: Set<SenderID>, _ sends: [Journal.RecipientSend], now: Instant) {
        limits.merge(sends, nowMilliseconds: clock.wallMilliseconds())
        awaitingHistory.subtract(waiting)
        for sender in waiting where senders[sender] != nil { scheduler.hold(sender, until: now) }
    }

    /// Every send of `of` within the last messaging window, from the journal.
    private func recentSends(of: Set<SenderID>) throws -> [Journal.RecipientSend] {
        guard !of.isEmpty else { return [] }
        let since = clock.wallMilliseconds() - configuration.messagingWindowMilliseconds
        var sends: [Journal.RecipientSend] = []
        var after: MessageID?
        repeat {
            let page = try journal.recentRecipients(of: of, sinceMilliseconds: since, after: after, scanMax: Self.historyScanPage)
            sends += page.sends
            after = page.resume
        } while after != nil
        return sends
    }

    /// Message headers per read transaction while rebuilding messaging windows.
    static let historyScanPage = 65_536

    private func finish() {
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
