import SluiceCore

/// Deleting a sender inside a write transaction.
extension JournalWriter {
    /// Deletes the sender after checking, in this transaction, that nothing of it is live:
    /// no `pending` or `due` entry under its id, no `inflight` message of it, no campaign
    /// of it `receiving`. Campaigns that are over stay (their progress still reads).
    func deleteSender(_ phoneNumberID: String, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> SenderRecord? {
        let phoneBytes = phoneNumberID.utf8.count
        guard phoneBytes > 0, phoneBytes <= SenderCodec.phoneNumberIDBytesMax, let id = s.senderIDs[phoneNumberID] else { return nil }
        if let what = try liveWork(of: id, txn, s) { throw JournalError.senderBusy(phoneNumberID: phoneNumberID, what: what) }
        let record = try Array(phoneNumberID.utf8).withUnsafeBytes { key -> SenderRecord? in
            guard let bytes = try txn.get(tables.senders, key) else { return nil }
            let record: SenderRecord
            do { record = try SenderCodec.read(phoneNumberID: phoneNumberID, bytes, cipher) } catch {
                throw JournalError(record: error, path: path, table: Schema.senders, key: phoneNumberID)
            }
            _ = try txn.delete(tables.senders, key)
            return record
        }
        guard record != nil else {
            throw JournalError.corruptRecord(path: path, table: Schema.senders, key: "\(phoneNumberID) (indexed by the writer, not stored)")
        }
        // `nextSenderID` stays: ids are never reused (old messages and campaigns keep theirs).
        s.senderIDs[phoneNumberID] = nil
        s.sendersRevision &+= 1
        s.senderPhones[id] = nil
        s.windowEnforced.remove(id)
        return record
    }

    /// What keeps the sender from being deleted, or nil.
    private func liveWork(of id: SenderID, _ txn: borrowing Transaction, _ s: WriterState) throws -> String? {
        let pending = try txn.withCursor(tables.pending) { c in
            try Key(sender: id, 0, 0).withBytes { try c.seek(atLeast: $0) }.map { Key.sender($0.key) == id } ?? false
        }
        if pending { return "queued messages" }
        let due = try txn.withCursor(tables.due) { c in
            try Key(sender: id, 0, 0).withBytes { try c.seek(atLeast: $0) }.map { Key.sender($0.key) == id } ?? false
        }
        if due { return "messages waiting to retry or in doubt" }
        // `inflight` is keyed by message alone; it holds at most the pages in flight.
        let inFlight = try txn.withCursor(tables.inflight) { c in
            var entry = try c.first()
            while let (key, _) = entry {
                let message = MessageID(Key.id(key))
                guard let bytes = try Key(id: message.rawValue).withBytes({ try txn.get(tables.messages, $0) }), bytes.count >= MessageCodec.shortHeaderBytes else {
                    throw JournalError.corruptRecord(path: path, table: Schema.inflight, key: "\(message) (no such message)")
                }
                if SenderID(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: MessageCodec.senderOffset, as: UInt32.self))) == id { return true }
                entry = try c.next()
            }
            return false
        }
        if inFlight { return "messages in flight" }
        // A campaign touched by this transaction is newer than its stored record.
        if s.campaigns.values.contains(where: { $0.sender == id && $0.state == .receiving }) { return "a campaign still receiving its upload" }
        let receiving = try txn.withCursor(tables.campaigns) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                let campaign = CampaignID(Key.id(key))
                let header: CampaignRecord
                do { header = try CampaignCodec.readHeader(id: campaign, value) } catch {
                    throw JournalError.corruptRecord(path: path, table: Schema.campaigns, key: campaign.description)
                }
                if header.sender == id && header.state == .receiving && s.campaigns[campaign] == nil { return true }
                entry = try c.next()
            }
            return false
        }
        return receiving ? "a campaign still receiving its upload" : nil
    }
}
