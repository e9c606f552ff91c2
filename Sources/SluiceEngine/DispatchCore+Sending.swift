import SluiceCore
import SluiceJournal
import SluiceTransport

/// Sending: the messages whose slots have come, checked once more and handed to the
/// transport.
extension DispatchCore {
    mutating func admit(into actions: inout [Action]) {
        scheduler.nextBatch(now: now, into: &batch, admissions: &admissions, side: &sideSlots)
        if !sideSlots.isEmpty {
            dispatchReads(sideSlots, into: &actions)
            sideSlots.removeAll(keepingCapacity: true)
        }
        guard !batch.isEmpty else { return }
        dispatch(batch, admissions: admissions, into: &actions)
        // Unique again once `dispatch` returned: the buffers are reused, not reallocated.
        batch.removeAll(keepingCapacity: true)
        admissions.removeAll(keepingCapacity: true)
    }

    mutating func dispatch(_ batch: [MessageRecord], admissions: [UInt64], into actions: inout [Action]) {
        var requests: [OutboundRequest] = []
        requests.reserveCapacity(batch.count)
        var failures: [MessageTransition] = []
        var capped: [MessageRecord] = []
        var notSent: [MessageRecord] = []
        for (message, admission) in zip(batch, admissions) {
            // Paused, cancelled or expired since it was staged: its slot goes unused.
            // One lookup per message: its status here, its compiled message below.
            let entry = campaignEntry(message.campaign)
            if let entry, entry.status != .open || !entry.options.isOpen(atMilliseconds: wall) {
                release(message, admission: admission)
                notSent.append(message)
                continue
            }
            let resend = !resends.isEmpty && resends.contains(message.id)
            unstage(message.id)
            // A resend a status webhook settled while it waited for this slot: it was sent
            // after all. One journal read, for resends only.
            if resend, let state = journaledState(message.id), state != .inFlight {
                release(message, admission: admission)
                continue
            }
            // The messaging limit: a new recipient over the group's cap waits, still
            // `in_flight` in the journal, no attempt used; its sender is held until the
            // window has room (`holdCapped`).
            if limits.isActive, let until = limits.admit(sender: message.sender, recipient: message.to, nowMilliseconds: wall) {
                release(message, admission: admission)
                capped.append(message)
                capacityAt[message.sender] = until
                continue
            }
            // The pair limit: a recipient sent to within the spacing waits as retry_at
            // until it ends; no attempt is used and WhatsApp never sees a 131056. Mutated
            // in place in its own table: a copy of it alive here would make every admit
            // copy the whole recent-recipient map.
            if let notBefore = spacings[message.sender]?.admit(message.to, message: message.id.rawValue, nowMilliseconds: wall) {
                release(message, admission: admission)
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
                release(message, admission: admission)
                failures.append(MessageTransition(
                    id: message.id, to: .failed, attempts: message.attempts, notBeforeMilliseconds: 0,
                    updatedMilliseconds: wall, wamid: nil, errorCode: -1,
                    errorMessage: entry?.broken ?? "campaign \(message.campaign) is missing from the journal"))
                continue
            }
            var body: [UInt8] = []
            body.reserveCapacity(512)
            template.render(to: message.to, params: message.params, callbackData: callbackData(message.id, sender: message.sender), into: &body)
            inFlight[message.id.rawValue] = InFlight(message: message, admission: admission, senderRevision: runtime.revision)
            requests.append(OutboundRequest(tag: message.id.rawValue, url: runtime.url, bearerToken: runtime.record.accessToken, body: body))
        }
        if !failures.isEmpty { record(failures) }
        if !requests.isEmpty { actions.append(.send(requests)) }
        if !capped.isEmpty { holdCapped(capped) }
        if !notSent.isEmpty {
            for m in notSent {
                // An expiry the timer has not fired yet: end the campaign now.
                if let entry = campaigns[m.campaign], entry.status == .open, !entry.options.isOpen(atMilliseconds: wall) {
                    setStatus(m.campaign, CampaignBook.status(options: entry.options, paused: false, wallMilliseconds: wall), into: &actions)
                }
            }
            route(notSent, into: &actions)
        }
    }
}

extension DispatchCore {
    /// `biz_opaque_callback_data`: the message id, and in a cluster `@<node>` after it and
    /// `:<fencing token>` of the number's ownership (`<id>@<node>:<token>`): statuses find
    /// the node, and whoever records requests (the mock, a proxy) can tell that one
    /// ownership's requests never follow a later one's.
    func callbackData(_ id: MessageID, sender: SenderID) -> String {
        if let suffix = callbackSuffixes[sender] { return id.description + suffix }
        guard let node = configuration.nodeID else { return id.description }
        return id.description + "@" + node
    }
}
