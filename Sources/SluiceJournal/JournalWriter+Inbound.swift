import SluiceCore

extension Journal {
    /// Longest message object an incoming message may carry (Meta's are a few KB).
    public static let inboundObjectBytesMax = 256 * 1024
}

/// Incoming messages inside a write transaction: journaled once per wamid, and an outbox
/// entry for each subscriber that asks for messages, in the same commit.
extension JournalWriter {
    func recordInbound(_ messages: [InboundMessage], actions: [ContactAction?], _ txn: borrowing Transaction, _ s: inout WriterState) throws -> MutationResult {
        var recorded = 0
        var duplicates = 0
        for (i, m) in messages.enumerated() {
            let key = Array(m.wamid.utf8)
            guard !key.isEmpty, key.count <= Self.wamidKeyBytesMax else {
                throw JournalError.invalidField(field: "wamid", reason: "\(key.count) bytes, expected 1…\(Self.wamidKeyBytesMax)")
            }
            for (field, value) in [("phone_number_id", m.senderPhoneNumberID), ("type", m.type), ("timestamp", m.timestamp)] {
                try checkLength(value, field)
            }
            for (field, value) in [("from", m.from), ("from_user_id", m.fromUserID), ("contact_name", m.contactName)] {
                if let value { try checkLength(value, field) }
            }
            guard m.object.count <= Journal.inboundObjectBytesMax else {
                throw JournalError.invalidField(field: "message", reason: "\(m.object.count) bytes, more than \(Journal.inboundObjectBytesMax)")
            }
            let known = try key.withUnsafeBytes { k in try txn.get(tables.inbound, k) != nil }
            if known {
                duplicates += 1
                continue
            }
            let size = InboundCodec.size(m, cipher)
            try key.withUnsafeBytes { k in
                try txn.putReserving(tables.inbound, k, count: size, append: false) {
                    InboundCodec.write(m, format: InboundCodec.recordFormat, attempts: 0, nextAttemptMilliseconds: 0, table: .inbound, key: k, cipher, to: $0)
                }
            }
            if let media = m.media { try recordMedia(media, sender: m.senderPhoneNumberID, receivedMilliseconds: m.receivedMilliseconds, txn) }
            try emitInbound(m, size: size, txn, &s)
            try noteInbound(m, action: i < actions.count ? actions[i] : nil, txn, &s)
            recorded += 1
        }
        return .inbound(recorded: recorded, duplicates: duplicates)
    }

    /// Retention of incoming messages: scans up to `max` records with wamids after `after`
    /// and deletes those received before `receivedBefore`. Their subscriber events (copies
    /// in the outbox) and the contacts they updated stay. Returns how many went and the
    /// wamid to continue after (nil: the scan is done).
    func removeInbound(receivedBefore: Int64, after: String?, max: Int, _ txn: borrowing Transaction) throws -> (removed: Int, resume: String?) {
        var doomed: [[UInt8]] = []
        var scanned = 0
        var last: [UInt8]?
        try txn.withCursor(tables.inbound) { c in
            var entry = try after.map { a in try Array(a.utf8).withUnsafeBytes { try c.seek(atLeast: $0) } } ?? c.first()
            if let a = after, let (key, _) = entry, Array(key) == Array(a.utf8) { entry = try c.next() }
            while let (key, value) = entry, scanned < max {
                entry = try c.next()
                scanned += 1
                last = Array(key)
                guard let received = InboundCodec.receivedMilliseconds(value) else {
                    throw JournalError.corruptRecord(path: path, table: Schema.inbound, key: String(decoding: key, as: UTF8.self))
                }
                if received < receivedBefore { doomed.append(Array(key)) }
            }
        }
        for key in doomed { _ = try key.withUnsafeBytes { try txn.delete(tables.inbound, $0) } }
        return (doomed.count, scanned == max ? last.map { String(decoding: $0, as: UTF8.self) } : nil)
    }

    /// An entry for every subscriber that asks for messages, under the contact's key in the number's lane.
    private func emitInbound(_ m: InboundMessage, size: Int, _ txn: borrowing Transaction, _ s: inout WriterState) throws {
        guard s.outbox.subscriptions.values.contains(where: { $0.events.contains(.message) }) else { return }
        let eventID = s.outbox.nextEventID
        s.outbox.nextEventID += 1
        let order = m.orderKey.rawValue
        let lane = OutboxLane.number(m.senderPhoneNumberID)
        var i = s.outbox.subscriptions.startIndex
        while i != s.outbox.subscriptions.endIndex {
            let (subscription, record) = s.outbox.subscriptions[i]
            if record.events.contains(.message) {
                try Key.outboxEntry(subscription, lane: lane, order, eventID).withBytes { key in
                    try Key.outbox(subscription, order, eventID).withBytes { identity in
                        try txn.putReserving(tables.outbox, key, count: size, append: false) {
                            InboundCodec.write(
                                m, format: InboundCodec.outboxFormat, attempts: 0, nextAttemptMilliseconds: 0, table: .outbox, key: identity, cipher, to: $0)
                        }
                    }
                }
                s.outbox.subscriptions.values[i].counters.pending += 1
                s.outbox.dirty.insert(subscription)
            }
            s.outbox.subscriptions.formIndex(after: &i)
        }
    }
}
