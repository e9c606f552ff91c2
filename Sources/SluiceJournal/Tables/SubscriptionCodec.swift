import SluiceCore

/// `subscriptions` value (the key is the u64 id):
///
///     0 u8 format (1)   1 u8 flags (1 campaign filter, 2 state filter)   2 u16 state bits
///     4 u64 campaign   12 i64 created ms
///     20 u64 pending   28 u64 delivered   36 u64 failed attempts   44 u64 dead
///     52 url, secret  (u16 length + UTF-8 each)
enum SubscriptionCodec {
    static let format: UInt8 = 1
    static let headerBytes = 52
    private static let hasCampaign: UInt8 = 1
    private static let hasStates: UInt8 = 2

    static func size(_ s: SubscriptionRecord) -> Int { headerBytes + 2 + s.url.utf8.count + 2 + s.secret.utf8.count }

    static func stateBits(_ states: Set<MessageState>) -> UInt16 { states.reduce(0) { $0 | 1 << UInt16($1.rawValue) } }

    static func write(_ s: SubscriptionRecord, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8((s.campaign == nil ? 0 : hasCampaign) | (s.states == nil ? 0 : hasStates))
        w.u16(s.states.map(stateBits) ?? 0)
        w.u64(s.campaign?.rawValue ?? 0)
        w.i64(s.createdMilliseconds)
        w.u64(s.counters.pending)
        w.u64(s.counters.delivered)
        w.u64(s.counters.failedAttempts)
        w.u64(s.counters.dead)
        w.string(s.url)
        w.string(s.secret)
        assert(w.offset == size(s))
    }

    static func read(id: UInt64, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> SubscriptionRecord {
        var r = ByteReader(bytes)
        guard try r.u8() == format else { throw ByteReader.Short() }
        let flags = try r.u8()
        let bits = try r.u16()
        let campaign = try r.u64()
        let created = try r.i64()
        let counters = DeliveryCounters(pending: try r.u64(), delivered: try r.u64(), failedAttempts: try r.u64(), dead: try r.u64())
        let url = try r.string()
        let secret = try r.string()
        guard r.isAtEnd, flags & ~(hasCampaign | hasStates) == 0 else { throw ByteReader.Short() }
        var states: Set<MessageState>?
        if flags & hasStates != 0 {
            let known = MessageState.allCases.filter { bits & 1 << UInt16($0.rawValue) != 0 }
            guard stateBits(Set(known)) == bits else { throw ByteReader.Short() }
            states = Set(known)
        }
        return SubscriptionRecord(
            id: id, url: url, secret: secret, campaign: flags & hasCampaign != 0 ? CampaignID(campaign) : nil, states: states,
            createdMilliseconds: created, counters: counters)
    }
}

/// `outbox` value (the key is subscription | message | event id):
///
///     0 u8 format (1)   1 u8 state   2 u8 flags (1 wamid, 2 errorMessage)   3 u32 attempts
///     7 i64 next attempt ms   15 i64 occurred ms   23 u64 campaign   31 i32 errorCode
///     35 sender phone number id, recipient, [wamid], [errorMessage]  (u16 length + UTF-8 each)
enum OutboxCodec {
    static let format: UInt8 = 1
    static let headerBytes = 35
    /// Offsets patched in place when an attempt fails.
    static let attemptsOffset = 3
    static let nextAttemptOffset = 7
    private static let hasWamid: UInt8 = 1
    private static let hasErrorMessage: UInt8 = 2

    static func size(_ e: StatusEvent) -> Int {
        var n = headerBytes + 2 + e.senderPhoneNumberID.utf8.count + 2 + e.recipient.utf8.count
        if let w = e.wamid { n += 2 + w.utf8.count }
        if let m = e.errorMessage { n += 2 + m.utf8.count }
        return n
    }

    static func write(_ e: StatusEvent, attempts: UInt32, nextAttemptMilliseconds: Int64, to base: UnsafeMutableRawPointer) {
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
        w.string(e.recipient)
        if let wamid = e.wamid { w.string(wamid) }
        if let m = e.errorMessage { w.string(m) }
        assert(w.offset == size(e))
    }

    static func read(subscription: UInt64, message: MessageID, eventID: UInt64, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> OutboxEntry {
        var r = ByteReader(bytes)
        guard try r.u8() == format, let state = MessageState(rawValue: try r.u8()) else { throw ByteReader.Short() }
        let flags = try r.u8()
        let attempts = try r.u32()
        let next = try r.i64()
        let occurred = try r.i64()
        let campaign = CampaignID(try r.u64())
        let code = Int32(bitPattern: try r.u32())
        let sender = try r.string()
        let recipient = try r.string()
        let wamid = flags & hasWamid != 0 ? try r.string() : nil
        let text = flags & hasErrorMessage != 0 ? try r.string() : nil
        guard r.isAtEnd else { throw ByteReader.Short() }
        let event = StatusEvent(
            eventID: eventID, message: message, campaign: campaign, senderPhoneNumberID: sender, recipient: recipient,
            state: state, wamid: wamid, errorCode: code, errorMessage: text, occurredMilliseconds: occurred)
        return OutboxEntry(subscription: subscription, event: event, attempts: attempts, nextAttemptMilliseconds: next)
    }

    /// The next-attempt time alone, for skipping entries that are not due.
    static func nextAttempt(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.count >= headerBytes, bytes[0] == format else { return nil }
        return Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: nextAttemptOffset, as: Int64.self))
    }
}
