import Foundation
import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// Drives the `DispatchCore`: the one thread that owns it, its mailbox, and the effects of
/// its actions (journal reads and commits, the transport). Other threads talk to it only
/// through `post` and read what it publishes.
final class DispatchLoop: @unchecked Sendable {
    typealias Event = DispatchCore.Event

    let journal: Journal
    let clock: any Clock
    let logger: Logger
    let mailbox = Mailbox<Event>()
    nonisolated(unsafe) var transport: CurlTransport?

    /// Owned by the loop thread (and by `start`, before the thread runs).
    var core: DispatchCore

    // Published for other threads.
    let snapshotLock = NSLock()
    var published = DispatchCore.Publication(senders: [], campaignRates: [:], lagNanoseconds: 0, latencyNanoseconds: 0, campaignsHeld: 0)
    let doneLock = NSLock()
    var finished = false
    var finishWaiters: [CheckedContinuation<Void, Never>] = []
    /// Callers waiting for their read receipt's outcome, by request id.
    let readWaits = Locked<[UInt64: CheckedContinuation<ReadReceiptOutcome, Never>]>([:])
    let readIDs = Locked<UInt64>(0)
    /// Files to upload for a number, for `MediaUploader`.
    let mediaUploads: AsyncStream<MediaUploadRequest>.Continuation
    let mediaUploadRequests: AsyncStream<MediaUploadRequest>

    init(configuration: EngineConfiguration, journal: Journal, clock: any Clock, logger: Logger) {
        self.journal = journal
        self.clock = clock
        self.logger = logger
        (mediaUploadRequests, mediaUploads) = AsyncStream.makeStream(of: MediaUploadRequest.self)
        // The transport stamps departures with `CLOCK_MONOTONIC`, `SystemClock`'s pacing clock.
        core = DispatchCore(configuration: configuration, lookups: journal, departuresOnClock: clock is SystemClock, logger: logger)
    }

    func post(_ event: Event) { mailbox.post(event) }

    /// Marks an incoming message read at WhatsApp in one of the sender's pacing slots;
    /// returns WhatsApp's answer.
    func markRead(sender: SenderID, wamid: String) async -> ReadReceiptOutcome {
        let id = readIDs.withLock { n -> UInt64 in
            n += 1
            return n
        }
        return await withCheckedContinuation { continuation in
            doneLock.lock()
            let over = finished
            if !over { readWaits.withLock { $0[id] = continuation } }
            doneLock.unlock()
            if over { return continuation.resume(returning: .stopping) }
            post(.readReceipt(id: id, sender, wamid: wamid))
        }
    }

    func start(senders records: [SenderRecord]) throws {
        var actions: [DispatchCore.Action] = []
        let history = core.start(records, now: clock.now(), wall: clock.wallMilliseconds(), into: &actions)
        for record in records {
            for campaign in try journal.campaignsWithQueuedMessages(sender: record.id) {
                core.handle(.campaignAvailable(record.id, campaign), now: clock.now(), wall: clock.wallMilliseconds(), into: &actions)
            }
        }
        // Before the first send: the messaging-limit windows as the journal left them.
        core.startHistory(try recentSends(of: history.senders, since: history.sinceMilliseconds))
        perform(&actions)
        let thread = Thread { [self] in run() }
        thread.name = "sluice-dispatch"
        thread.qualityOfService = .userInteractive
        thread.start()
    }

    // MARK: - The loop

    func run() {
        var events: [Event] = []
        var actions: [DispatchCore.Action] = []
        actions.reserveCapacity(16)
        while true {
            let wake = core.nextWake(now: clock.now(), wall: clock.wallMilliseconds())
            mailbox.take(waitingUntil: max(wake, clock.now()), into: &events)
            for event in events {
                core.handle(event, now: clock.now(), wall: clock.wallMilliseconds(), into: &actions)
                perform(&actions)
            }
            events.removeAll(keepingCapacity: true)
            let drained = core.tick(now: clock.now(), wall: clock.wallMilliseconds(), into: &actions)
            perform(&actions)
            if drained { break }
        }
        core.finish(now: clock.now(), wall: clock.wallMilliseconds(), into: &actions)
        perform(&actions)
        doneLock.lock()
        finished = true
        mediaUploads.finish()
        let waiters = finishWaiters
        finishWaiters = []
        doneLock.unlock()
        for w in waiters { w.resume() }
        // Posted after the core's last look at its mailbox.
        let stranded = readWaits.withLock { waits -> [CheckedContinuation<ReadReceiptOutcome, Never>] in
            defer { waits = [:] }
            return Array(waits.values)
        }
        for w in stranded { w.resume(returning: ReadReceiptOutcome.stopping) }
    }

    /// Carries out the actions in order. A read is answered at once (its answer may add
    /// actions, carried out in turn); a commit answers through the mailbox.
    func perform(_ actions: inout [DispatchCore.Action]) {
        var i = 0
        while i < actions.count {
            let action = actions[i]
            i += 1
            switch action {
            case .readPage(let key, let after, let limit, let generation):
                let answer: Event
                do {
                    let page = try journal.queuedMessages(sender: key.sender, campaign: key.campaign, after: after, limit: limit)
                    answer = .pageRead(key, page, limit: limit, generation: generation)
                } catch {
                    answer = .pageFailed(key, "reading a page: \(error)")
                }
                core.handle(answer, now: clock.now(), wall: clock.wallMilliseconds(), into: &actions)
            case .readDue(let sender, let notAfter, let limit):
                var due: [MessageRecord] = []
                do {
                    if let earliest = try journal.earliestDueMilliseconds(sender: sender), earliest <= notAfter {
                        due = try journal.dueMessages(sender: sender, notAfterMilliseconds: notAfter, limit: limit)
                    }
                } catch {
                    logger.error("scanning due messages of sender \(sender) failed: \(error)")
                }
                core.handle(.dueRead(sender, due), now: clock.now(), wall: clock.wallMilliseconds(), into: &actions)
            case .stage(let staging, let transitions, let messages):
                stage(staging, transitions, messages)
            case .commit(let commit):
                self.commit(commit)
            case .send(let requests):
                transport?.send(requests)
            case .readAnswered(let id, let outcome):
                readWaits.withLock { $0.removeValue(forKey: id) }?.resume(returning: outcome)
            case .uploadMedia(let sender, let media):
                mediaUploads.yield(MediaUploadRequest(sender: sender, media: media))
            case .pauseCampaign(let id, let reason):
                journal.apply([.setCampaignState(id, .paused, reason: reason)]) { [self] result in
                    switch result {
                    case .success: post(.campaignChanged(id, .paused))
                    case .failure(let error): logger.error("pausing campaign \(id) (\(reason)) failed: \(error)")
                    }
                }
            case .warm(let url, let bearerToken, let connections):
                transport?.warm(url: url, bearerToken: bearerToken, connections: connections)
            case .readHistory(let senders, let since):
                DispatchQueue.global(qos: .userInitiated).async { [self] in
                    do {
                        post(.recipientHistory(senders, try recentSends(of: senders, since: since)))
                    } catch {
                        logger.error("reading the recent recipients of sender(s) \(senders.sorted()) failed: \(error); their messaging-limit window starts empty")
                        post(.recipientHistory(senders, []))
                    }
                }
            case .publish(let publication):
                snapshotLock.lock()
                published = publication
                snapshotLock.unlock()
            }
        }
        actions.removeAll(keepingCapacity: true)
    }

    func stage(_ staging: DispatchCore.Staging, _ transitions: [MessageTransition], _ messages: [MessageRecord]) {
        journal.apply([.transition(transitions)]) { [self] result in
            switch (staging, result) {
            case (.page(let key, let exhausted, let generation), .success(let receipt)):
                post(.paged(key.sender, key.campaign, Self.staged(messages, receipt), exhausted: exhausted, generation: generation))
            case (.page(let key, _, _), .failure(let error)):
                post(.pageFailed(key, "journaling a page in_flight: \(error)"))
            case (.due(let sender), .success(let receipt)):
                post(.due(sender, Self.staged(messages, receipt)))
            case (.due(let sender), .failure(let error)):
                logger.error("journaling due messages of sender \(sender) in_flight failed: \(error)")
                post(.due(sender, []))
            }
        }
    }

    func commit(_ commit: DispatchCore.Commit) {
        switch commit {
        case .outcomes(let batch):
            journal.apply([.transition(batch)]) { [self] result in
                switch result {
                case .success(let receipt):
                    warnRejected(receipt, "recording send outcomes")
                    post(.outcomesRecorded)
                case .failure(let error) where error.isTransient:
                    post(.outcomesFailed(batch))
                case .failure(let error):
                    logger.error("recording send outcomes failed: \(error)")
                }
            }
        case .returnToQueue(let campaign, let transitions):
            journal.apply([.transition(transitions)]) { [self] result in
                if case .failure(let error) = result { logger.error("returning messages of campaign \(campaign) to the queue failed: \(error)") }
                post(.restaged(campaign))
            }
        case .settleDue(let sender, let transitions, let restaged):
            journal.apply([.transition(transitions)]) { [self] result in
                if case .failure(let error) = result { logger.error("settling due messages of sender \(sender) failed: \(error)") }
                for c in restaged { post(.restaged(c)) }
            }
        case .restage(let transitions):
            journal.apply([.transition(transitions)]) { [self] result in
                switch result {
                case .success(let receipt): warnRejected(receipt, "returning unsent messages to the queue")
                case .failure(let error): logger.error("returning unsent messages to the queue failed: \(error)")
                }
            }
        case .endUnsent(let id, let state, let max, let wall):
            journal.apply([.endMessages(campaign: id, to: state, max: max, updatedMilliseconds: wall)]) { [self] result in
                switch result {
                case .success(let receipt):
                    if case .moved(let n)? = receipt.results.first, n == max { post(.endMore(id, state)) }
                case .failure(let error):
                    logger.error("ending the unsent messages of campaign \(id) failed: \(error); the next start ends them")
                }
            }
        case .sender(let record):
            journal.apply([.putSender(record)]) { [logger] result in
                if case .failure(let error) = result { logger.error("journaling the pause of \(record.phoneNumberID) failed: \(error)") }
            }
        }
    }

    /// The messages the journal moved to `in_flight`: one whose state changed after it was
    /// read (a status settled an in-doubt message, its campaign was cancelled or expired)
    /// stays as it is and is not sent.
    static func staged(_ messages: [MessageRecord], _ receipt: JournalReceipt) -> [MessageRecord] {
        guard case .transitions(_, let rejected)? = receipt.results.first, !rejected.isEmpty else { return messages }
        let refused = Set(rejected)
        return messages.filter { !refused.contains($0.id) }
    }

    func warnRejected(_ receipt: JournalReceipt, _ what: String) {
        if case .transitions(_, let rejected)? = receipt.results.first, !rejected.isEmpty {
            logger.warning("\(what): the journal rejected \(rejected.count) transition(s)")
        }
    }

    /// Every send of `of` since `since`, from the journal.
    func recentSends(of: Set<SenderID>, since: Int64) throws -> [Journal.RecipientSend] {
        guard !of.isEmpty else { return [] }
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

    // MARK: - Read from other threads

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

    /// False once the loop has finished (after shutdown).
    func isRunning() -> Bool {
        doneLock.lock()
        defer { doneLock.unlock() }
        return !finished
    }

    /// How late the loop woke for a send it had scheduled (worst in the last ~200 ms).
    func lagNanoseconds() -> Int64 { read { $0.lagNanoseconds } }

    /// The endpoint's p99 answer time the in-flight bounds are sized from.
    func latencyNanoseconds() -> Int64 { read { $0.latencyNanoseconds } }

    func snapshots() -> [SenderSnapshot] { read { $0.senders } }

    /// Campaigns the loop and its scheduler hold state for (cached options, paging
    /// cursors); bounded by the campaigns retention keeps.
    func campaignsHeld() -> Int { read { $0.campaignsHeld } }

    /// The campaign's messages sent per second, smoothed over about two seconds.
    func sendRate(campaign: CampaignID) -> Double { read { $0.campaignRates[campaign] ?? 0 } }
    func isPreparing(campaign: CampaignID) -> Bool { read { $0.campaignsPreparing.contains(campaign) } }

    private func read<T>(_ body: (DispatchCore.Publication) -> T) -> T {
        snapshotLock.lock()
        defer { snapshotLock.unlock() }
        return body(published)
    }
}
