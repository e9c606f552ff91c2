import SluiceCore

/// Reads: each a short read transaction, safe from any thread while the writer writes.
extension Journal {
    /// The sender with this WhatsApp `phone_number_id`. Found senders are kept in memory
    /// until a sender is next written or deleted: every webhook names its number.
    public func sender(phoneNumberID: String) throws(JournalError) -> SenderRecord? {
        // The revision first: a write committed after it makes the entry below stale, never
        // an older record current.
        let revision = writer.committedSendersRevision.withLock { $0 }
        if let hit = senderCache.withLock({ $0.revision == revision ? $0.records[phoneNumberID] : nil }) { return hit }
        let record = try read { txn in
            try Array(phoneNumberID.utf8).withUnsafeBytes { key in
                try txn.get(tables.senders, key).map { try decodeSender(phoneNumberID, $0) }
            }
        }
        // Only found ones: the ids webhooks name are not verified before the lookup.
        if let record {
            senderCache.withLock { cache in
                if cache.revision != revision { cache = (revision, [:]) }
                cache.records[phoneNumberID] = record
            }
        }
        return record
    }

    /// Every sender, ordered by `phoneNumberID` bytes.
    public func senders() throws(JournalError) -> [SenderRecord] {
        try read { txn in
            try txn.withCursor(tables.senders) { c in
                var out: [SenderRecord] = []
                var entry = try c.first()
                while let (key, value) = entry {
                    out.append(try decodeSender(String(decoding: key, as: UTF8.self), value))
                    entry = try c.next()
                }
                return out
            }
        }
    }

    /// Every API key, revoked ones too, ordered by id bytes.
    public func apiKeys() throws(JournalError) -> [APIKeyRecord] {
        try read { txn in
            try txn.withCursor(tables.keys) { c in
                var out: [APIKeyRecord] = []
                var entry = try c.first()
                while let (key, value) = entry {
                    let id = String(decoding: key, as: UTF8.self)
                    do { out.append(try APIKeyCodec.read(id: id, value)) } catch {
                        throw JournalError.corruptRecord(path: directory, table: Schema.keys, key: id)
                    }
                    entry = try c.next()
                }
                return out
            }
        }
    }

    /// The stored answer under an idempotency key, expired or not.
    public func idempotency(scope: String, key: String) throws(JournalError) -> IdempotencyRecord? {
        try read { txn in
            try IdempotencyCodec.key(scope: scope, key: key).withUnsafeBytes { k in
                guard k.count <= APIKeyCodec.idBytesMax, let bytes = try txn.get(tables.idempotency, k) else { return nil }
                do { return try IdempotencyCodec.read(scope: scope, key: key, bytes, cipher) } catch {
                    throw JournalError(record: error, path: directory, table: Schema.idempotency, key: "\(scope)/\(key)")
                }
            }
        }
    }

    /// Ids of the campaigns in `state`, in id order (a scan of the campaigns table).
    public func campaignIDs(state: CampaignState) throws(JournalError) -> [CampaignID] {
        try campaignIDs { $0.state == state }
    }

    /// Uploads that did not complete and still hold messages: `receiving` ones, and
    /// `cancelled` ones whose discarding was interrupted. None of them may be sent.
    public func unfinishedUploads() throws(JournalError) -> [CampaignID] {
        try campaignIDs { $0.state == .receiving || ($0.state == .cancelled && $0.counts.total > 0) }
    }

    private func campaignIDs(where include: (CampaignRecord) -> Bool) throws(JournalError) -> [CampaignID] {
        try read { txn in
            try txn.withCursor(tables.campaigns) { c in
                var out: [CampaignID] = []
                var entry = try c.first()
                while let (key, value) = entry {
                    let id = CampaignID(Key.id(key))
                    guard let record = try? CampaignCodec.readHeader(id: id, value) else {
                        throw JournalError.corruptRecord(path: directory, table: Schema.campaigns, key: id.description)
                    }
                    if include(record) { out.append(id) }
                    entry = try c.next()
                }
                return out
            }
        }
    }

    /// Up to `limit` campaigns with ids greater than `after`, in id order; pass the last
    /// id returned as `after` to page.
    public func campaigns(after: CampaignID?, limit: Int) throws(JournalError) -> [CampaignRecord] {
        let start = (after?.rawValue ?? 0).addingReportingOverflow(1)
        guard !start.overflow else { return [] }
        return try campaignRun(from: start.partialValue, limit: limit)
    }

    /// The `limit` newest campaigns (highest ids first).
    public func newestCampaigns(limit: Int) throws(JournalError) -> [CampaignRecord] {
        try campaignRun(from: nil, limit: limit)
    }

    /// Up to `limit` campaigns in id order from the first id ≥ `start`, or backwards from
    /// the newest when `start` is nil.
    private func campaignRun(from start: UInt64?, limit: Int) throws(JournalError) -> [CampaignRecord] {
        guard limit > 0 else { return [] }
        return try read { txn in
            try txn.withCursor(tables.campaigns) { c in
                var out: [CampaignRecord] = []
                var entry = if let start { try Key(id: start).withBytes { try c.seek(atLeast: $0) } } else { try c.last() }
                while let (key, value) = entry, out.count < limit {
                    let id = CampaignID(Key.id(key))
                    do { out.append(try CampaignCodec.read(id: id, value, cipher)) } catch {
                        throw JournalError(record: error, path: directory, table: Schema.campaigns, key: id.description)
                    }
                    entry = start == nil ? try c.previous() : try c.next()
                }
                return out
            }
        }
    }

    /// The campaign with its per-state counts.
    public func campaign(_ id: CampaignID) throws(JournalError) -> CampaignRecord? {
        try read { txn in
            try Key(id: id.rawValue).withBytes { key in
                try txn.get(tables.campaigns, key).map { bytes in
                    do { return try CampaignCodec.read(id: id, bytes, cipher) } catch {
                        throw JournalError(record: error, path: directory, table: Schema.campaigns, key: id.description)
                    }
                }
            }
        }
    }

    /// One message.
    public func message(_ id: MessageID) throws(JournalError) -> MessageRecord? {
        try read { txn in try message(id, txn) }
    }

    /// The message whose send WhatsApp answered with `wamid`; nil when none is known (not
    /// sent by Sluice, removed by retention, or never answered with an id).
    public func messageID(wamid: String) throws(JournalError) -> MessageID? {
        let key = Array(wamid.utf8)
        guard !key.isEmpty, key.count <= JournalWriter.wamidKeyBytesMax else { return nil }
        return try read { txn in
            try key.withUnsafeBytes { k in
                guard let v = try txn.get(tables.wamids, k) else { return nil }
                guard v.count == 8 else { throw JournalError.corruptRecord(path: directory, table: Schema.wamids, key: wamid) }
                return MessageID(UInt64(bigEndian: v.loadUnaligned(as: UInt64.self)))
            }
        }
    }

    /// Up to `limit` messages with ids greater than `after`, in id order, whatever their
    /// state: a scan for operator tools, not for the dispatch path. Pass the last id
    /// returned as `after` to page.
    public func messages(after: MessageID?, limit: Int) throws(JournalError) -> [MessageRecord] {
        let start = (after?.rawValue ?? 0).addingReportingOverflow(1)
        guard limit > 0, !start.overflow else { return [] }
        return try read { txn in
            try txn.withCursor(tables.messages) { c in
                var out: [MessageRecord] = []
                var entry = try Key(id: start.partialValue).withBytes { try c.seek(atLeast: $0) }
                while let (key, value) = entry, out.count < limit {
                    let id = MessageID(Key.id(key))
                    do { out.append(try MessageCodec.read(id: id, value, cipher)) } catch {
                        throw JournalError(record: error, path: directory, table: Schema.messages, key: id.description)
                    }
                    entry = try c.next()
                }
                return out
            }
        }
    }

    /// Up to `limit` `queued` messages of one sender's campaign with ids greater than
    /// `after`, in id order. Pass the last id returned as `after` to page.
    public func queuedMessages(sender: SenderID, campaign: CampaignID, after: MessageID?, limit: Int) throws(JournalError) -> [MessageRecord] {
        let start = (after?.rawValue ?? 0).addingReportingOverflow(1)
        guard limit > 0, !start.overflow else { return [] }
        return try read { txn in
            try txn.withCursor(tables.pending) { c in
                var out: [MessageRecord] = []
                var entry = try Key.pending(sender, campaign, MessageID(start.partialValue)).withBytes { try c.seek(atLeast: $0) }
                while let key = entry?.key, out.count < limit, Key.sender(key) == sender, Key.middle(key) == campaign.rawValue {
                    out.append(try message(Key.message(key), txn, index: Schema.pending))
                    entry = try c.next()
                }
                return out
            }
        }
    }

    /// The campaigns of `sender` that have `queued` messages, in id order.
    public func campaignsWithQueuedMessages(sender: SenderID) throws(JournalError) -> [CampaignID] {
        try read { txn in
            try txn.withCursor(tables.pending) { c in
                var out: [CampaignID] = []
                var from: UInt64 = 0
                // One seek per campaign: skip over each campaign's messages.
                while let key = try Key(sender: sender, from, 0).withBytes({ try c.seek(atLeast: $0) })?.key, Key.sender(key) == sender {
                    let campaign = Key.middle(key)
                    out.append(CampaignID(campaign))
                    if campaign == UInt64.max { break }
                    from = campaign + 1
                }
                return out
            }
        }
    }

    /// Up to `limit` `retry_at` and `in_doubt` messages of `sender` whose not-before time
    /// is ≤ `notAfterMilliseconds`, ordered by that time, then id.
    public func dueMessages(sender: SenderID, notAfterMilliseconds: Int64, limit: Int) throws(JournalError) -> [MessageRecord] {
        guard limit > 0 else { return [] }
        return try read { txn in
            try txn.withCursor(tables.due) { c in
                var out: [MessageRecord] = []
                var entry = try Key.due(sender, notBefore: Int64.min, MessageID(0)).withBytes { try c.seek(atLeast: $0) }
                while let key = entry?.key, out.count < limit, Key.sender(key) == sender,
                      Key.fromOrderedBits(Key.middle(key)) <= notAfterMilliseconds {
                    out.append(try message(Key.message(key), txn, index: Schema.due))
                    entry = try c.next()
                }
                return out
            }
        }
    }

    /// The earliest not-before time among `sender`'s `retry_at` and `in_doubt` messages.
    public func earliestDueMilliseconds(sender: SenderID) throws(JournalError) -> Int64? {
        try read { txn in
            try txn.withCursor(tables.due) { c in
                let entry = try Key.due(sender, notBefore: Int64.min, MessageID(0)).withBytes { try c.seek(atLeast: $0) }
                guard let key = entry?.key, Key.sender(key) == sender else { return nil }
                return Key.fromOrderedBits(Key.middle(key))
            }
        }
    }

    /// A send that counts toward a messaging limit: who got a message of `sender`, and when.
    public struct RecipientSend: Sendable, Equatable {
        public var sender: SenderID
        public var to: String
        public var atMilliseconds: Int64
        public init(sender: SenderID, to: String, atMilliseconds: Int64) {
            self.sender = sender
            self.to = to
            self.atMilliseconds = atMilliseconds
        }
    }

    /// Messages of `senders` that were sent (`sent`, `delivered`, `read`, `unknown`) and
    /// last changed at or after `sinceMilliseconds`, looking at up to `scanMax` message
    /// headers with ids after `after`; `resume` is where to continue (nil at the end).
    /// Only the matches are decrypted. A scan of the whole table in pages, for rebuilding
    /// messaging-limit windows at start; the last change is a bound on the send time from
    /// above, so the window it rebuilds is never smaller than the real one.
    public func recentRecipients(
        of senders: Set<SenderID>, sinceMilliseconds: Int64, after: MessageID?, scanMax: Int
    ) throws(JournalError) -> (sends: [RecipientSend], resume: MessageID?) {
        let start = (after?.rawValue ?? 0).addingReportingOverflow(1)
        guard scanMax > 0, !start.overflow, !senders.isEmpty else { return ([], nil) }
        return try read { txn in
            try txn.withCursor(tables.messages) { c in
                var sends: [RecipientSend] = []
                var scanned = 0
                var entry = try Key(id: start.partialValue).withBytes { try c.seek(atLeast: $0) }
                while let (key, value) = entry {
                    let id = MessageID(Key.id(key))
                    if scanned == scanMax { return (sends, MessageID(id.rawValue - 1)) }
                    scanned += 1
                    guard let state = MessageCodec.readState(value) else {
                        throw JournalError.corruptRecord(path: directory, table: Schema.messages, key: id.description)
                    }
                    switch state {
                    case .sent, .delivered, .read, .unknown:
                        let sender = SenderID(UInt32(littleEndian: value.loadUnaligned(fromByteOffset: MessageCodec.senderOffset, as: UInt32.self)))
                        let updated = Int64(littleEndian: value.loadUnaligned(fromByteOffset: MessageCodec.updatedOffset, as: Int64.self))
                        if updated >= sinceMilliseconds && senders.contains(sender) {
                            let record: MessageRecord
                            do { record = try MessageCodec.read(id: id, value, cipher) } catch {
                                throw JournalError(record: error, path: directory, table: Schema.messages, key: id.description)
                            }
                            sends.append(RecipientSend(sender: sender, to: record.to, atMilliseconds: updated))
                        }
                    case .queued, .inFlight, .retryAt, .inDoubt, .failed, .expired, .cancelled, .suppressed, .handedOver: break
                    }
                    entry = try c.next()
                }
                return (sends, nil)
            }
        }
    }

    // MARK: Helpers

    func message(_ id: MessageID, _ txn: borrowing Transaction, index: String? = nil) throws -> MessageRecord? {
        try Key(id: id.rawValue).withBytes { key in
            guard let bytes = try txn.get(tables.messages, key) else { return nil }
            do { return try MessageCodec.read(id: id, bytes, cipher) } catch {
                throw JournalError(record: error, path: directory, table: Schema.messages, key: id.description)
            }
        }
    }

    /// A message an index points at: its absence is corruption.
    private func message(_ id: MessageID, _ txn: borrowing Transaction, index: String) throws -> MessageRecord {
        guard let record = try message(id, txn, index: nil) else {
            throw JournalError.corruptRecord(path: directory, table: index, key: "\(id) (no such message)")
        }
        return record
    }

    private func decodeSender(_ phone: String, _ bytes: UnsafeRawBufferPointer) throws -> SenderRecord {
        do { return try SenderCodec.read(phoneNumberID: phone, bytes, cipher) } catch {
            throw JournalError(record: error, path: directory, table: Schema.senders, key: phone)
        }
    }
}
