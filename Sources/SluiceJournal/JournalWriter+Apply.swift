import SluiceCore

/// Applying mutations inside a write transaction. Every change keeps the indexes
/// (`pending`, `due`, `inflight`) and the campaign counts exact.
///
/// Inside the writer, a `CampaignRecord`'s `message` is its sealed section as stored
/// (`CampaignCodec.readStored`): count updates copy it, they never re-encrypt it.
extension JournalWriter {
    /// Longest campaign message object.
    static let campaignMessageBytesMax = 1 << 20

    func apply(_ mutations: [JournalMutation], _ txn: borrowing Transaction, _ s: inout WriterState) throws -> [MutationResult] {
        var results: [MutationResult] = []
        results.reserveCapacity(mutations.count)
        for mutation in mutations {
            switch mutation {
            case .putSender(let record):
                results.append(.sender(try putSender(record, txn, &s)))
            case .deleteSender(let phoneNumberID):
                results.append(.deletedSender(try deleteSender(phoneNumberID, txn, &s)))
            case let .setSenderFencing(phoneNumberID, fencing):
                guard var record = try storedSender(phoneNumberID, txn) else {
                    throw JournalError.invalidField(field: "phoneNumberID", reason: "no sender \(phoneNumberID) to record an ownership of")
                }
                record.fencing = fencing
                _ = try putSender(record, txn, &s)
                results.append(.done)
            case let .createCampaign(sender, message, created, recipients, options):
                guard s.senderPhones[sender] != nil else { throw JournalError.unknownSender(sender) }
                guard message.count <= Self.campaignMessageBytesMax else {
                    throw JournalError.invalidField(field: "message", reason: "\(message.count) bytes, more than \(Self.campaignMessageBytesMax)")
                }
                try validate(recipients)
                try validate(options)
                let id = CampaignID(s.nextCampaignID)
                s.nextCampaignID += 1
                s.campaigns[id] = CampaignRecord(
                    id: id, sender: sender, createdMilliseconds: created, message: CampaignCodec.sealedMessage(message, id: id, cipher),
                    options: options)
                try linkRetry(id, options, txn, &s)
                let first = try appendMessages(recipients, campaign: id, sender: sender, created: created, txn, &s)
                results.append(.campaign(id, firstMessage: first, count: recipients.count))
            case let .appendMessages(campaign, created, recipients):
                guard let record = try loadCampaign(campaign, txn, &s) else { throw JournalError.unknownCampaign(campaign) }
                guard record.state != .cancelled else { throw JournalError.campaignState(campaign, state: record.state, expected: "receiving or active") }
                try validate(recipients)
                let first = try appendMessages(recipients, campaign: campaign, sender: record.sender, created: created, txn, &s)
                results.append(.messages(firstMessage: first, count: recipients.count))
            case .transition(let transitions):
                let (applied, rejected) = try apply(transitions, txn, &s)
                results.append(.transitions(applied: applied, rejected: rejected))
            case let .beginCampaign(sender, message, created, options):
                guard s.senderPhones[sender] != nil else { throw JournalError.unknownSender(sender) }
                guard message.count <= Self.campaignMessageBytesMax else {
                    throw JournalError.invalidField(field: "message", reason: "\(message.count) bytes, more than \(Self.campaignMessageBytesMax)")
                }
                try validate(options)
                let id = CampaignID(s.nextCampaignID)
                s.nextCampaignID += 1
                s.campaigns[id] = CampaignRecord(
                    id: id, sender: sender, state: .receiving, createdMilliseconds: created, message: CampaignCodec.sealedMessage(message, id: id, cipher),
                    options: options)
                try linkRetry(id, options, txn, &s)
                results.append(.campaign(id, firstMessage: MessageID(s.nextMessageID), count: 0))
            case let .completeCampaign(id, options):
                guard let record = try loadCampaign(id, txn, &s) else { throw JournalError.unknownCampaign(id) }
                guard record.state == .receiving else { throw JournalError.campaignState(id, state: record.state, expected: "receiving") }
                s.campaigns[id]!.state = .active
                if var options {
                    try validate(options)
                    // What it retries, and where it came from, were fixed when it began.
                    options.retryOf = record.options.retryOf
                    options.origin = record.options.origin
                    s.campaigns[id]!.options = options
                }
                results.append(.done)
            case let .cancelCampaign(id, discardMax, removing):
                results.append(.discarded(try cancelCampaign(id, discardMax: discardMax, removing: removing, txn, &s)))
            case let .putIdempotency(record, replacingCreatedBefore):
                try putIdempotency(record, replacingCreatedBefore: replacingCreatedBefore, txn)
                results.append(.done)
            case let .purgeIdempotency(createdBefore, max):
                results.append(.purged(try purgeIdempotency(createdBefore: createdBefore, max: max, txn)))
            case .createAPIKey(let record):
                results.append(.apiKey(try createAPIKey(record, txn)))
            case let .revokeAPIKey(id, revoked):
                results.append(.apiKey(try revokeAPIKey(id: id, at: revoked, txn)))
            case .createSubscription(let record):
                results.append(.subscription(try createSubscription(record, txn, &s)))
            case let .deleteSubscription(id, discardMax):
                results.append(.discarded(try deleteSubscription(id, discardMax: discardMax, txn, &s)))
            case .settleOutbox(let settlements):
                results.append(.settled(try settle(settlements, txn, &s)))
            case let .recordInbound(messages, actions):
                results.append(try recordInbound(messages, actions: actions, txn, &s))
            case let .removeInbound(before, after, max):
                let (records, resume) = try removeInbound(receivedBefore: before, after: after, max: max, txn)
                results.append(.inboundRemoved(records: records, resume: resume))
            case let .recordAccountUpdate(update, sender):
                results.append(.sender(try recordAccountUpdate(update, sender: sender, txn, &s)))
            case let .setSuppression(phoneNumberID, waID, suppressed, at, source):
                results.append(try setSuppression(phoneNumberID: phoneNumberID, waID: waID, suppressed: suppressed, atMilliseconds: at, source: source, txn, &s))
            case .settleMedia(let settlements):
                results.append(.settled(try settleMedia(settlements, txn)))
            case let .removeMedia(receivedBefore, after, max):
                let (removed, unreferenced, resume) = try removeMedia(receivedBefore: receivedBefore, after: after, max: max, txn)
                results.append(.mediaRemoved(records: removed, unreferenced: unreferenced, resume: resume))
            case .storeUpload(let record):
                try storeUpload(record, txn)
                results.append(.done)
            case .recordMediaUpload(let upload):
                results.append(try recordMediaUpload(upload, txn) ? .done : .settled(0))
            case let .setCampaignState(id, state, reason):
                results.append(.campaignState(try setCampaignState(id, state, reason: reason, txn, &s)))
            case let .endMessages(campaign, to, max, updated):
                results.append(.moved(try endMessages(campaign, to: to, max: max, updatedMilliseconds: updated, txn, &s)))
            case let .removeCampaign(id, from, max):
                let (removed, resume) = try removeCampaign(id, from: from, max: max, txn, &s)
                results.append(.removed(messages: removed, resume: resume))
            }
        }
        return results
    }

    // MARK: API keys

    private func createAPIKey(_ record: APIKeyRecord, _ txn: borrowing Transaction) throws -> APIKeyRecord {
        let idBytes = record.id.utf8.count
        guard idBytes > 0, idBytes <= APIKeyCodec.idBytesMax else {
            throw JournalError.invalidField(field: "id", reason: "\(idBytes) bytes, expected 1…\(APIKeyCodec.idBytesMax)")
        }
        guard record.secretDigest.count <= APIKeyCodec.secretDigestBytesMax else {
            throw JournalError.invalidField(field: "secretDigest", reason: "\(record.secretDigest.count) bytes, more than \(APIKeyCodec.secretDigestBytesMax)")
        }
        try checkLength(record.name, "name")
        try Array(record.id.utf8).withUnsafeBytes { key in
            guard try txn.get(tables.keys, key) == nil else { throw JournalError.apiKeyExists(id: record.id) }
            try txn.putReserving(tables.keys, key, count: APIKeyCodec.size(record), append: false) { APIKeyCodec.write(record, to: $0) }
        }
        return record
    }

    private func revokeAPIKey(id: String, at revoked: Int64, _ txn: borrowing Transaction) throws -> APIKeyRecord? {
        try Array(id.utf8).withUnsafeBytes { key -> APIKeyRecord? in
            guard !key.isEmpty, key.count <= APIKeyCodec.idBytesMax, let bytes = try txn.get(tables.keys, key) else { return nil }
            var record: APIKeyRecord
            do { record = try APIKeyCodec.read(id: id, bytes) } catch {
                throw JournalError.corruptRecord(path: path, table: Schema.keys, key: id)
            }
            if record.revokedMilliseconds != nil { return record }
            record.revokedMilliseconds = revoked
            let final = record
            try txn.putReserving(tables.keys, key, count: APIKeyCodec.size(final), append: false) { APIKeyCodec.write(final, to: $0) }
            return final
        }
    }

    // MARK: Streamed campaigns

    /// Marks the campaign cancelled and deletes up to `discardMax` of its queued messages
    /// (message records and `pending` entries). Returns how many it deleted.
    private func cancelCampaign(_ id: CampaignID, discardMax: Int, removing: Bool, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> Int {
        guard let record = try loadCampaign(id, txn, &s) else { throw JournalError.unknownCampaign(id) }
        guard record.state == .receiving || record.state == .cancelled else {
            throw JournalError.campaignState(id, state: record.state, expected: "receiving or cancelled")
        }
        s.campaigns[id]!.state = .cancelled
        let ids = try txn.withCursor(tables.pending) { c in
            var out: [MessageID] = []
            var entry = try Key.pending(record.sender, id, MessageID(0)).withBytes { try c.seek(atLeast: $0) }
            while let key = entry?.key, out.count < discardMax, Key.sender(key) == record.sender, Key.middle(key) == id.rawValue {
                out.append(Key.message(key))
                entry = try c.next()
            }
            return out
        }
        for message in ids {
            let removedIndex = try Key.pending(record.sender, id, message).withBytes { try txn.delete(tables.pending, $0) }
            let removedRecord = try Key(id: message.rawValue).withBytes { try txn.delete(tables.messages, $0) }
            assert(removedIndex && removedRecord, "pending entry of message \(message) without its record")
        }
        assert(s.campaigns[id]!.counts[.queued] >= UInt64(ids.count), "campaign \(id) counts fewer queued messages than its pending entries")
        s.campaigns[id]!.counts[.queued] -= UInt64(ids.count)
        if !ids.isEmpty {
            // The deleted ids may have been the last ones: keep the next id above them.
            let next = s.nextMessageID.bigEndian
            try Array(Schema.metaNextMessageIDKey.utf8).withUnsafeBytes { k in
                try withUnsafeBytes(of: next) { try txn.put(tables.meta, k, $0) }
            }
        }
        if removing && ids.count < discardMax && s.campaigns[id]!.counts.total == 0 {
            // Never completed, nothing left: the upload leaves no trace (its id is not reused).
            try Key(id: id.rawValue).withBytes { _ = try txn.delete(tables.campaigns, $0) }
            s.campaigns[id] = nil
            try putMeta(Schema.metaNextCampaignIDKey, s.nextCampaignID, txn)
        }
        return ids.count
    }

    // MARK: Idempotency

    private func putIdempotency(_ record: IdempotencyRecord, replacingCreatedBefore: Int64, _ txn: borrowing Transaction) throws {
        let scopeBytes = record.scope.utf8.count
        guard scopeBytes > 0, scopeBytes <= IdempotencyRecord.scopeBytesMax, !record.scope.utf8.contains(0) else {
            throw JournalError.invalidField(field: "scope", reason: "\(scopeBytes) bytes, expected 1…\(IdempotencyRecord.scopeBytesMax) without a 0 byte")
        }
        let keyBytes = record.key.utf8.count
        guard keyBytes > 0, keyBytes <= IdempotencyRecord.keyBytesMax else {
            throw JournalError.invalidField(field: "key", reason: "\(keyBytes) bytes, expected 1…\(IdempotencyRecord.keyBytesMax)")
        }
        guard record.requestDigest.count <= IdempotencyCodec.requestDigestBytesMax, record.body.count <= IdempotencyRecord.answerBytesMax,
              (0...Int(UInt16.max)).contains(record.status) else {
            throw JournalError.invalidField(field: "answer", reason: "digest, body or status out of bounds")
        }
        try IdempotencyCodec.key(scope: record.scope, key: record.key).withUnsafeBytes { key in
            if let stored = try txn.get(tables.idempotency, key) {
                let existing: IdempotencyRecord
                do { existing = try IdempotencyCodec.read(scope: record.scope, key: record.key, stored, cipher) } catch {
                    throw JournalError(record: error, path: path, table: Schema.idempotency, key: "\(record.scope)/\(record.key)")
                }
                guard existing.createdMilliseconds < replacingCreatedBefore else {
                    throw JournalError.idempotencyKeyExists(scope: record.scope, key: record.key)
                }
            }
            try txn.putReserving(tables.idempotency, key, count: IdempotencyCodec.size(record, cipher), append: false) {
                IdempotencyCodec.write(record, key: key, cipher, to: $0)
            }
        }
    }

    /// Scans the whole table (a day of keys) and deletes up to `max` expired records.
    static let nodeScopePrefix = Array(IdempotencyRecord.nodeScopePrefix.utf8)
    static let handoverExtraMilliseconds = IdempotencyRecord.handoverLifetimeMilliseconds - IdempotencyRecord.lifetimeMilliseconds

    private func purgeIdempotency(createdBefore: Int64, max: Int, _ txn: borrowing Transaction) throws -> Int {
        let expired = try txn.withCursor(tables.idempotency) { c in
            var out: [[UInt8]] = []
            var entry = try c.first()
            while let (key, value) = entry, out.count < max {
                var created = Int64.min
                if value.count >= 9 { created = Int64(littleEndian: value.loadUnaligned(fromByteOffset: IdempotencyCodec.createdOffset, as: Int64.self)) }
                // An unreadable record is dropped too: it can answer nothing.
                let readable = value.first == IdempotencyCodec.format || value.first == IdempotencyCodec.clearFormat
                // A node's handovers are kept longer (`IdempotencyRecord.handoverLifetimeMilliseconds`).
                let before = key.starts(with: Self.nodeScopePrefix) ? createdBefore - Self.handoverExtraMilliseconds : createdBefore
                if created < before || !readable { out.append(Array(key)) }
                entry = try c.next()
            }
            return out
        }
        for key in expired { _ = try key.withUnsafeBytes { try txn.delete(tables.idempotency, $0) } }
        return expired.count
    }

    // MARK: Senders

    func putSender(_ record: SenderRecord, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> SenderID {
        var record = record
        let phoneBytes = record.phoneNumberID.utf8.count
        guard phoneBytes > 0, phoneBytes <= SenderCodec.phoneNumberIDBytesMax else {
            throw JournalError.invalidField(field: "phoneNumberID", reason: "\(phoneBytes) bytes, expected 1…\(SenderCodec.phoneNumberIDBytesMax)")
        }
        try checkLength(record.accessToken, "accessToken")
        if let reason = record.pauseReason { try checkLength(reason, "pauseReason") }
        if let group = record.group { try checkLength(group, "group") }
        if let limit = record.messagingLimit, !(1...Int(UInt32.max)).contains(limit) {
            throw JournalError.invalidField(field: "messagingLimit", reason: "\(limit), expected 1…\(UInt32.max)")
        }
        if let existing = s.senderIDs[record.phoneNumberID] {
            guard record.id.rawValue == 0 || record.id == existing else {
                throw JournalError.senderIDConflict(record.id, phoneNumberID: record.phoneNumberID)
            }
            record.id = existing
            // The ownership is the cluster's doing, not the writer's of the rest.
            if record.fencing == nil { record.fencing = try storedSender(record.phoneNumberID, txn)?.fencing }
        } else {
            if record.id.rawValue == 0 {
                record.id = SenderID(s.nextSenderID)
            } else if let other = s.senderPhones[record.id] {
                throw JournalError.senderIDConflict(record.id, phoneNumberID: other)
            }
            s.nextSenderID = max(s.nextSenderID, record.id.rawValue + 1)
            s.senderIDs[record.phoneNumberID] = record.id
            s.senderPhones[record.id] = record.phoneNumberID
        }
        if let display = record.displayPhoneNumber { try checkLength(display, "displayPhoneNumber") }
        if let keywords = record.optOutKeywords {
            guard keywords.count <= Int(UInt16.max) else { throw JournalError.invalidField(field: "optOutKeywords", reason: "\(keywords.count) keywords") }
            for k in keywords { try checkLength(k, "optOutKeywords") }
        }
        let stored = record
        s.sendersRevision &+= 1
        try Array(record.phoneNumberID.utf8).withUnsafeBytes { key in
            try txn.putReserving(tables.senders, key, count: SenderCodec.size(stored, cipher), append: false) { SenderCodec.write(stored, cipher, to: $0) }
        }
        if record.customerWindow == .enforce { s.windowEnforced.insert(record.id) } else { s.windowEnforced.remove(record.id) }
        return record.id
    }

    /// The sender as stored, read in this transaction.
    func storedSender(_ phoneNumberID: String, _ txn: borrowing Transaction) throws -> SenderRecord? {
        try Array(phoneNumberID.utf8).withUnsafeBytes { key -> SenderRecord? in
            guard let bytes = try txn.get(tables.senders, key) else { return nil }
            do { return try SenderCodec.read(phoneNumberID: phoneNumberID, bytes, cipher) } catch {
                throw JournalError(record: error, path: path, table: Schema.senders, key: phoneNumberID)
            }
        }
    }

    // MARK: Messages

    func checkLength(_ value: String, _ field: String) throws {
        let n = value.utf8.count
        guard n <= stringBytesMax else { throw JournalError.invalidField(field: field, reason: "\(n) bytes, more than \(stringBytesMax)") }
    }

    /// Everything that could fail about the recipients, checked before anything is written.
    private func validate(_ recipients: [NewMessage]) throws {
        for (i, r) in recipients.enumerated() {
            try checkLength(r.to, "recipients[\(i)].to")
            guard r.params.count <= MessageCodec.paramsMax else {
                throw JournalError.invalidField(field: "recipients[\(i)].params", reason: "\(r.params.count) parameters, more than \(MessageCodec.paramsMax)")
            }
            for p in r.params { try checkLength(p, "recipients[\(i)].params") }
            if let x = r.externalID { try checkLength(x, "recipients[\(i)].external_id") }
        }
    }

    /// Labels one campaign may have.
    static let labelsMax = 16

    private func validate(_ options: CampaignOptions) throws {
        if let name = options.name { try checkLength(name, "name") }
        guard options.labels.count <= Self.labelsMax else {
            throw JournalError.invalidField(field: "labels", reason: "\(options.labels.count) labels, more than \(Self.labelsMax)")
        }
        for label in options.labels { try checkLength(label, "labels") }
        if let origin = options.origin { try checkLength(origin.node, "origin") }
    }

    /// Notes the new campaign `id` on the one it retries (which must exist).
    private func linkRetry(_ id: CampaignID, _ options: CampaignOptions, _ txn: borrowing Transaction, _ s: inout WriterState) throws {
        guard let source = options.retryOf else { return }
        guard try loadCampaign(source, txn, &s) != nil else { throw JournalError.unknownCampaign(source) }
        s.campaigns[source]!.retries.append(id)
        if s.campaigns[source]!.retries.count > CampaignRecord.retriesKept { s.campaigns[source]!.retries.removeFirst() }
    }

    /// Appends `queued` messages with the next ids (`MDB_APPEND`: ids only grow) and their
    /// `pending` entries. Returns the first id.
    private func appendMessages(
        _ recipients: [NewMessage], campaign: CampaignID, sender: SenderID, created: Int64,
        _ txn: borrowing Transaction, _ s: inout WriterState
    ) throws -> MessageID {
        let first = MessageID(s.nextMessageID)
        for r in recipients {
            let id = MessageID(s.nextMessageID)
            let record = MessageRecord(
                id: id, campaign: campaign, sender: sender, updatedMilliseconds: created, to: r.to, params: r.params,
                externalID: r.externalID, times: MessageTimes(accepted: created))
            try Key(id: id.rawValue).withBytes { key in
                try txn.putReserving(tables.messages, key, count: MessageCodec.size(record, cipher), append: true) { MessageCodec.write(record, cipher, to: $0) }
            }
            try Key.pending(sender, campaign, id).withBytes { try txn.put(tables.pending, $0, emptyValue) }
            s.nextMessageID += 1
        }
        s.campaigns[campaign]!.counts[.queued] += UInt64(recipients.count)
        if !recipients.isEmpty {
            if s.campaigns[campaign]!.firstMessage == nil { s.campaigns[campaign]!.firstMessage = first }
            s.campaigns[campaign]!.lastMessage = MessageID(s.nextMessageID - 1)
        }
        return first
    }

    /// The campaign as this transaction sees it, cached so that its counts are written once.
    func loadCampaign(_ id: CampaignID, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> CampaignRecord? {
        if let cached = s.campaigns[id] { return cached }
        let record = try Key(id: id.rawValue).withBytes { key -> CampaignRecord? in
            guard let bytes = try txn.get(tables.campaigns, key) else { return nil }
            do { return try CampaignCodec.readStored(id: id, bytes, cipher) } catch {
                throw JournalError(record: error, path: path, table: Schema.campaigns, key: id.description)
            }
        }
        if let record { s.campaigns[id] = record }
        return record
    }

    /// Writes what the transaction changed in the writer's state: campaign records (their
    /// counts) and the subscribers' counters and next event id.
    func flushCampaigns(_ txn: borrowing Transaction, _ s: inout WriterState) throws {
        try flushOutbox(txn, &s)
        for (id, record) in s.campaigns {
            assert(record.counts.values.allSatisfy { $0 < UInt64.max / 2 }, "campaign \(id) count underflow: \(record.counts.values)")
            try Key(id: id.rawValue).withBytes { key in
                try txn.putReserving(tables.campaigns, key, count: CampaignCodec.storedSize(record), append: false) { CampaignCodec.writeStored(record, to: $0) }
            }
        }
        s.campaigns.removeAll(keepingCapacity: true)
    }
}
