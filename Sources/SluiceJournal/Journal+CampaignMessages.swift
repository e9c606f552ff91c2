import SluiceCore

extension MessageFilter {
    /// From a stored record's clear header: no decryption for what is skipped.
    func accepts(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        guard let state = MessageCodec.readState(bytes) else { return nil }
        if !states.isEmpty && !states.contains(state) { return false }
        if !codes.isEmpty {
            let code = Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: JournalWriter.Offset.errorCode, as: Int32.self))
            return codes.contains(code)
        }
        return true
    }
}

extension Journal {
    /// Records one page reads at most, matching or not.
    public static let messagePageScanMax = 20_000

    /// Up to `limit` of `campaign`'s messages that `filter` accepts, with ids greater than
    /// `after`, in id order. Message ids never change and a campaign only gains messages
    /// at its end, so paging with `next` sees each message once while others are sent.
    /// Nil for an unknown campaign.
    public func messages(
        of campaign: CampaignID, after: MessageID?, filter: MessageFilter = MessageFilter(), limit: Int,
        scanMax: Int = Journal.messagePageScanMax
    ) throws(JournalError) -> MessagePage? {
        try read { txn in
            guard let header = try Key(id: campaign.rawValue).withBytes({ try txn.get(tables.campaigns, $0) }) else { return nil }
            let record: CampaignRecord
            do { record = try CampaignCodec.readHeader(id: campaign, header) } catch {
                throw JournalError(record: error, path: directory, table: Schema.campaigns, key: campaign.description)
            }
            // Records from before the range was kept: the whole table, a page at a time.
            let legacy = record.firstMessage == nil && record.counts.total > 0
            guard let first = legacy ? MessageID(1) : record.firstMessage else { return MessagePage(messages: [], next: nil) }
            let last = legacy ? UInt64.max : (record.lastMessage ?? first).rawValue
            let start = max(first.rawValue, (after?.rawValue ?? 0) &+ 1)
            guard limit > 0, start <= last, start > (after?.rawValue ?? 0) else { return MessagePage(messages: [], next: nil) }
            return try txn.withCursor(tables.messages) { c in
                var out: [MessageRecord] = []
                var scanned = 0
                var entry = try Key(id: start).withBytes { try c.seek(atLeast: $0) }
                while let (key, value) = entry {
                    let id = Key.id(key)
                    if id > last { break }
                    if out.count == limit || scanned == scanMax { return MessagePage(messages: out, next: MessageID(id - 1)) }
                    scanned += 1
                    guard value.count >= MessageCodec.shortHeaderBytes, let accepted = filter.accepts(value) else {
                        throw JournalError.corruptRecord(path: directory, table: Schema.messages, key: "\(id)")
                    }
                    let owner = UInt64(littleEndian: value.loadUnaligned(fromByteOffset: JournalWriter.Offset.campaign, as: UInt64.self))
                    if owner == campaign.rawValue && accepted {
                        do { out.append(try MessageCodec.read(id: MessageID(id), value, cipher)) } catch {
                            throw JournalError(record: error, path: directory, table: Schema.messages, key: "\(id)")
                        }
                    }
                    entry = try c.next()
                }
                return MessagePage(messages: out, next: nil)
            }
        }
    }
}
