import Foundation
import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// Sending: handing admitted messages to the transport.
extension DispatchLoop {
    // MARK: Sending

    func unstage(_ id: MessageID) {
        staged.removeValue(forKey: id)
        resends.remove(id)
    }

    func dispatch(_ batch: [MessageRecord], admissions: [UInt64]) {
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
}
