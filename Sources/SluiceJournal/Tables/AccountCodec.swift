import SluiceCore

/// An account event in `outbox` (the key is subscription | number lane | `orderKey` | event id), beside
/// `OutboxCodec`'s formats 1 and 2 and `InboundCodec`'s 3; the attempt fields sit at the
/// same offsets, so settling patches it the same way:
///
///     0 u8 format (4)   1 u8 0   2 u8 flags (1 limit, 2 oldLimit, 4 messaging limit, else unlimited)
///     3 u32 attempts   7 i64 next attempt ms   15 i64 received ms
///     23 u64 tier (Double bits)   31 u32 messaging limit (0: unlimited)
///     35 sender phone number id, display phone number, event, [limit], [oldLimit]  (u16 length + UTF-8 each)
///
/// Nothing in it is confidential: it is not sealed.
enum AccountCodec {
    static let outboxFormat: UInt8 = 4
    static let senderOffset = 35
    private static let hasLimit: UInt8 = 1
    private static let hasOldLimit: UInt8 = 2
    private static let hasMessagingLimit: UInt8 = 4

    static func size(_ u: AccountUpdate) -> Int {
        35 + [u.senderPhoneNumberID, u.displayPhoneNumber, u.event].reduce(0) { $0 + 2 + $1.utf8.count }
            + (u.limit.map { 2 + $0.utf8.count } ?? 0) + (u.oldLimit.map { 2 + $0.utf8.count } ?? 0)
    }

    static func write(_ u: AccountUpdate, attempts: UInt32, nextAttemptMilliseconds: Int64, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(outboxFormat)
        w.u8(0)
        w.u8((u.limit == nil ? 0 : hasLimit) | (u.oldLimit == nil ? 0 : hasOldLimit) | (u.messagingLimit == nil ? 0 : hasMessagingLimit))
        w.u32(attempts)
        w.i64(nextAttemptMilliseconds)
        w.i64(u.receivedMilliseconds)
        w.u64(u.tierMessagesPerSecond.bitPattern)
        w.u32(UInt32(clamping: u.messagingLimit ?? 0))
        w.string(u.senderPhoneNumberID)
        w.string(u.displayPhoneNumber)
        w.string(u.event)
        if let limit = u.limit { w.string(limit) }
        if let old = u.oldLimit { w.string(old) }
        assert(w.offset == size(u))
    }

    /// `(update, attempts, next attempt ms)`.
    static func read(_ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> (AccountUpdate, UInt32, Int64) {
        var r = ByteReader(bytes)
        guard try r.u8() == outboxFormat, try r.u8() == 0 else { throw ByteReader.Short() }
        let flags = try r.u8()
        guard flags & ~(hasLimit | hasOldLimit | hasMessagingLimit) == 0 else { throw ByteReader.Short() }
        let attempts = try r.u32()
        let next = try r.i64()
        let received = try r.i64()
        let tier = Double(bitPattern: try r.u64())
        let limit = Int(try r.u32())
        let sender = try r.string()
        let display = try r.string()
        let event = try r.string()
        let limitName = flags & hasLimit != 0 ? try r.string() : nil
        let oldName = flags & hasOldLimit != 0 ? try r.string() : nil
        guard r.isAtEnd else { throw ByteReader.Short() }
        let update = AccountUpdate(
            senderPhoneNumberID: sender, displayPhoneNumber: display, event: event, limit: limitName, oldLimit: oldName,
            tierMessagesPerSecond: tier, messagingLimit: flags & hasMessagingLimit != 0 ? limit : nil, receivedMilliseconds: received)
        return (update, attempts, next)
    }
}
