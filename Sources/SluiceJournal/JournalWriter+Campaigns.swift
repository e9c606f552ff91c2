import SluiceCore

/// An owner's changes to a campaign that is sending: pause, resume, cancel, and ending
/// what was not sent when it is cancelled or expires.
extension JournalWriter {
    func setCampaignState(_ id: CampaignID, _ state: CampaignState, reason: String? = nil, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> CampaignState {
        guard let record = try loadCampaign(id, txn, &s) else { throw JournalError.unknownCampaign(id) }
        let from = record.state
        if let reason { try checkLength(reason, "campaign.pause_reason") }
        // One table for every owner's move: nothing changes a finished campaign (nothing
        // left to send, whatever its state says); pause and resume repeat harmlessly, a
        // second cancel is refused.
        let unsent = MessageState.allCases.filter(\.isUnsent).reduce(UInt64(0)) { $0 + record.counts[$1] }
        if [.active, .done, .paused].contains(from), unsent == 0 {
            throw JournalError.campaignState(id, state: .done, expected: "active or paused, with messages left to send")
        }
        if from == state, state != .withdrawn {
            if state == .paused, reason != record.pauseReason { s.campaigns[id]!.pauseReason = reason }
            return from
        }
        let allowed: Bool
        switch (from, state) {
        case (.active, .paused), (.done, .paused), (.paused, .active): allowed = true
        case (.active, .withdrawn), (.paused, .withdrawn), (.done, .withdrawn): allowed = true
        default: allowed = false
        }
        guard allowed else {
            let expected = switch state {
            case .paused: "active"
            case .active: "paused"
            case .withdrawn: "active or paused"
            default: "(no owner may set \(state))"
            }
            throw JournalError.campaignState(id, state: from, expected: expected)
        }
        s.campaigns[id]!.state = state
        s.campaigns[id]!.pauseReason = state == .paused ? reason : nil
        return from
    }

    /// Moves up to `max` unsent messages of the campaign — `queued` first, then `retry_at`
    /// and `in_doubt` — to `to`, through `transition` (indexes, counts, subscribers).
    func endMessages(_ id: CampaignID, to: MessageState, max: Int, updatedMilliseconds: Int64, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> Int {
        precondition(to.isFinal, "endMessages to a state that is not final: \(to)")
        guard let record = try loadCampaign(id, txn, &s) else { throw JournalError.unknownCampaign(id) }
        var ids = try txn.withCursor(tables.pending) { c in
            var out: [MessageID] = []
            var entry = try Key.pending(record.sender, id, MessageID(0)).withBytes { try c.seek(atLeast: $0) }
            while let key = entry?.key, out.count < max, Key.sender(key) == record.sender, Key.middle(key) == id.rawValue {
                out.append(Key.message(key))
                entry = try c.next()
            }
            return out
        }
        if ids.count < max {
            // `due` is ordered by sender and time, not campaign: the sender's entries are
            // read and those of other campaigns skipped.
            let messages = tables.messages
            let already = ids.count
            ids += try txn.withCursor(tables.due) { c in
                var out: [MessageID] = []
                var entry = try Key.due(record.sender, notBefore: .min, MessageID(0)).withBytes { try c.seek(atLeast: $0) }
                while let key = entry?.key, already + out.count < max, Key.sender(key) == record.sender {
                    let message = Key.message(key)
                    let campaign = try Key(id: message.rawValue).withBytes { k -> UInt64? in
                        guard let stored = try txn.get(messages, k), stored.count >= Offset.campaign + 8 else { return nil }
                        return UInt64(littleEndian: stored.loadUnaligned(fromByteOffset: Offset.campaign, as: UInt64.self))
                    }
                    if campaign == id.rawValue { out.append(message) }
                    entry = try c.next()
                }
                return out
            }
        }
        var moved = 0
        for message in ids {
            let t = MessageTransition(id: message, to: to, updatedMilliseconds: updatedMilliseconds)
            if try transition(t, txn, &s) { moved += 1 }
        }
        return moved
    }
}
