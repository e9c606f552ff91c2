import Logging
import SluiceCore
import SluiceJournal

/// Campaigns: their status, their start and expiry timers, and where staged messages go
/// by the status of their campaign.
extension DispatchCore {
    /// The campaign as the core knows it, read from the journal the first time.
    mutating func campaignEntry(_ id: CampaignID) -> CampaignBook.Entry? {
        if let entry = campaigns[id] { return entry }
        do {
            guard var entry = try campaigns.entry(id, lookups: lookups, wallMilliseconds: wall) else { return nil }
            if entry.message != nil {
                prepareMedia(id, &entry)
                campaigns[id] = entry
            }
            learn(id, entry)
            return entry
        } catch {
            logger.error("reading campaign \(id) failed: \(error)")
            return nil
        }
    }

    /// Tells the scheduler what a campaign entry new to the core asks of it.
    mutating func learn(_ id: CampaignID, _ entry: CampaignBook.Entry) {
        guard senders[entry.sender] != nil else { return }
        if entry.options.priority != .marketing { scheduler.setPriority(sender: entry.sender, campaign: id, entry.options.priority) }
        // What is staged of an at-most-once campaign ends `unknown` after a crash.
        if entry.options.delivery == .atMostOnce { scheduler.stageThinly(sender: entry.sender, campaign: id) }
    }

    /// The campaign has queued messages in the journal: they page in if it is open.
    mutating func noteAvailable(_ key: CampaignKey, into actions: inout [Action]) {
        guard let entry = campaignEntry(key.campaign) else {
            // Not in the journal: its messages fail when they come up (`admit`).
            markAvailable(key)
            return
        }
        switch entry.status {
        case .open:
            if entry.restaging > 0 { campaigns[key.campaign]!.availableAfterRestage = true } else { markAvailable(key) }
        case .paused, .scheduled, .preparing:
            break
        case .ended(let state):
            // Left over by a stop in the middle of ending it.
            sweep(key.campaign, to: state, into: &actions)
        }
    }

    mutating func markAvailable(_ key: CampaignKey) {
        availability[key, default: 0] &+= 1
        scheduler.noteMoreAvailable(sender: key.sender, campaign: key.campaign)
    }

    /// Applies a new status to what the core holds of the campaign: an open one pages
    /// in; a held one's staged messages go back to the queue; an ended one's staged and
    /// queued messages end. Messages on the wire finish as they would have.
    mutating func setStatus(_ id: CampaignID, _ status: CampaignBook.Status, into actions: inout [Action]) {
        guard var entry = campaigns[id] else { return }
        entry.status = status
        campaigns[id] = entry
        if status == .preparing { requestUploads(entry, refreshing: false) }
        let key = CampaignKey(sender: entry.sender, campaign: id)
        switch status {
        case .open:
            noteAvailable(key, into: &actions)
        case .paused, .scheduled, .preparing:
            guard senders[entry.sender] != nil else { return }
            var held: [MessageRecord] = []
            scheduler.removeCampaign(sender: entry.sender, campaign: id, into: &held)
            returnToQueue(held, of: id, into: &actions)
        case .ended(let state):
            if senders[entry.sender] != nil {
                var ended: [MessageRecord] = []
                scheduler.removeCampaign(sender: entry.sender, campaign: id, into: &ended)
                end(ended, as: state)
            }
            sweep(id, to: state, into: &actions)
        }
    }

    /// Starts and expiries that have come.
    mutating func fireCampaignTimers(into actions: inout [Action]) {
        guard let next = campaigns.nextTimerMilliseconds, next <= wall else { return }
        for id in campaigns.dueTimers(wallMilliseconds: wall) {
            guard let entry = campaigns[id] else { continue }
            if case .ended = entry.status { continue }
            let status = CampaignBook.status(options: entry.options, paused: entry.status == .paused, mediaMissing: entry.mediaMissing, wallMilliseconds: wall)
            if status != entry.status { setStatus(id, status, into: &actions) }
        }
    }

    /// Staged messages (journaled `in_flight`, not on the wire) by their campaign's
    /// status: back into the scheduler, back to the journal's queue, or ended. Put back
    /// at the front last first, so they go in the order given (due ones: oldest first).
    mutating func route(_ messages: [MessageRecord], into actions: inout [Action]) {
        var held: [CampaignID: [MessageRecord]] = [:]
        var ended: [MessageState: [MessageRecord]] = [:]
        for m in messages.reversed() {
            switch campaignEntry(m.campaign)?.status ?? .open {
            case .open: scheduler.requeueFront(m)
            case .paused, .scheduled, .preparing: held[m.campaign, default: []].append(m)
            case .ended(let state): ended[state, default: []].append(m)
            }
        }
        for (id, list) in held { returnToQueue(list, of: id, into: &actions) }
        for (state, list) in ended { end(list, as: state) }
    }

    /// Journals staged messages of a held campaign back to `queued`; the campaign does
    /// not page in before that commit is durable (`.restaged`).
    mutating func returnToQueue(_ messages: [MessageRecord], of campaign: CampaignID, into actions: inout [Action]) {
        guard !messages.isEmpty else { return }
        campaigns[campaign]?.restaging += 1
        let transitions = messages.map { MessageTransition(id: $0.id, to: .queued, updatedMilliseconds: wall) }
        for m in messages { unstage(m.id) }
        actions.append(.commit(.returnToQueue(campaign, transitions)))
    }

    /// Records staged messages as ended (`cancelled`, `expired`) without sending them.
    mutating func end(_ messages: [MessageRecord], as state: MessageState) {
        guard !messages.isEmpty else { return }
        for m in messages { unstage(m.id) }
        record(messages.map { MessageTransition(id: $0.id, to: state, updatedMilliseconds: wall) })
    }

    /// Ends the campaign's queued and due messages in the journal, a batch per commit.
    func sweep(_ id: CampaignID, to state: MessageState, into actions: inout [Action]) {
        actions.append(.commit(.endUnsent(id, state, max: Self.endBatchMax, updatedMilliseconds: wall)))
    }
}
