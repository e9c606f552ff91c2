import Logging
import SluiceCore
import SluiceJournal

/// Senders: registration, warm start, deletion and the messaging limit.
extension DispatchCore {
    mutating func install(_ record: SenderRecord, into actions: inout [Action]) {
        let url = configuration.sendURL(phoneNumberID: record.phoneNumberID)
        let previous = senders[record.id]?.snapshot
        let snapshot = SenderSnapshot(
            id: record.id, phoneNumberID: record.phoneNumberID, tierMessagesPerSecond: record.tierMessagesPerSecond,
            effectiveMessagesPerSecond: record.tierMessagesPerSecond, paused: record.paused, pauseReason: record.pauseReason,
            staged: 0, inFlight: 0, sent: previous?.sent ?? 0, failed: previous?.failed ?? 0, retried: previous?.retried ?? 0,
            throttled: previous?.throttled ?? 0, inDoubt: previous?.inDoubt ?? 0, errors: previous?.errors ?? [:])
        let revision = (senders[record.id]?.revision ?? 0) &+ 1
        senders[record.id] = SenderRuntime(record: record, url: url, snapshot: snapshot, revision: revision)
        if spacings[record.id] == nil { spacings[record.id] = RecipientSpacing(spacingMilliseconds: configuration.pairSpacingMilliseconds) }
        historyNeeded.formUnion(limits.configure(record))
        scheduler.upsertSender(
            record.id, tierMessagesPerSecond: record.tierMessagesPerSecond, burst: Int(record.burst),
            paused: record.paused, now: now)
        applyOwnership(record.id, into: &actions)
        warm(record, into: &actions)
    }

    /// Opens ahead the connections the sender's in-flight bound will fill (warm start).
    mutating func warm(_ record: SenderRecord, into actions: inout [Action]) {
        guard !record.paused, scheduler.isOwned(sender: record.id) == true, let limit = scheduler.inFlightLimit(sender: record.id) else { return }
        let count = warmth.toOpen(sender: record.id, inFlightLimit: limit)
        guard count > 0 else { return }
        actions.append(.warm(url: configuration.phoneNumberURL(phoneNumberID: record.phoneNumberID), bearerToken: record.accessToken, connections: count))
    }


    /// Removes a deleted sender. The journal refused the deletion while any message of it
    /// was queued, in flight or due, so the scheduler holds nothing of it.
    mutating func forget(_ sender: SenderID) {
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
    mutating func removeIdle() {
        for sender in removing where scheduler.inFlightCount(sender: sender) == 0 {
            removing.remove(sender)
            if scheduler.queuedCount(sender: sender) > 0 {
                logger.error("deleted sender \(sender) still has \(scheduler.queuedCount(sender: sender)) staged message(s); kept paused")
                continue
            }
            scheduler.removeSender(sender, now: now)
        }
    }

    /// Puts capped messages back at the head of their queues (in their order) and holds
    /// each sender until its window has room: no pacing slot is spent on them meanwhile.
    mutating func holdCapped(_ capped: [MessageRecord]) {
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
    mutating func releaseHolds() {
        for id in senders.keys where !awaitingHistory.contains(id) {
            if let held = scheduler.heldUntil(sender: id), held > now { scheduler.hold(id, until: now) }
        }
    }

    /// Asks for the recent sends of `historyNeeded` (read off the loop thread) and holds
    /// those senders until they are merged (`.recipientHistory`).
    mutating func loadHistory(into actions: inout [Action]) {
        guard !historyNeeded.isEmpty else { return }
        let waiting = historyNeeded
        historyNeeded = []
        awaitingHistory.formUnion(waiting)
        for sender in waiting { scheduler.hold(sender, until: .never) }
        actions.append(.readHistory(waiting, sinceMilliseconds: wall - configuration.messagingWindowMilliseconds))
    }

    mutating func mergeHistory(_ waiting: Set<SenderID>, _ sends: [Journal.RecipientSend]) {
        limits.merge(sends, nowMilliseconds: wall)
        awaitingHistory.subtract(waiting)
        for sender in waiting where senders[sender] != nil { scheduler.hold(sender, until: now) }
    }

    /// Installs the journal's senders before the first send. Returns the senders whose
    /// sends since the returned time fill their messaging-limit windows (`startHistory`).
    mutating func start(_ records: [SenderRecord], now: Instant, wall: Int64, into actions: inout [Action]) -> (senders: Set<SenderID>, sinceMilliseconds: Int64) {
        self.now = now
        self.wall = wall
        for record in records { install(record, into: &actions) }
        let needed = historyNeeded
        historyNeeded = []
        return (needed, wall - configuration.messagingWindowMilliseconds)
    }

    /// The windows as the journal left them, merged before the first send.
    mutating func startHistory(_ sends: [Journal.RecipientSend]) {
        limits.merge(sends, nowMilliseconds: wall)
    }
}
