import SluiceCore

/// Message transitions inside a write transaction: the record patched in place (its
/// sealed part copied, never re-encrypted), its index entries moved, its campaign's
/// counts and failures kept exact, and the subscribers' events written.
extension JournalWriter {
    /// Header offsets of `MessageCodec`, for patching a record in place.
    enum Offset {
        static let state = 1
        static let attempts = 4
        static let sender = 6
        static let errorCode = 10
        static let campaign = 14
        static let notBefore = 22
        static let updated = 30
        static let sentTime = 46
        static let deliveredTime = 54
        static let readTime = 62
        static let endedTime = 70
    }

    /// Applies each allowed transition; counts unknown ids, forbidden moves and sends the
    /// contact gate ended (`gate`) as rejected.
    func apply(_ transitions: [MessageTransition], _ txn: borrowing Transaction, _ s: inout WriterState) throws -> (applied: Int, rejected: [MessageID]) {
        var applied = 0
        var rejected: [MessageID] = []
        for t in transitions {
            if try transition(t, txn, &s) { applied += 1 } else { rejected.append(t.id) }
        }
        return (applied, rejected)
    }

    func transition(_ t: MessageTransition, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> Bool {
        if let wamid = t.wamid { try checkLength(wamid, "wamid") }
        if let e = t.errorMessage { try checkLength(e, "errorMessage") }
        let key = Key(id: t.id.rawValue)
        guard let stored = try key.withBytes({ try txn.get(tables.messages, $0) }) else { return false }
        guard let from = MessageCodec.readState(stored) else {
            throw JournalError.corruptRecord(path: path, table: Schema.messages, key: t.id.description)
        }
        guard from.canTransition(to: t.to) else { return false }
        let sender = SenderID(stored.loadUnaligned(fromByteOffset: Offset.sender, as: UInt32.self).littleEndian)
        let campaign = CampaignID(stored.loadUnaligned(fromByteOffset: Offset.campaign, as: UInt64.self).littleEndian)
        if t.to == .inFlight, let stopped = try gate(stored, t, sender: sender, campaign: campaign, txn, &s) {
            // Ended without a request: not moved as asked, so the caller does not send it.
            _ = try transition(stopped, txn, &s)
            return false
        }
        let oldNotBefore = Int64(littleEndian: stored.loadUnaligned(fromByteOffset: Offset.notBefore, as: Int64.self))
        let notBefore = t.to == .retryAt || t.to == .inDoubt ? t.notBeforeMilliseconds : 0
        // Statuses repeat the wamid the send recorded: index it only when it is new. A
        // resend's new wamid is added beside the old one (the first send may have gone).
        let indexWamid = t.wamid.flatMap { $0 != MessageCodec.readWamid(stored) ? $0 : nil }

        scratch.removeAll(keepingCapacity: true)
        if t.wamid == nil && t.errorMessage == nil && stored[0] == MessageCodec.format {
            // Same strings: copy the record and patch its fixed header.
            scratch.append(contentsOf: stored)
        } else if stored[0] != MessageCodec.clearFormat {
            // New strings (or the times format 2 lacks) in the clear part; the sealed part
            // is copied, not re-encrypted.
            do { try MessageCodec.replacingStrings(stored, wamid: t.wamid, errorMessage: t.errorMessage, into: &scratch) } catch {
                throw JournalError.corruptRecord(path: path, table: Schema.messages, key: t.id.description)
            }
        } else {
            // A record from before encryption: rewritten in this format, sealed.
            var record: MessageRecord
            do { record = try MessageCodec.read(id: t.id, stored, cipher) } catch {
                throw JournalError(record: error, path: path, table: Schema.messages, key: t.id.description)
            }
            if let wamid = t.wamid { record.wamid = wamid }
            if let e = t.errorMessage { record.errorMessage = e }
            let final = record
            scratch.append(contentsOf: repeatElement(0, count: MessageCodec.size(final, cipher)))
            scratch.withUnsafeMutableBytes { MessageCodec.write(final, cipher, to: $0.baseAddress!) }
        }
        scratch.withUnsafeMutableBytes { b in
            b.storeBytes(of: t.to.rawValue, toByteOffset: Offset.state, as: UInt8.self)
            if let attempts = t.attempts { b.storeBytes(of: attempts.littleEndian, toByteOffset: Offset.attempts, as: UInt16.self) }
            if t.errorCode != 0 { b.storeBytes(of: t.errorCode.littleEndian, toByteOffset: Offset.errorCode, as: Int32.self) }
            b.storeBytes(of: notBefore.littleEndian, toByteOffset: Offset.notBefore, as: Int64.self)
            b.storeBytes(of: t.updatedMilliseconds.littleEndian, toByteOffset: Offset.updated, as: Int64.self)
            if let offset = Self.timeOffset(t.to) {
                // Milestones keep their first time; an ending keeps its last.
                let first = Int64(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: Int64.self))
                if first == 0 || offset == Offset.endedTime {
                    b.storeBytes(of: t.updatedMilliseconds.littleEndian, toByteOffset: offset, as: Int64.self)
                }
            }
        }
        try key.withBytes { k in try scratch.withUnsafeBytes { try txn.put(tables.messages, k, $0) } }
        if let indexWamid { try putWamid(indexWamid, t.id, txn) }

        try removeIndex(from, sender: sender, campaign: campaign, notBefore: oldNotBefore, id: t.id, txn)
        try addIndex(t.to, sender: sender, campaign: campaign, notBefore: notBefore, id: t.id, txn)
        guard try loadCampaign(campaign, txn, &s) != nil else {
            throw JournalError.corruptRecord(path: path, table: Schema.campaigns, key: "\(campaign) (of message \(t.id))")
        }
        assert(s.campaigns[campaign]!.counts[from] > 0, "campaign \(campaign) has no \(from) message to move")
        s.campaigns[campaign]!.counts[from] &-= 1
        s.campaigns[campaign]!.counts[t.to] += 1
        if t.to == .failed {
            let code = t.errorCode != 0 ? t.errorCode : Int32(littleEndian: stored.loadUnaligned(fromByteOffset: Offset.errorCode, as: Int32.self))
            s.campaigns[campaign]!.failures.add(code)
        }
        // The one check a transition pays when nobody subscribes.
        if !s.outbox.subscriptions.isEmpty && t.to.isReported {
            try emit(t.id, campaign: campaign, sender: sender, state: t.to, txn, &s)
        }
        return true
    }

    /// Where a move to `state` records its time in a format 3 record.
    static func timeOffset(_ state: MessageState) -> Int? {
        switch state {
        case .sent: Offset.sentTime
        case .delivered: Offset.deliveredTime
        case .read: Offset.readTime
        case .failed, .unknown, .expired, .cancelled, .suppressed, .handedOver: Offset.endedTime
        case .queued, .inFlight, .retryAt, .inDoubt: nil
        }
    }

    /// Longest wamid indexed: LMDB's key limit is 511 bytes; WhatsApp's are under 100.
    static let wamidKeyBytesMax = 480

    func putWamid(_ wamid: String, _ id: MessageID, _ txn: borrowing Transaction) throws {
        let key = Array(wamid.utf8)
        guard !key.isEmpty, key.count <= Self.wamidKeyBytesMax else { return }
        try key.withUnsafeBytes { k in try withUnsafeBytes(of: id.rawValue.bigEndian) { try txn.put(tables.wamids, k, $0) } }
    }

    /// Removes `wamid`'s entry if it still names `id` (a removed message's).
    func deleteWamid(_ wamid: String, of id: MessageID, _ txn: borrowing Transaction) throws {
        let key = Array(wamid.utf8)
        guard !key.isEmpty, key.count <= Self.wamidKeyBytesMax else { return }
        try key.withUnsafeBytes { k in
            guard let v = try txn.get(tables.wamids, k), v.count == 8, UInt64(bigEndian: v.loadUnaligned(as: UInt64.self)) == id.rawValue else { return }
            _ = try txn.delete(tables.wamids, k)
        }
    }

    private func removeIndex(_ state: MessageState, sender: SenderID, campaign: CampaignID, notBefore: Int64, id: MessageID, _ txn: borrowing Transaction) throws {
        let removed: Bool
        switch state {
        case .queued: removed = try Key.pending(sender, campaign, id).withBytes { try txn.delete(tables.pending, $0) }
        case .retryAt, .inDoubt: removed = try Key.due(sender, notBefore: notBefore, id).withBytes { try txn.delete(tables.due, $0) }
        case .inFlight: removed = try Key(id: id.rawValue).withBytes { try txn.delete(tables.inflight, $0) }
        case .sent, .failed, .delivered, .read, .unknown, .expired, .cancelled, .suppressed, .handedOver: removed = true
        }
        assert(removed, "message \(id) in \(state) had no index entry")
    }

    private func addIndex(_ state: MessageState, sender: SenderID, campaign: CampaignID, notBefore: Int64, id: MessageID, _ txn: borrowing Transaction) throws {
        switch state {
        case .queued: try Key.pending(sender, campaign, id).withBytes { try txn.put(tables.pending, $0, emptyValue) }
        case .retryAt, .inDoubt: try Key.due(sender, notBefore: notBefore, id).withBytes { try txn.put(tables.due, $0, emptyValue) }
        case .inFlight: try Key(id: id.rawValue).withBytes { try txn.put(tables.inflight, $0, emptyValue) }
        case .sent, .failed, .delivered, .read, .unknown, .expired, .cancelled, .suppressed, .handedOver: break
        }
    }
}
