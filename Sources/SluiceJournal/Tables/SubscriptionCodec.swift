import SluiceCore

/// `subscriptions` value (the key is the u64 id):
///
///     0 u8 format (4)   1 u8 flags (1 campaign filter, 2 state filter, 4 event kinds in
///                                   bits 3–5: `SubscriberEventKind.bit << 3`; without 4: status;
///                                   64 origin filter, 128 mirror)
///     2 u16 state bits
///     4 u64 campaign   12 i64 created ms
///     20 u64 pending   28 u64 delivered   36 u64 failed attempts   44 u64 dead
///     52 u16 events per POST
///     54 url  (u16 length + UTF-8)
///     [origin]  node (u16 length + UTF-8), u64 campaign   [mirror]  node (u16 length + UTF-8), u64 id
///     then sealed: secret  (u16 length + UTF-8)
///
/// Format 3 has neither origin nor mirror; format 2 has no events per POST (one); format 1 (before encryption) neither, and url,
/// secret in the clear; both read only.
enum SubscriptionCodec {
    static let format: UInt8 = 4
    /// Events per POST, no origin nor mirror.
    static let batchFormat: UInt8 = 3
    static let sealedFormat: UInt8 = 2
    static let clearFormat: UInt8 = 1
    static let headerBytes = 54
    private static let hasCampaign: UInt8 = 1
    private static let hasStates: UInt8 = 2
    private static let hasEvents: UInt8 = 4
    private static let eventsShift: UInt8 = 3
    private static let hasOrigin: UInt8 = 64
    private static let hasMirror: UInt8 = 128
    private static let eventBits: UInt8 = SubscriberEventKind.allCases.reduce(0) { $0 | $1.bit << eventsShift }

    static func size(_ s: SubscriptionRecord, _ cipher: RecordCipher) -> Int {
        headerBytes + 2 + s.url.utf8.count + (s.origin.map { 10 + $0.node.utf8.count } ?? 0) + (s.mirrorOf.map { 10 + $0.node.utf8.count } ?? 0)
            + cipher.sealedCount(2 + s.secret.utf8.count)
    }

    static func stateBits(_ states: Set<MessageState>) -> UInt16 { states.reduce(0) { $0 | 1 << UInt16($1.rawValue) } }

    static func write(_ s: SubscriptionRecord, _ cipher: RecordCipher, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        // Status only (what every subscriber received before kinds existed) keeps the old flags.
        let events: UInt8 = s.events == [.status] ? 0 : hasEvents | s.events.reduce(0) { $0 | $1.bit << eventsShift }
        w.u8((s.campaign == nil ? 0 : hasCampaign) | (s.states == nil ? 0 : hasStates) | events | (s.origin == nil ? 0 : hasOrigin) | (s.mirrorOf == nil ? 0 : hasMirror))
        w.u16(s.states.map(stateBits) ?? 0)
        w.u64(s.campaign?.rawValue ?? 0)
        w.i64(s.createdMilliseconds)
        w.u64(s.counters.pending)
        w.u64(s.counters.delivered)
        w.u64(s.counters.failedAttempts)
        w.u64(s.counters.dead)
        w.u16(UInt16(clamping: s.batchMax))
        w.string(s.url)
        if let origin = s.origin {
            w.string(origin.node)
            w.u64(origin.campaign.rawValue)
        }
        if let mirror = s.mirrorOf {
            w.string(mirror.node)
            w.u64(mirror.id)
        }
        Key(id: s.id).withBytes { key in cipher.seal(&w, .subscriptions, key: key) { w in w.string(s.secret) } }
        assert(w.offset == size(s, cipher))
    }

    static func read(id: UInt64, _ bytes: UnsafeRawBufferPointer, _ cipher: RecordCipher) throws(ByteReader.Short) -> SubscriptionRecord {
        var r = ByteReader(bytes)
        let format = try r.u8()
        guard [Self.format, batchFormat, sealedFormat, clearFormat].contains(format) else { throw ByteReader.Short() }
        let flags = try r.u8()
        let bits = try r.u16()
        let campaign = try r.u64()
        let created = try r.i64()
        let counters = DeliveryCounters(pending: try r.u64(), delivered: try r.u64(), failedAttempts: try r.u64(), dead: try r.u64())
        let batch = format >= batchFormat ? Int(try r.u16()) : 1
        guard batch >= 1 else { throw ByteReader.Short() }
        let url = try r.string()
        var origin: CampaignOrigin?
        var mirror: SubscriptionMirror?
        if format >= Self.format {
            if flags & hasOrigin != 0 { origin = CampaignOrigin(node: try r.string(), campaign: CampaignID(try r.u64())) }
            if flags & hasMirror != 0 { mirror = SubscriptionMirror(node: try r.string(), id: try r.u64()) }
        }
        let secret: String
        if format == clearFormat {
            secret = try r.string()
        } else {
            secret = try cipher.open(r.rest(), .subscriptions, id: id) { plain throws(ByteReader.Short) -> String in
                guard let plain else { return RecordCipher.placeholder }
                var s = ByteReader(plain)
                let secret = try s.string()
                guard s.isAtEnd else { throw ByteReader.Short() }
                return secret
            }
        }
        let known = hasCampaign | hasStates | hasEvents | eventBits | (format >= Self.format ? hasOrigin | hasMirror : 0)
        guard r.isAtEnd, flags & ~known == 0 else { throw ByteReader.Short() }
        var events: Set<SubscriberEventKind> = [.status]
        if flags & hasEvents != 0 {
            events = Set(SubscriberEventKind.allCases.filter { flags & $0.bit << eventsShift != 0 })
            guard !events.isEmpty else { throw ByteReader.Short() }
        }
        var states: Set<MessageState>?
        if flags & hasStates != 0 {
            let known = MessageState.allCases.filter { bits & 1 << UInt16($0.rawValue) != 0 }
            guard stateBits(Set(known)) == bits else { throw ByteReader.Short() }
            states = Set(known)
        }
        return SubscriptionRecord(
            id: id, url: url, secret: secret, campaign: flags & hasCampaign != 0 ? CampaignID(campaign) : nil, states: states,
            events: events, createdMilliseconds: created, counters: counters, batchMax: batch, origin: origin, mirrorOf: mirror)
    }
}

/// `outbox` value (the key is subscription | campaign lane | message | event id; sealed fields are
/// bound to subscription | message | event id, `Key.outbox`):
///
///     0 u8 format (2)   1 u8 state   2 u8 flags (1 wamid, 2 errorMessage)   3 u32 attempts
///     7 i64 next attempt ms   15 i64 occurred ms   23 u64 campaign   31 i32 errorCode
///     35 sender phone number id, [wamid], [errorMessage]  (u16 length + UTF-8 each)
///     then sealed: recipient  (u16 length + UTF-8)
///
/// Format 1 (before encryption): sender, recipient, [wamid], [errorMessage] in the clear; read only.
enum OutboxCodec {
    static let format: UInt8 = 2
    static let clearFormat: UInt8 = 1
    static let headerBytes = 35
    /// Offsets patched in place when an attempt fails.
    static let attemptsOffset = 3
    static let nextAttemptOffset = 7
    static let campaignOffset = 23
    private static let hasWamid: UInt8 = 1
    private static let hasErrorMessage: UInt8 = 2

    /// Whether `bytes` has a header this build reads: formats 1 and 2, an incoming
    /// message's (`InboundCodec`) and an account event's (`AccountCodec`), which keep the
    /// attempt fields at the same offsets.
    static func hasHeader(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= headerBytes
            && (bytes[0] == format || bytes[0] == clearFormat || bytes[0] == InboundCodec.outboxFormat || bytes[0] == AccountCodec.outboxFormat)
    }

    static func size(_ e: StatusEvent, _ cipher: RecordCipher) -> Int {
        var n = headerBytes + 2 + e.senderPhoneNumberID.utf8.count
        if let w = e.wamid { n += 2 + w.utf8.count }
        if let m = e.errorMessage { n += 2 + m.utf8.count }
        return n + cipher.sealedCount(2 + e.recipient.utf8.count)
    }

    static func write(
        _ e: StatusEvent, attempts: UInt32, nextAttemptMilliseconds: Int64, key: UnsafeRawBufferPointer, _ cipher: RecordCipher,
        to base: UnsafeMutableRawPointer
    ) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(e.state.rawValue)
        w.u8((e.wamid == nil ? 0 : hasWamid) | (e.errorMessage == nil ? 0 : hasErrorMessage))
        w.u32(attempts)
        w.i64(nextAttemptMilliseconds)
        w.i64(e.occurredMilliseconds)
        w.u64(e.campaign.rawValue)
        w.u32(UInt32(bitPattern: e.errorCode))
        w.string(e.senderPhoneNumberID)
        if let wamid = e.wamid { w.string(wamid) }
        if let m = e.errorMessage { w.string(m) }
        cipher.seal(&w, .outbox, key: key) { w in w.string(e.recipient) }
        assert(w.offset == size(e, cipher))
    }

    static func read(
        subscription: UInt64, message: MessageID, eventID: UInt64, _ bytes: UnsafeRawBufferPointer, _ cipher: RecordCipher
    ) throws(ByteReader.Short) -> OutboxEntry {
        if bytes.first == InboundCodec.outboxFormat {
            let key = Key.outbox(subscription, message.rawValue, eventID)
            let result = key.withBytes { k in
                Result { () throws(ByteReader.Short) -> (InboundMessage, UInt32, Int64) in
                    try InboundCodec.read(bytes, format: InboundCodec.outboxFormat, table: .outbox, key: k, cipher)
                }
            }
            let (inbound, attempts, next) = try result.get()
            return OutboxEntry(
                subscription: subscription, event: .message(InboundEvent(eventID: eventID, message: inbound)), attempts: attempts,
                nextAttemptMilliseconds: next)
        }
        if bytes.first == AccountCodec.outboxFormat {
            let (update, attempts, next) = try AccountCodec.read(bytes)
            return OutboxEntry(
                subscription: subscription, event: .account(AccountEvent(eventID: eventID, update: update)), attempts: attempts,
                nextAttemptMilliseconds: next)
        }
        var r = ByteReader(bytes)
        let format = try r.u8()
        guard format == Self.format || format == clearFormat, let state = MessageState(rawValue: try r.u8()) else { throw ByteReader.Short() }
        let flags = try r.u8()
        let attempts = try r.u32()
        let next = try r.i64()
        let occurred = try r.i64()
        let campaign = CampaignID(try r.u64())
        let code = Int32(bitPattern: try r.u32())
        let sender = try r.string()
        let recipient: String
        if format == clearFormat { recipient = try r.string() } else { recipient = "" }
        let wamid = flags & hasWamid != 0 ? try r.string() : nil
        let text = flags & hasErrorMessage != 0 ? try r.string() : nil
        let sealedRecipient: String
        if format == clearFormat {
            sealedRecipient = recipient
        } else {
            sealedRecipient = try cipher.open(r.rest(), .outbox, key: Key.outbox(subscription, message.rawValue, eventID)) { plain throws(ByteReader.Short) -> String in
                guard let plain else { return RecordCipher.placeholder }
                var s = ByteReader(plain)
                let recipient = try s.string()
                guard s.isAtEnd else { throw ByteReader.Short() }
                return recipient
            }
        }
        guard r.isAtEnd else { throw ByteReader.Short() }
        let event = StatusEvent(
            eventID: eventID, message: message, campaign: campaign, senderPhoneNumberID: sender, recipient: sealedRecipient,
            state: state, wamid: wamid, errorCode: code, errorMessage: text, occurredMilliseconds: occurred)
        return OutboxEntry(subscription: subscription, event: .status(event), attempts: attempts, nextAttemptMilliseconds: next)
    }

    /// The lane of a stored entry (`OutboxEvent.lane`) from its clear fields, needing no
    /// key: a status event's campaign, or the number of an incoming message or account event.
    static func lane(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard hasHeader(bytes) else { return nil }
        func number(at offset: Int) -> UInt64? {
            guard bytes.count >= offset + 2 else { return nil }
            let n = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            guard bytes.count >= offset + 2 + n else { return nil }
            return OutboxLane.number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset + 2..<offset + 2 + n]), as: UTF8.self))
        }
        switch bytes[0] {
        case InboundCodec.outboxFormat: return number(at: InboundCodec.headerBytes)
        case AccountCodec.outboxFormat: return number(at: AccountCodec.senderOffset)
        default: return OutboxLane.campaign(CampaignID(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: campaignOffset, as: UInt64.self))))
        }
    }

    /// The next-attempt time alone, for skipping entries that are not due.
    static func nextAttempt(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard hasHeader(bytes) else { return nil }
        return Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: nextAttemptOffset, as: Int64.self))
    }
}
