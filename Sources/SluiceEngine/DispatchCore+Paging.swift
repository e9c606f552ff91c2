import Logging
import SluiceCore
import SluiceJournal

/// Paging queued messages in, and the scan for retries and in-doubt messages whose time
/// has come. Both stage through the journal: read, journal `in_flight`, then schedule.
extension DispatchCore {
    /// Asks for the next page of each low campaign queue.
    mutating func issueRefills(into actions: inout [Action]) {
        if let until = refillsPausedUntil {
            guard now >= until else { return }
            refillsPausedUntil = nil
        }
        for request in scheduler.refillRequests() {
            let key = CampaignKey(sender: request.sender, campaign: request.campaign)
            guard refillsOutstanding.insert(key).inserted else { continue }
            actions.append(.readPage(key, after: request.after, limit: request.limit, generation: availability[key, default: 0]))
        }
    }

    /// A page was read: journal it `in_flight`; the scheduler gets it once that commit is
    /// durable (`.paged`).
    mutating func pageRead(_ key: CampaignKey, _ page: [MessageRecord], limit: Int, generation: UInt64, into actions: inout [Action]) {
        guard !page.isEmpty else {
            refillsOutstanding.remove(key)
            guard senders[key.sender] != nil else { return }
            scheduler.refilled(sender: key.sender, campaign: key.campaign, messages: [], exhausted: true, now: now)
            if availability[key, default: 0] != generation { scheduler.noteMoreAvailable(sender: key.sender, campaign: key.campaign) }
            return
        }
        let (transitions, moved) = inFlightTransitions(page)
        actions.append(.stage(.page(key, exhausted: page.count < limit, generation: generation), transitions, messages: moved))
    }

    mutating func paged(_ key: CampaignKey, _ messages: [MessageRecord], exhausted: Bool, generation: UInt64, into actions: inout [Action]) {
        refillsOutstanding.remove(key)
        guard senders[key.sender] != nil else { return }
        for m in messages { staged[m.id] = key.sender }
        if stopping {
            restage(messages, into: &actions)
            return
        }
        // Paused, cancelled or expired while the page was read.
        if let status = campaignEntry(key.campaign)?.status, status != .open {
            route(messages, into: &actions)
            return
        }
        // The number went to another node while the page was read.
        if scheduler.isOwned(sender: key.sender) == false {
            giveBack(key, arriving: messages, into: &actions)
            return
        }
        scheduler.refilled(sender: key.sender, campaign: key.campaign, messages: messages, exhausted: exhausted, now: now)
        // New intake landed while this page was read: the campaign is not exhausted.
        if exhausted, availability[key, default: 0] != generation { scheduler.noteMoreAvailable(sender: key.sender, campaign: key.campaign) }
    }

    /// Asks for the due messages of each sender with room in its staging.
    mutating func scanDue(into actions: inout [Action]) {
        for (id, runtime) in senders where !runtime.record.paused && scheduler.isOwned(sender: id) == true && !dueOutstanding.contains(id) {
            // Staged messages are in_flight in the journal, in doubt after a crash: keep the
            // sender's staging bounded (about twice its staging time) however many are due.
            let rate = scheduler.effectiveRate(sender: id) ?? runtime.record.tierMessagesPerSecond
            let stagedMax = 2 * max(configuration.scheduler.pageSize, Int(rate * Double(configuration.scheduler.stagingNanoseconds) / 1e9))
            guard scheduler.queuedCount(sender: id) < stagedMax else { continue }
            dueOutstanding.insert(id)
            actions.append(.readDue(id, notAfterMilliseconds: wall, limit: configuration.scheduler.pageSize))
        }
    }

    /// Due messages were read. Those of an open campaign are journaled `in_flight` and
    /// staged; an in-doubt one of an `at_most_once` campaign ends `unknown`; those of a
    /// held campaign go back to the queue, of an ended one end.
    mutating func dueRead(_ sender: SenderID, _ due: [MessageRecord], into actions: inout [Action]) {
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
            case .paused, .scheduled, .preparing:
                // Through `in_flight`: the only way back to the queue.
                settled.append(MessageTransition(id: m.id, to: .inFlight, updatedMilliseconds: wall))
                settled.append(MessageTransition(id: m.id, to: .queued, updatedMilliseconds: wall))
                held.insert(m.campaign)
            case .ended(let state):
                settled.append(MessageTransition(id: m.id, to: state, updatedMilliseconds: wall))
            }
        }
        for c in held { campaigns[c]?.restaging += 1 }
        if !settled.isEmpty { actions.append(.commit(.settleDue(sender, settled, restaged: held))) }
        guard !open.isEmpty else {
            dueOutstanding.remove(sender)
            return
        }
        let (transitions, moved) = inFlightTransitions(open)
        actions.append(.stage(.due(sender), transitions, messages: moved))
    }

    /// Due messages are journaled `in_flight` (none when that commit failed).
    mutating func due(_ sender: SenderID, _ candidates: [MessageRecord], into actions: inout [Action]) {
        dueOutstanding.remove(sender)
        guard senders[sender] != nil else { return }
        // Keep only what the transition really moved: a status webhook may have settled
        // an in-doubt message between the read and the commit.
        let messages = candidates.filter { journaledState($0.id) == .inFlight }
        for m in messages {
            staged[m.id] = sender
            resends.insert(m.id)
        }
        if stopping {
            restage(messages, into: &actions)
            return
        }
        route(messages, into: &actions)
    }

    /// The transitions that journal `page` `in_flight`, and the records as they will be.
    func inFlightTransitions(_ page: [MessageRecord]) -> ([MessageTransition], [MessageRecord]) {
        var transitions: [MessageTransition] = []
        transitions.reserveCapacity(page.count)
        var moved = page
        for i in moved.indices {
            transitions.append(MessageTransition(
                id: moved[i].id, to: .inFlight, attempts: nil, notBeforeMilliseconds: 0,
                updatedMilliseconds: wall, wamid: nil, errorCode: 0, errorMessage: nil))
            moved[i].state = .inFlight
        }
        return (transitions, moved)
    }

    /// Journals never-sent staged messages back to `queued` (graceful shutdown).
    mutating func restage(_ messages: [MessageRecord], into actions: inout [Action]) {
        guard !messages.isEmpty else { return }
        let transitions = messages.map {
            MessageTransition(
                id: $0.id, to: .queued, attempts: nil, notBeforeMilliseconds: 0, updatedMilliseconds: wall,
                wamid: nil, errorCode: 0, errorMessage: nil)
        }
        for m in messages { unstage(m.id) }
        actions.append(.commit(.restage(transitions)))
    }
}
