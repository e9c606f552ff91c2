import SluiceCore

/// A finished campaign that retention may remove.
public struct RetentionCandidate: Sendable, Equatable {
    public var campaign: CampaignID
    /// Its messages, and the lowest id among them (where removal starts its scan).
    public var messages: Int
    public var firstMessage: MessageID?
    /// The latest change of the campaign: the last `updated` time of its messages, or its
    /// creation when it has none.
    public var lastChangeMilliseconds: Int64
}

/// Campaigns and messages removed by retention since the journal was created.
public struct RetentionTotals: Sendable, Equatable {
    public var campaigns: UInt64 = 0
    public var messages: UInt64 = 0
    public init(campaigns: UInt64 = 0, messages: UInt64 = 0) {
        self.campaigns = campaigns
        self.messages = messages
    }
}

extension Journal {
    /// Finished campaigns whose last change is before `cutoffMilliseconds`, in id order: no
    /// message `queued`, `in_flight`, `retry_at` or `in_doubt` (by the stored counts), not
    /// a `receiving` upload, and no status event of theirs waiting in the outbox.
    ///
    /// One read transaction with memory bounded by the campaigns: the campaign headers
    /// first; only when one of them is finished and was created before the cutoff are the
    /// messages streamed (for the last change of each candidate) and the outbox scanned.
    public func retentionCandidates(cutoffMilliseconds: Int64) throws(JournalError) -> [RetentionCandidate] {
        try read { txn in
            var candidates: [CampaignID: RetentionCandidate] = [:]
            try txn.withCursor(tables.campaigns) { c in
                var entry = try c.first()
                while let (key, value) = entry {
                    entry = try c.next()
                    let id = CampaignID(Key.id(key))
                    guard let record = try? CampaignCodec.readHeader(id: id, value) else {
                        throw JournalError.corruptRecord(path: directory, table: Schema.campaigns, key: id.description)
                    }
                    if Self.isFinished(record), record.createdMilliseconds < cutoffMilliseconds {
                        candidates[id] = RetentionCandidate(campaign: id, messages: 0, firstMessage: nil, lastChangeMilliseconds: record.createdMilliseconds)
                    }
                }
            }
            guard !candidates.isEmpty else { return [] }
            try txn.withCursor(tables.messages) { c in
                var entry = try c.first()
                while let (key, value) = entry {
                    entry = try c.next()
                    guard let header = MessageHeader(value) else {
                        throw JournalError.corruptRecord(path: directory, table: Schema.messages, key: String(Key.id(key)))
                    }
                    guard var candidate = candidates[header.campaign] else { continue }
                    candidate.messages += 1
                    if candidate.firstMessage == nil { candidate.firstMessage = MessageID(Key.id(key)) }
                    candidate.lastChangeMilliseconds = max(candidate.lastChangeMilliseconds, header.updated)
                    candidates[header.campaign] = candidate
                }
            }
            try txn.withCursor(tables.outbox) { c in
                var entry = try c.first()
                while let (key, value) = entry {
                    guard key.count == Key.outboxEntryBytes else {
                        // A version 1 outbox, inspected without migrating it: the campaign is in the value.
                        if let lane = OutboxCodec.lane(value), let campaign = OutboxLane.campaign(of: lane) { candidates[campaign] = nil }
                        entry = try c.next()
                        continue
                    }
                    // One seek per lane: a campaign lane with any entry keeps its campaign.
                    let parts = Key.outboxEntryParts(key)
                    if let campaign = OutboxLane.campaign(of: parts.lane) { candidates[campaign] = nil }
                    if parts.lane == UInt64.max {
                        entry = parts.subscription == UInt64.max ? nil : try Key(id: parts.subscription + 1).withBytes { try c.seek(atLeast: $0) }
                    } else {
                        entry = try Key.outboxEntry(parts.subscription, lane: parts.lane + 1, 0, 0).withBytes { try c.seek(atLeast: $0) }
                    }
                }
            }
            return candidates.values.filter { $0.lastChangeMilliseconds < cutoffMilliseconds }.sorted { $0.campaign < $1.campaign }
        }
    }

    /// Campaigns and messages retention removed so far.
    public func retentionTotals() throws(JournalError) -> RetentionTotals {
        try read { txn in
            try Array(Schema.metaRetentionRemovedKey.utf8).withUnsafeBytes { k in
                guard let v = try txn.get(tables.meta, k), v.count == 16 else { return RetentionTotals() }
                return RetentionTotals(
                    campaigns: UInt64(bigEndian: v.loadUnaligned(as: UInt64.self)),
                    messages: UInt64(bigEndian: v.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
        }
    }

    /// No unsent message, and not an upload still arriving.
    static func isFinished(_ record: CampaignRecord) -> Bool {
        record.state != .receiving && record.counts[.queued] == 0 && record.counts[.inFlight] == 0
            && record.counts[.retryAt] == 0 && record.counts[.inDoubt] == 0
    }
}

extension JournalWriter {
    /// Messages looked at per removed one, at most, in one `removeCampaign` (a campaign's
    /// messages may be interleaved with others' when uploads overlapped).
    static let removalScanFactor = 8

    /// Deletes up to `max` messages of a finished campaign with ids from `from` on, and
    /// the campaign record once none is left. Returns the messages deleted and where to
    /// continue (nil: the campaign is gone). Refuses (`campaignState`) a campaign that is
    /// not finished, or whose messages have status events waiting in the outbox.
    func removeCampaign(_ id: CampaignID, from: MessageID, max: Int, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> (Int, MessageID?) {
        guard let record = try loadCampaign(id, txn, &s) else { return (0, nil) }
        guard Journal.isFinished(record) else {
            throw JournalError.campaignState(id, state: record.state, expected: "finished (no unsent message)")
        }
        let scanMax = Swift.max(1, max) * Self.removalScanFactor
        var doomed: [(MessageID, MessageState, wamid: String?)] = []
        let resume = try txn.withCursor(tables.messages) { c -> MessageID? in
            var scanned = 0
            var entry = try Key(id: from.rawValue).withBytes { try c.seek(atLeast: $0) }
            while let (key, value) = entry {
                let message = MessageID(Key.id(key))
                if doomed.count == max || scanned == scanMax { return message }
                scanned += 1
                guard let header = MessageHeader(value) else {
                    throw JournalError.corruptRecord(path: path, table: Schema.messages, key: message.description)
                }
                if header.campaign == id { doomed.append((message, header.state, MessageCodec.readWamid(value))) }
                entry = try c.next()
            }
            return nil
        }
        // The campaign's status events wait in its lane: one seek per subscriber.
        for subscription in s.outbox.subscriptions.keys {
            let waiting = try txn.withCursor(tables.outbox) { c in
                try Key.outboxEntry(subscription, lane: OutboxLane.campaign(id), 0, 0).withBytes { try c.seek(atLeast: $0) }.map {
                    let parts = Key.outboxEntryParts($0.key)
                    return parts.subscription == subscription && parts.lane == OutboxLane.campaign(id)
                } ?? false
            }
            if waiting {
                throw JournalError.campaignState(id, state: record.state, expected: "no status event waiting for delivery")
            }
        }
        for (message, state, wamid) in doomed {
            let removed = try Key(id: message.rawValue).withBytes { try txn.delete(tables.messages, $0) }
            if let wamid { try deleteWamid(wamid, of: message, txn) }
            assert(removed, "message \(message) vanished during its removal")
            assert(s.campaigns[id]!.counts[state] > 0, "campaign \(id) counts no \(state) message")
            s.campaigns[id]!.counts[state] &-= 1
        }
        var removedCampaigns: UInt64 = 0
        if resume == nil {
            guard s.campaigns[id]!.counts.total == 0 else {
                throw JournalError.corruptRecord(path: path, table: Schema.campaigns, key: "\(id) (counts \(s.campaigns[id]!.counts.total) message(s) not found from \(from) on)")
            }
            try Key(id: id.rawValue).withBytes { _ = try txn.delete(tables.campaigns, $0) }
            s.campaigns[id] = nil
            removedCampaigns = 1
            try putMeta(Schema.metaNextCampaignIDKey, s.nextCampaignID, txn)
        }
        if !doomed.isEmpty {
            // The deleted ids may have been the last ones: keep the next id above them.
            try putMeta(Schema.metaNextMessageIDKey, s.nextMessageID, txn)
        }
        if removedCampaigns > 0 || !doomed.isEmpty {
            let totals = try Array(Schema.metaRetentionRemovedKey.utf8).withUnsafeBytes { k -> (UInt64, UInt64) in
                guard let v = try txn.get(tables.meta, k), v.count == 16 else { return (0, 0) }
                return (UInt64(bigEndian: v.loadUnaligned(as: UInt64.self)), UInt64(bigEndian: v.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            let bytes = withUnsafeBytes(of: (totals.0 + removedCampaigns).bigEndian) { Array($0) }
                + withUnsafeBytes(of: (totals.1 + UInt64(doomed.count)).bigEndian) { Array($0) }
            try Array(Schema.metaRetentionRemovedKey.utf8).withUnsafeBytes { k in try bytes.withUnsafeBytes { try txn.put(tables.meta, k, $0) } }
        }
        return (doomed.count, resume)
    }

    func putMeta(_ name: String, _ value: UInt64, _ txn: borrowing Transaction) throws {
        try Array(name.utf8).withUnsafeBytes { k in try withUnsafeBytes(of: value.bigEndian) { try txn.put(tables.meta, k, $0) } }
    }
}
