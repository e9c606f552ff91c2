import SluiceCore

/// Account updates inside a write transaction: the sender as it now is, and an outbox
/// entry for each subscriber that asks for account events, in the same commit.
extension JournalWriter {
    func recordAccountUpdate(_ update: AccountUpdate, sender: SenderRecord, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> SenderID {
        guard s.senderIDs[sender.phoneNumberID] != nil, sender.phoneNumberID == update.senderPhoneNumberID else {
            throw JournalError.invalidField(field: "phoneNumberID", reason: "'\(update.senderPhoneNumberID)' is not a registered sender")
        }
        for (field, value) in [("displayPhoneNumber", update.displayPhoneNumber), ("event", update.event)] { try checkLength(value, field) }
        for (field, value) in [("limit", update.limit), ("oldLimit", update.oldLimit)] { if let value { try checkLength(value, field) } }
        let id = try putSender(sender, txn, &s)
        guard s.outbox.subscriptions.values.contains(where: { $0.events.contains(.account) }) else { return id }
        let eventID = s.outbox.nextEventID
        s.outbox.nextEventID += 1
        let size = AccountCodec.size(update)
        var i = s.outbox.subscriptions.startIndex
        while i != s.outbox.subscriptions.endIndex {
            let (subscription, record) = s.outbox.subscriptions[i]
            if record.events.contains(.account) {
                try Key.outboxEntry(subscription, lane: OutboxLane.number(update.senderPhoneNumberID), update.orderKey.rawValue, eventID).withBytes { key in
                    try txn.putReserving(tables.outbox, key, count: size, append: false) {
                        AccountCodec.write(update, attempts: 0, nextAttemptMilliseconds: 0, to: $0)
                    }
                }
                s.outbox.subscriptions.values[i].counters.pending += 1
                s.outbox.dirty.insert(subscription)
            }
            s.outbox.subscriptions.formIndex(after: &i)
        }
        return id
    }
}
