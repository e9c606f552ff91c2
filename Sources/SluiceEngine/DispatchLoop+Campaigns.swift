import Foundation
import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// Campaigns (status, timers, routing pages to them) and paging from the journal.
extension DispatchLoop {
    // MARK: Campaigns

    /// The campaign as the loop knows it, read from the journal the first time.
    func campaignEntry(_ id: CampaignID) -> CampaignBook.Entry? {
        if let entry = campaigns[id] { return entry }
        do {
            guard let entry = try campaigns.entry(id, journal: journal, wallMilliseconds: clock.wallMilliseconds()) else { return nil }
            learn(id, entry)
            return entry
        } catch {
            logger.error("reading campaign \(id) failed: \(error)")
            return nil
        }
    }

    /// Tells the scheduler what a campaign entry new to the loop asks of it.
    func learn(_ id: CampaignID, _ entry: CampaignBook.Entry) {
        guard senders[entry.sender] != nil else { return }
        if entry.options.priority != .marketing { scheduler.setPriority(sender: entry.sender, campaign: id, entry.options.priority) }
        // What is staged of an at-most-once campaign ends `unknown` after a crash.
        if entry.options.delivery == .atMostOnce { scheduler.stageThinly(sender: entry.sender, campaign: id) }
    }

    /// Applies a new status to what the loop holds of the campaign: an open one pages
    /// in; a held one's staged messages go back to the queue; an ended one's staged and
    /// queued messages end. Messages on the wire finish as they would have.
    func setStatus(_ id: CampaignID, _ status: CampaignBook.Status) {
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
    func fireCampaignTimers() {
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
    func route(_ messages: [MessageRecord]) {
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
    func returnToQueue(_ messages: [MessageRecord], of campaign: CampaignID) {
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
    func end(_ messages: [MessageRecord], as state: MessageState) {
        guard !messages.isEmpty else { return }
        let wall = clock.wallMilliseconds()
        for m in messages { unstage(m.id) }
        record(messages.map { MessageTransition(id: $0.id, to: state, updatedMilliseconds: wall) })
    }

    /// Ends the campaign's queued and due messages in the journal, a batch per commit.
    func sweep(_ id: CampaignID, to state: MessageState) {
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
    func issueRefills() {
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
    func scanDue() {
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

    func markInFlight(_ page: [MessageRecord], completion: @escaping @Sendable (Result<[MessageRecord], JournalError>) -> Void) {
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
    func restage(_ messages: [MessageRecord]) {
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
}
