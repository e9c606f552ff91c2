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

    /// The first waiting event of each of `subscription`'s messages after `after`, in
    /// message order, keeping only those due by `dueMilliseconds` — a message's later
    /// events wait until its first is settled, so delivery is in order per message.
    /// Looks at most `scanMax` entries; `resume` is the message to continue after, nil
    /// when the subscriber's entries are exhausted.
    public func outboxHeads(
        subscription: UInt64, after: MessageID?, dueMilliseconds: Int64, limit: Int, scanMax: Int = 10_000
    ) throws(JournalError) -> OutboxPage {
        let start = (after?.rawValue ?? 0).addingReportingOverflow(1)
        guard limit > 0, !start.overflow else { return OutboxPage(entries: [], resume: nil, scanned: 0) }
        return try read { txn in
            try txn.withCursor(tables.outbox) { c in
                var out: [OutboxEntry] = []
                var scanned = 0
                var last: UInt64?
                var entry = try Key.outbox(subscription, start.partialValue, 0).withBytes { try c.seek(atLeast: $0) }
                while let (key, value) = entry {
                    let parts = Key.outboxParts(key)
                    guard parts.subscription == subscription else { return OutboxPage(entries: out, resume: nil, scanned: scanned) }
                    if parts.message != last {
                        // A message's first entry; the ones after it are not looked at.
                        if out.count == limit || scanned >= scanMax {
                            return OutboxPage(entries: out, resume: last.map { MessageID($0) }, scanned: scanned)
                        }
                        last = parts.message
                        guard let next = OutboxCodec.nextAttempt(value) else {
                            throw JournalError.corruptRecord(path: directory, table: Schema.outbox, key: "\(parts.subscription)/\(parts.message)/\(parts.event)")
                        }
                        if next <= dueMilliseconds {
                            do {
                                out.append(try OutboxCodec.read(subscription: subscription, message: MessageID(parts.message), eventID: parts.event, value, cipher))
                            } catch {
                                throw JournalError(record: error, path: directory, table: Schema.outbox, key: "\(parts.subscription)/\(parts.message)/\(parts.event)")
                            }
                        }
                    }
                    scanned += 1
                    entry = try c.next()
                }
                return OutboxPage(entries: out, resume: nil, scanned: scanned)
            }
        }
    }

    /// Subscription ids that have outbox entries (one seek each): after a crash in the
    /// middle of a delete, entries of a deleted subscriber can be found and purged.
    public func outboxSubscriptionIDs() throws(JournalError) -> [UInt64] {
        try read { txn in
            try txn.withCursor(tables.outbox) { c in
                var out: [UInt64] = []
                var from: UInt64 = 0
                while let key = try Key.outbox(from, 0, 0).withBytes({ try c.seek(atLeast: $0) })?.key {
                    let id = Key.outboxParts(key).subscription
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
                    case .delivered, .read, .failed, .unknown, .expired, .cancelled, .suppressed: break
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
