import SluiceCore

/// The writer's view of the subscribers: every record (few, bounded by the API), so that
/// a transition decides in memory whether it has anything to emit.
struct OutboxState {
    var subscriptions: [UInt64: SubscriptionRecord] = [:]
    var nextSubscriptionID: UInt64 = 1
    var nextEventID: UInt64 = 1
    /// `nextEventID` as `meta` holds it.
    var storedNextEventID: UInt64 = 1
    /// Subscribers whose counters changed in this transaction.
    var dirty: Set<UInt64> = []

    static func load(_ txn: borrowing Transaction, _ tables: Tables, _ cipher: RecordCipher, path: String) throws -> OutboxState {
        var state = OutboxState()
        try txn.withCursor(tables.subscriptions) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                let id = Key.id(key)
                let record: SubscriptionRecord
                do { record = try SubscriptionCodec.read(id: id, value, cipher) } catch {
                    throw JournalError(record: error, path: path, table: Schema.subscriptions, key: String(id))
                }
                state.subscriptions[id] = record
                state.nextSubscriptionID = max(state.nextSubscriptionID, id + 1)
                entry = try c.next()
            }
        }
        let stored = try Array(Schema.metaNextEventIDKey.utf8).withUnsafeBytes { k in
            try txn.get(tables.meta, k).flatMap { $0.count == 8 ? UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) : nil }
        }
        state.nextEventID = max(stored ?? 1, 1)
        state.storedNextEventID = state.nextEventID
        return state
    }
}

extension Journal {
    /// Subscribers a journal keeps: each costs a look per reported transition.
    public static let subscriptionsMax = 100
}

/// Subscribers and their outbox inside a write transaction. An event is written in the
/// transaction of the state change it reports: it exists exactly when the change committed.
extension JournalWriter {
    /// Longest subscriber URL and secret.
    static let subscriptionURLBytesMax = 2048
    static let subscriptionSecretBytesMax = 512

    func createSubscription(_ record: SubscriptionRecord, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> SubscriptionRecord {
        guard s.outbox.subscriptions.count < Journal.subscriptionsMax else { throw JournalError.tooManySubscriptions(subscriptionsMax: Journal.subscriptionsMax) }
        guard !record.url.isEmpty, record.url.utf8.count <= Self.subscriptionURLBytesMax else {
            throw JournalError.invalidField(field: "url", reason: "\(record.url.utf8.count) bytes, expected 1…\(Self.subscriptionURLBytesMax)")
        }
        guard !record.secret.isEmpty, record.secret.utf8.count <= Self.subscriptionSecretBytesMax else {
            throw JournalError.invalidField(field: "secret", reason: "\(record.secret.utf8.count) bytes, expected 1…\(Self.subscriptionSecretBytesMax)")
        }
        guard !record.events.isEmpty else { throw JournalError.invalidField(field: "events", reason: "expected at least one kind of event") }
        if let states = record.states {
            guard !states.isEmpty, states.allSatisfy(\.isReported) else {
                throw JournalError.invalidField(field: "states", reason: "expected a non-empty set of reported states")
            }
        }
        var stored = record
        stored.id = s.outbox.nextSubscriptionID
        stored.counters = DeliveryCounters()
        s.outbox.nextSubscriptionID += 1
        let final = stored
        try Key(id: final.id).withBytes { key in
            try txn.putReserving(tables.subscriptions, key, count: SubscriptionCodec.size(final, cipher), append: false) { SubscriptionCodec.write(final, cipher, to: $0) }
        }
        s.outbox.subscriptions[final.id] = final
        return final
    }

    /// Removes the subscriber and up to `discardMax` of its entries; returns how many.
    func deleteSubscription(_ id: UInt64, discardMax: Int, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> Int {
        if s.outbox.subscriptions.removeValue(forKey: id) != nil {
            s.outbox.dirty.remove(id)
            try Key(id: id).withBytes { _ = try txn.delete(tables.subscriptions, $0) }
        }
        let keys = try txn.withCursor(tables.outbox) { c in
            var out: [Key] = []
            var entry = try Key(id: id).withBytes { try c.seek(atLeast: $0) }
            while let key = entry?.key, out.count < discardMax {
                let parts = Key.outboxEntryParts(key)
                guard parts.subscription == id else { break }
                out.append(Key.outboxEntry(parts.subscription, lane: parts.lane, parts.order, parts.event))
                entry = try c.next()
            }
            return out
        }
        for key in keys { try key.withBytes { _ = try txn.delete(tables.outbox, $0) } }
        return keys.count
    }

    func settle(_ settlements: [OutboxSettlement], _ txn: borrowing Transaction, _ s: inout WriterState) throws -> Int {
        var found = 0
        for settlement in settlements {
            switch settlement {
            case let .delivered(subscription, lane, message, event):
                guard try Key.outboxEntry(subscription, lane: lane, message.rawValue, event).withBytes({ try txn.delete(tables.outbox, $0) }) else { continue }
                count(subscription, &s) { $0.pending &-= 1; $0.delivered += 1 }
            case let .dead(subscription, lane, message, event):
                guard try Key.outboxEntry(subscription, lane: lane, message.rawValue, event).withBytes({ try txn.delete(tables.outbox, $0) }) else { continue }
                count(subscription, &s) { $0.pending &-= 1; $0.failedAttempts += 1; $0.dead += 1 }
            case let .failed(subscription, lane, message, event, attempts, next):
                let key = Key.outboxEntry(subscription, lane: lane, message.rawValue, event)
                guard let stored = try key.withBytes({ try txn.get(tables.outbox, $0) }) else { continue }
                guard OutboxCodec.hasHeader(stored) else {
                    throw JournalError.corruptRecord(path: path, table: Schema.outbox, key: "\(subscription)/\(message)/\(event)")
                }
                scratch.removeAll(keepingCapacity: true)
                scratch.append(contentsOf: stored)
                scratch.withUnsafeMutableBytes { b in
                    b.storeBytes(of: attempts.littleEndian, toByteOffset: OutboxCodec.attemptsOffset, as: UInt32.self)
                    b.storeBytes(of: next.littleEndian, toByteOffset: OutboxCodec.nextAttemptOffset, as: Int64.self)
                }
                try key.withBytes { k in try scratch.withUnsafeBytes { try txn.put(tables.outbox, k, $0) } }
                count(subscription, &s) { $0.failedAttempts += 1 }
            }
            found += 1
        }
        return found
    }

    /// Writes an entry for every subscriber that accepts this change of message `id`.
    func emit(_ id: MessageID, campaign: CampaignID, sender: SenderID, state: MessageState, _ txn: borrowing Transaction, _ s: inout WriterState) throws {
        // A mirrored subscription filters by the campaign's origin: read it only then (the
        // transition has the campaign loaded for its counts).
        let origin = s.outbox.subscriptions.values.contains { $0.origin != nil } ? try loadCampaign(campaign, txn, &s)?.options.origin : nil
        guard s.outbox.subscriptions.values.contains(where: { $0.accepts(campaign: campaign, origin: origin, state: state) }) else { return }
        let message: MessageRecord
        do {
            guard let stored = try Key(id: id.rawValue).withBytes({ k in try txn.get(tables.messages, k).map { try MessageCodec.read(id: id, $0, cipher) } }) else {
                throw JournalError.corruptRecord(path: path, table: Schema.messages, key: id.description)
            }
            message = stored
        } catch let error as JournalError {
            throw error
        } catch let error as LMDBError {
            throw error
        } catch {
            throw JournalError(record: error, path: path, table: Schema.messages, key: id.description)
        }
        let event = StatusEvent(
            eventID: s.outbox.nextEventID, message: id, campaign: campaign, senderPhoneNumberID: s.senderPhones[sender] ?? "",
            recipient: message.to, state: state, wamid: message.wamid, errorCode: state == .failed || state == .unknown ? message.errorCode : 0,
            errorMessage: state == .failed || state == .unknown ? message.errorMessage : nil,
            occurredMilliseconds: message.updatedMilliseconds)
        s.outbox.nextEventID += 1
        let size = OutboxCodec.size(event, cipher)
        // By index, so that counting in place does not copy the dictionary (a for-in
        // iterator would hold its storage).
        var i = s.outbox.subscriptions.startIndex
        while i != s.outbox.subscriptions.endIndex {
            let (subscription, record) = s.outbox.subscriptions[i]
            if record.accepts(campaign: campaign, origin: origin, state: state) {
                try Key.outboxEntry(subscription, lane: OutboxLane.campaign(campaign), id.rawValue, event.eventID).withBytes { key in
                    try Key.outbox(subscription, id.rawValue, event.eventID).withBytes { identity in
                        try txn.putReserving(tables.outbox, key, count: size, append: false) {
                            OutboxCodec.write(event, attempts: 0, nextAttemptMilliseconds: 0, key: identity, cipher, to: $0)
                        }
                    }
                }
                s.outbox.subscriptions.values[i].counters.pending += 1
                s.outbox.dirty.insert(subscription)
            }
            s.outbox.subscriptions.formIndex(after: &i)
        }
    }

    private func count(_ subscription: UInt64, _ s: inout WriterState, _ change: (inout DeliveryCounters) -> Void) {
        guard s.outbox.subscriptions[subscription] != nil else { return }  // deleted: its entries are being purged
        change(&s.outbox.subscriptions[subscription]!.counters)
        s.outbox.dirty.insert(subscription)
    }

    func flushOutbox(_ txn: borrowing Transaction, _ s: inout WriterState) throws {
        for id in s.outbox.dirty {
            guard let record = s.outbox.subscriptions[id] else { continue }
            assert(record.counters.pending < UInt64.max / 2, "subscription \(id) pending count underflow")
            try Key(id: id).withBytes { key in
                try txn.putReserving(tables.subscriptions, key, count: SubscriptionCodec.size(record, cipher), append: false) { SubscriptionCodec.write(record, cipher, to: $0) }
            }
        }
        s.outbox.dirty.removeAll(keepingCapacity: true)
        if s.outbox.nextEventID != s.outbox.storedNextEventID {
            let next = s.outbox.nextEventID.bigEndian
            try Array(Schema.metaNextEventIDKey.utf8).withUnsafeBytes { k in
                try withUnsafeBytes(of: next) { try txn.put(tables.meta, k, $0) }
            }
            s.outbox.storedNextEventID = s.outbox.nextEventID
        }
    }
}
