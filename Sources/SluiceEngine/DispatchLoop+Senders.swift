import Foundation
import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// Senders: deletion and the messaging limit.
extension DispatchLoop {

    /// Removes a deleted sender. The journal refused the deletion while any message of it
    /// was queued, in flight or due, so the scheduler holds nothing of it.
    func forget(_ sender: SenderID, now: Instant) {
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
    func removeIdle() {
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
    func holdCapped(_ capped: [MessageRecord], wall: Int64, now: Instant) {
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
    func releaseHolds(now: Instant) {
        for id in senders.keys where !awaitingHistory.contains(id) {
            if let held = scheduler.heldUntil(sender: id), held > now { scheduler.hold(id, until: now) }
        }
    }

    /// Reads the recent sends of `historyNeeded` off this thread and holds those senders
    /// until they are merged (`recipientHistory`).
    func loadHistory() {
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

    func mergeHistory(_ waiting: Set<SenderID>, _ sends: [Journal.RecipientSend], now: Instant) {
        limits.merge(sends, nowMilliseconds: clock.wallMilliseconds())
        awaitingHistory.subtract(waiting)
        for sender in waiting where senders[sender] != nil { scheduler.hold(sender, until: now) }
    }

    /// Every send of `of` within the last messaging window, from the journal.
    func recentSends(of: Set<SenderID>) throws -> [Journal.RecipientSend] {
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
}
