import SluiceCore

/// Reads of subscribers, their outbox, and the `sent` messages the status deadline looks at.
extension Journal {
    /// Moves whenever a commit adds outbox events: a delivery worker with nothing to do
    /// waits for it to move rather than reading the outbox again and again.
    public var outboxRevision: UInt64 { writer.committedNextEventID.withLock { $0 } }

    /// Every subscriber, in id order, with its counters as of the last commit.
    public func subscriptions() throws(JournalError) -> [SubscriptionRecord] {
        try read { txn in
            try txn.withCursor(tables.subscriptions) { c in
                var out: [SubscriptionRecord] = []
                var entry = try c.first()
                while let (key, value) = entry {
                    out.append(try decodeSubscription(Key.id(key), value))
                    entry = try c.next()
                }
                return out
            }
        }
    }

    public func subscription(_ id: UInt64) throws(JournalError) -> SubscriptionRecord? {
        try read { txn in
            try Key(id: id).withBytes { key in try txn.get(tables.subscriptions, key).map { try decodeSubscription(id, $0) } }
        }
    }

    /// Heads taken from one lane per visit: a lane with 500 000 due events and one with 10
    /// share each page.
    public static let outboxLaneHeadsMax = 4
    /// Entries looked at in one lane per visit, due or not: a lane whose first entries wait
    /// out their backoff does not use up a page's scan.
    public static let outboxLaneScanMax = 256

    /// The first waiting event under each order key (a message, a contact's incoming
    /// messages, a number's account events), keeping only those due by `dueMilliseconds`:
    /// a key's later events wait until its first is settled, so delivery is in order per key.
    ///
    /// Taken round-robin across lanes (`OutboxLane`): from `cursor.lane` on, each lane in
    /// turn gives up to `laneHeadsMax` heads, looking at up to `laneScanMax` of its entries
    /// from where its last visit stopped; after the last lane the page goes on from the
    /// first, skipping lanes it read to their end, until `limit` heads or `scanMax` entries
    /// looked at. `resume` is nil once every lane was read to its end since the pass began.
    public func outboxHeads(
        subscription: UInt64, from cursor: OutboxCursor = OutboxCursor(), dueMilliseconds: Int64, limit: Int, scanMax: Int = 10_000,
        laneHeadsMax: Int = Journal.outboxLaneHeadsMax, laneScanMax: Int = Journal.outboxLaneScanMax
    ) throws(JournalError) -> OutboxPage {
        precondition(laneHeadsMax > 0 && laneScanMax > 0, "a lane visit takes at least one entry")
        guard limit > 0 else { return OutboxPage(entries: [], resume: cursor, scanned: 0) }
        return try read { txn in
            try txn.withCursor(tables.outbox) { c in
                var cursor = cursor
                var out: [OutboxEntry] = []
                var scanned = 0
                // Lanes read to their end in this page: a second visit would offer their heads again.
                var finished: Set<UInt64> = []
                var lane: UInt64? = cursor.lane
                // The first wrap goes on to the lanes before `cursor.lane`; a later one only after a visit.
                var visitedSinceWrap = true
                while out.count < limit && scanned < scanMax {
                    let found = try lane.flatMap { from in
                        try Key.outboxEntry(subscription, lane: from, 0, 0).withBytes { try c.seek(atLeast: $0) }
                            .map { Key.outboxEntryParts($0.key) }
                            .flatMap { $0.subscription == subscription ? $0.lane : nil }
                    }
                    guard let found else {
                        // Past the last lane: positions from `lane` on name lanes now empty.
                        if let from = lane { cursor.forget(from: from, below: nil) }
                        if cursor.isPassOver { return OutboxPage(entries: out, resume: nil, scanned: scanned) }
                        cursor.untracked = false
                        if !visitedSinceWrap { break }
                        visitedSinceWrap = false
                        lane = 0
                        continue
                    }
                    if let from = lane { cursor.forget(from: from, below: found) }
                    lane = found == UInt64.max ? nil : found + 1
                    scanned += 1
                    if finished.contains(found) { continue }
                    visitedSinceWrap = true
                    if try visit(found, &c, subscription, &cursor, &out, &scanned, due: dueMilliseconds, limit: limit, scanMax: scanMax,
                                 headsMax: laneHeadsMax, lookMax: laneScanMax) {
                        finished.insert(found)
                    }
                }
                cursor.lane = lane ?? 0
                return OutboxPage(entries: out, resume: cursor, scanned: scanned)
            }
        }
    }

    /// One visit of `lane`, from after its position: appends its due heads. Returns whether
    /// it read the lane to its end (its position forgotten), else leaves its position.
    private func visit(
        _ lane: UInt64, _ c: inout Cursor, _ subscription: UInt64, _ cursor: inout OutboxCursor, _ out: inout [OutboxEntry],
        _ scanned: inout Int, due: Int64, limit: Int, scanMax: Int, headsMax: Int, lookMax: Int
    ) throws -> Bool {
        var start: UInt64 = 0
        if let position = cursor.position(lane) {
            guard position < UInt64.max else {
                cursor.forget(from: lane, below: lane + 1)
                return true
            }
            start = position + 1
        }
        var heads = 0
        var looked = 0
        var last: UInt64?
        var entry = try Key.outboxEntry(subscription, lane: lane, start, 0).withBytes { try c.seek(atLeast: $0) }
        while let (key, value) = entry {
            let parts = Key.outboxEntryParts(key)
            guard parts.subscription == subscription, parts.lane == lane else { break }
            if parts.order != last {
                // An order key's first entry; the ones after it are not looked at.
                if let last, heads == headsMax || looked >= lookMax || out.count == limit || scanned >= scanMax {
                    cursor.leave(lane, after: last)
                    return false
                }
                last = parts.order
                guard let next = OutboxCodec.nextAttempt(value) else {
                    throw JournalError.corruptRecord(path: directory, table: Schema.outbox, key: "\(subscription)/\(lane)/\(parts.order)/\(parts.event)")
                }
                if next <= due {
                    do {
                        out.append(try OutboxCodec.read(subscription: subscription, message: MessageID(parts.order), eventID: parts.event, value, cipher))
                    } catch {
                        throw JournalError(record: error, path: directory, table: Schema.outbox, key: "\(subscription)/\(lane)/\(parts.order)/\(parts.event)")
                    }
                    heads += 1
                }
            }
            looked += 1
            scanned += 1
            entry = try c.next()
        }
        cursor.forget(from: lane, below: lane == UInt64.max ? nil : lane + 1)
        return true
    }

    /// Subscription ids that have outbox entries (one seek each): after a crash in the
    /// middle of a delete, entries of a deleted subscriber can be found and purged.
    public func outboxSubscriptionIDs() throws(JournalError) -> [UInt64] {
        try read { txn in
            try txn.withCursor(tables.outbox) { c in
                var out: [UInt64] = []
                var from: UInt64 = 0
                while let key = try Key(id: from).withBytes({ try c.seek(atLeast: $0) })?.key {
                    let id = UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
                    out.append(id)
                    if id == UInt64.max { break }
                    from = id + 1
                }
                return out
            }
        }
    }

    /// What one pass over message headers found for the status deadline.
    public struct SentScan: Sendable, Equatable {
        /// `sent` messages last changed before the cutoff.
        public var expired: [MessageID]
        /// Every message below this id (from the scan's start) is past `sent` or expired:
        /// no later scan needs to look at it again.
        public var settledBelow: MessageID
        /// Where to continue; nil when the scan reached `below` or the last message.
        public var resume: MessageID?
    }

    /// Looks at up to `scanMax` message headers with ids from `from` up to (not including)
    /// `below` for `sent` messages whose last change is before `updatedBeforeMilliseconds`
    /// (at most `limit` of them).
    public func scanSent(
        from: MessageID, below: MessageID = MessageID(UInt64.max), updatedBeforeMilliseconds cutoff: Int64, scanMax: Int, limit: Int
    ) throws(JournalError) -> SentScan {
        try read { txn in
            try txn.withCursor(tables.messages) { c in
                var scan = SentScan(expired: [], settledBelow: from, resume: nil)
                var unsettledSeen = false
                var scanned = 0
                var entry = try Key(id: from.rawValue).withBytes { try c.seek(atLeast: $0) }
                while let (key, value) = entry {
                    let id = Key.id(key)
                    if id >= below.rawValue { return scan }
                    if scanned >= scanMax || scan.expired.count >= limit {
                        scan.resume = MessageID(id)
                        return scan
                    }
                    scanned += 1
                    guard let state = MessageCodec.readState(value) else {
                        throw JournalError.corruptRecord(path: directory, table: Schema.messages, key: String(id))
                    }
                    var settled = true
                    switch state {
                    case .sent:
                        let updated = Int64(littleEndian: value.loadUnaligned(fromByteOffset: MessageCodec.updatedOffset, as: Int64.self))
                        if updated < cutoff { scan.expired.append(MessageID(id)) } else { settled = false }
                    case .queued, .inFlight, .retryAt, .inDoubt: settled = false
                    case .delivered, .read, .failed, .unknown, .expired, .cancelled, .suppressed, .handedOver: break
                    }
                    if !settled { unsettledSeen = true }
                    if !unsettledSeen { scan.settledBelow = MessageID(id + 1) }
                    entry = try c.next()
                }
                return scan
            }
        }
    }

    private func decodeSubscription(_ id: UInt64, _ bytes: UnsafeRawBufferPointer) throws -> SubscriptionRecord {
        do { return try SubscriptionCodec.read(id: id, bytes, cipher) } catch {
            throw JournalError(record: error, path: directory, table: Schema.subscriptions, key: String(id))
        }
    }
}
