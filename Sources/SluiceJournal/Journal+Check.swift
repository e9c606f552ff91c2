import SluiceCore

/// One broken invariant found by `Journal.check`.
public struct JournalViolation: Sendable, Equatable, CustomStringConvertible {
    /// The table holding the key involved.
    public var table: String
    /// The key, as `sluice journal messages` and the error messages print it.
    public var key: String
    public var problem: String

    public var description: String { "\(table) \(key): \(problem)" }
}

/// What `Journal.check` looked at and the invariants it found broken.
public struct JournalCheckReport: Sendable, Equatable {
    public var messages = 0
    public var campaigns = 0
    public var pending = 0
    public var due = 0
    public var inFlight = 0
    /// Outbox entries.
    public var outbox = 0
    /// The first `violationsMax` violations, in the order found.
    public var violations: [JournalViolation] = []
    /// All violations, including those beyond `violationsMax`.
    public var violationCount = 0

    /// Violations kept in the report: a badly broken journal still checks in bounded memory.
    public static let violationsMax = 1_000

    public var isClean: Bool { violationCount == 0 }

    mutating func report(_ table: String, _ key: String, _ problem: String) {
        violationCount += 1
        if violations.count < Self.violationsMax { violations.append(JournalViolation(table: table, key: key, problem: problem)) }
    }
}

extension Journal {
    /// Verifies the journal's invariants in one read transaction (the writer keeps
    /// writing; the check sees one snapshot), with memory bounded by the number of
    /// campaigns: the messages table is streamed and only per-campaign counts are kept.
    ///
    /// - every `pending` entry names a `queued` message of the same sender and campaign;
    /// - every `due` entry a `retry_at` or `in_doubt` message of the same sender whose
    ///   not-before time is the entry's;
    /// - every `inflight` entry an `in_flight` message;
    /// - every `queued`, `retry_at`, `in_doubt` and `in_flight` message has its entry;
    /// - every message's campaign exists and has the message's sender;
    /// - each campaign's stored per-state counts equal the counts of its messages;
    /// - the stored id floors (`next_message_id`, `next_campaign_id`) are well formed;
    /// - every `media_due` entry names a `pending` media record due at the entry's time,
    ///   and every pending record has one; each file's count in `media_blobs` is the
    ///   number of `stored` records naming it;
    /// - a contact is suppressed exactly when `suppressed` has its key;
    /// - every `outbox` entry is in its event's lane, and each subscriber's `pending` count
    ///   is its number of entries (an outbox still in version 1's layout, inspected without
    ///   migrating it, is only counted).
    ///
    ///     let report = try journal.check()
    ///     for v in report.violations { print(v) }
    ///
    /// Needs no key: it reads the clear headers only.
    public func check() throws(JournalError) -> JournalCheckReport {
        try read { txn in
            var report = JournalCheckReport()
            var campaigns: [CampaignID: (sender: SenderID, stored: StateCounts, found: StateCounts)] = [:]
            try txn.withCursor(tables.campaigns) { c in
                var entry = try c.first()
                while let (key, value) = entry {
                    entry = try c.next()
                    guard key.count == Key.idBytes else {
                        report.report(Schema.campaigns, hex(key), "key of \(key.count) bytes, expected \(Key.idBytes)")
                        continue
                    }
                    let id = CampaignID(Key.id(key))
                    guard let record = try? CampaignCodec.readHeader(id: id, value) else {
                        report.report(Schema.campaigns, id.description, "record does not decode")
                        continue
                    }
                    campaigns[id] = (record.sender, record.counts, StateCounts())
                }
            }
            report.campaigns = campaigns.count
            for name in [Schema.metaNextMessageIDKey, Schema.metaNextCampaignIDKey] {
                let value = try Array(name.utf8).withUnsafeBytes { k in try txn.get(tables.meta, k).map { Array($0) } }
                if let value, value.count != 8 { report.report(Schema.meta, name, "\(value.count) bytes, expected 8") }
            }

            // Messages: each counted in its campaign, each waiting one with its index entry.
            try txn.withCursor(tables.messages) { c in
                var entry = try c.first()
                while let (key, value) = entry {
                    entry = try c.next()
                    report.messages += 1
                    guard key.count == Key.idBytes else {
                        report.report(Schema.messages, hex(key), "key of \(key.count) bytes, expected \(Key.idBytes)")
                        continue
                    }
                    let id = MessageID(Key.id(key))
                    guard let header = MessageHeader(value) else {
                        report.report(Schema.messages, id.description, "record header does not decode")
                        continue
                    }
                    if let campaign = campaigns[header.campaign] {
                        campaigns[header.campaign]!.found[header.state] += 1
                        if campaign.sender != header.sender {
                            report.report(Schema.messages, id.description, "sender \(header.sender), its campaign \(header.campaign) has sender \(campaign.sender)")
                        }
                    } else {
                        report.report(Schema.messages, id.description, "its campaign \(header.campaign) does not exist")
                    }
                    let index: (String, Key)?
                    switch header.state {
                    case .queued: index = (Schema.pending, Key.pending(header.sender, header.campaign, id))
                    case .retryAt, .inDoubt: index = (Schema.due, Key.due(header.sender, notBefore: header.notBefore, id))
                    case .inFlight: index = (Schema.inflight, Key(id: id.rawValue))
                    case .sent, .failed, .delivered, .read, .unknown, .expired, .cancelled, .suppressed, .handedOver: index = nil
                    }
                    if let index {
                        let (table, indexKey) = index
                        let db = table == Schema.pending ? tables.pending : table == Schema.due ? tables.due : tables.inflight
                        if try indexKey.withBytes({ try txn.get(db, $0) }) == nil {
                            report.report(Schema.messages, id.description, "\(header.state) but no '\(table)' entry")
                        }
                    }
                }
            }

            // Index entries: each names a message in the state, sender, campaign and time it says.
            try txn.withCursor(tables.pending) { c in
                var entry = try c.first()
                while let (key, _) = entry {
                    entry = try c.next()
                    report.pending += 1
                    guard key.count == Key.triple else {
                        report.report(Schema.pending, hex(key), "key of \(key.count) bytes, expected \(Key.triple)")
                        continue
                    }
                    let (sender, campaign, id) = (Key.sender(key), CampaignID(Key.middle(key)), Key.message(key))
                    let name = "\(sender)/\(campaign)/\(id)"
                    guard let header = try messageHeader(id, txn) else {
                        report.report(Schema.pending, name, "message \(id) does not exist or does not decode")
                        continue
                    }
                    if header.state != .queued { report.report(Schema.pending, name, "message \(id) is \(header.state), not queued") }
                    if header.sender != sender { report.report(Schema.pending, name, "message \(id) has sender \(header.sender)") }
                    if header.campaign != campaign { report.report(Schema.pending, name, "message \(id) is of campaign \(header.campaign)") }
                }
            }
            try txn.withCursor(tables.due) { c in
                var entry = try c.first()
                while let (key, _) = entry {
                    entry = try c.next()
                    report.due += 1
                    guard key.count == Key.triple else {
                        report.report(Schema.due, hex(key), "key of \(key.count) bytes, expected \(Key.triple)")
                        continue
                    }
                    let (sender, notBefore, id) = (Key.sender(key), Key.fromOrderedBits(Key.middle(key)), Key.message(key))
                    let name = "\(sender)/\(notBefore)/\(id)"
                    guard let header = try messageHeader(id, txn) else {
                        report.report(Schema.due, name, "message \(id) does not exist or does not decode")
                        continue
                    }
                    if header.state != .retryAt && header.state != .inDoubt {
                        report.report(Schema.due, name, "message \(id) is \(header.state), not retry_at or in_doubt")
                    }
                    if header.sender != sender { report.report(Schema.due, name, "message \(id) has sender \(header.sender)") }
                    if header.notBefore != notBefore { report.report(Schema.due, name, "message \(id) has not-before \(header.notBefore)") }
                }
            }
            try txn.withCursor(tables.inflight) { c in
                var entry = try c.first()
                while let (key, _) = entry {
                    entry = try c.next()
                    report.inFlight += 1
                    guard key.count == Key.idBytes else {
                        report.report(Schema.inflight, hex(key), "key of \(key.count) bytes, expected \(Key.idBytes)")
                        continue
                    }
                    let id = MessageID(Key.id(key))
                    guard let header = try messageHeader(id, txn) else {
                        report.report(Schema.inflight, id.description, "message \(id) does not exist or does not decode")
                        continue
                    }
                    if header.state != .inFlight { report.report(Schema.inflight, id.description, "message \(id) is \(header.state), not in_flight") }
                }
            }

            for (id, campaign) in campaigns.sorted(by: { $0.key < $1.key }) where campaign.stored != campaign.found {
                let differing = MessageState.allCases.filter { campaign.stored[$0] != campaign.found[$0] }
                    .map { "\($0) \(campaign.stored[$0]) stored, \(campaign.found[$0]) found" }
                report.report(Schema.campaigns, id.description, "counts disagree with its messages: " + differing.joined(separator: ", "))
            }
            try checkMedia(txn, &report)
            try checkContacts(txn, &report)
            try checkOutbox(txn, &report)
            return report
        }
    }

    /// The media tables against each other; memory bounded by the distinct stored files.
    private func checkMedia(_ txn: borrowing Transaction, _ report: inout JournalCheckReport) throws {
        var blobs: [String: UInt64] = [:]
        try txn.withCursor(tables.media) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                entry = try c.next()
                let id = String(decoding: key, as: UTF8.self)
                guard let record = try? MediaCodec.read(id: id, value) else {
                    report.report(Schema.media, id, "record does not decode")
                    continue
                }
                switch record.state {
                case .stored: blobs[record.sha256, default: 0] += 1
                case .pending:
                    let due = try MediaCodec.dueKey(id, nextAttemptMilliseconds: record.nextAttemptMilliseconds).withUnsafeBytes { try txn.get(tables.mediaDue, $0) }
                    if due == nil { report.report(Schema.media, id, "pending, but no media_due entry at \(record.nextAttemptMilliseconds)") }
                case .failed: break
                }
            }
        }
        try txn.withCursor(tables.mediaDue) { c in
            var entry = try c.first()
            while let (key, _) = entry {
                entry = try c.next()
                guard let (at, id) = MediaCodec.dueParts(key) else {
                    report.report(Schema.mediaDue, hex(key), "key of \(key.count) bytes, expected a time and an id")
                    continue
                }
                let record = try Array(id.utf8).withUnsafeBytes { try txn.get(tables.media, $0) }.flatMap { try? MediaCodec.read(id: id, $0) }
                if record?.state != .pending || record?.nextAttemptMilliseconds != at {
                    report.report(Schema.mediaDue, id, "entry at \(at) names no pending media record due then")
                }
            }
        }
        try txn.withCursor(tables.mediaBlobs) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                entry = try c.next()
                let sha = String(decoding: key, as: UTF8.self)
                let stored = value.count == 8 ? UInt64(bigEndian: value.loadUnaligned(as: UInt64.self)) : 0
                let found = blobs.removeValue(forKey: sha) ?? 0
                if stored != found { report.report(Schema.mediaBlobs, sha, "count \(stored), but \(found) stored record(s) name the file") }
            }
        }
        for (sha, found) in blobs.sorted(by: { $0.key < $1.key }) {
            report.report(Schema.mediaBlobs, sha, "no count, but \(found) stored record(s) name the file")
        }
    }

    /// `suppressed` against the contacts' own flag; memory constant.
    private func checkContacts(_ txn: borrowing Transaction, _ report: inout JournalCheckReport) throws {
        try txn.withCursor(tables.contacts) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                guard key.count == Key.outboxBytes, let header = try? ContactCodec.readHeader(value) else {
                    report.report(Schema.contacts, hex(key), "record does not decode")
                    entry = try c.next()
                    continue
                }
                let indexed = try txn.get(tables.suppressed, key) != nil
                if header.suppressed != indexed {
                    report.report(Schema.contacts, hex(key), header.suppressed ? "suppressed, but no 'suppressed' entry" : "not suppressed, but a 'suppressed' entry")
                }
                entry = try c.next()
            }
        }
        try txn.withCursor(tables.suppressed) { c in
            var entry = try c.first()
            while let (key, _) = entry {
                if try txn.get(tables.contacts, key) == nil { report.report(Schema.suppressed, hex(key), "names no contact") }
                entry = try c.next()
            }
        }
    }

    /// The outbox against the lanes and the subscribers' counters; memory bounded by the
    /// subscribers.
    private func checkOutbox(_ txn: borrowing Transaction, _ report: inout JournalCheckReport) throws {
        var counted: [UInt64: UInt64] = [:]
        try txn.withCursor(tables.outbox) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                entry = try c.next()
                report.outbox += 1
                if outboxVersion1 { continue }
                guard key.count == Key.outboxEntryBytes else {
                    report.report(Schema.outbox, hex(key), "key of \(key.count) bytes, expected \(Key.outboxEntryBytes)")
                    continue
                }
                let parts = Key.outboxEntryParts(key)
                let name = "\(parts.subscription)/\(parts.lane)/\(parts.order)/\(parts.event)"
                counted[parts.subscription, default: 0] += 1
                guard let lane = OutboxCodec.lane(value) else {
                    report.report(Schema.outbox, name, "record header does not decode")
                    continue
                }
                if lane != parts.lane { report.report(Schema.outbox, name, "in lane \(parts.lane), its event's lane is \(lane)") }
            }
        }
        if outboxVersion1 { return }
        try txn.withCursor(tables.subscriptions) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                entry = try c.next()
                guard key.count == Key.idBytes, let record = try? SubscriptionCodec.read(id: Key.id(key), value, cipher) else {
                    report.report(Schema.subscriptions, hex(key), "record does not decode")
                    continue
                }
                // Entries of a deleted subscriber (a delete cut short) are purged at start: not counted.
                let found = counted[record.id] ?? 0
                if record.counters.pending != found {
                    report.report(Schema.subscriptions, String(record.id), "pending \(record.counters.pending), but \(found) outbox entries")
                }
            }
        }
    }

    private func messageHeader(_ id: MessageID, _ txn: borrowing Transaction) throws -> MessageHeader? {
        try Key(id: id.rawValue).withBytes { key in try txn.get(tables.messages, key).flatMap(MessageHeader.init) }
    }
}

/// The clear fields of a `messages` record that the check and retention read (`MessageCodec`).
struct MessageHeader {
    var state: MessageState
    var sender: SenderID
    var campaign: CampaignID
    var notBefore: Int64
    var updated: Int64

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard let state = MessageCodec.readState(bytes) else { return nil }
        self.state = state
        sender = SenderID(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: MessageCodec.senderOffset, as: UInt32.self)))
        campaign = CampaignID(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: JournalWriter.Offset.campaign, as: UInt64.self)))
        notBefore = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: JournalWriter.Offset.notBefore, as: Int64.self))
        updated = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: MessageCodec.updatedOffset, as: Int64.self))
    }
}

private func hex(_ bytes: UnsafeRawBufferPointer) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
