import SluiceCore

/// Fixed-width big-endian keys, so that LMDB's byte order is numeric order. Stored
/// inline (no allocation per key).
///
/// - `messages`, `inflight`, `campaigns`: u64 id (8 bytes)
/// - `pending`: u32 sender | u64 campaign | u64 message (20 bytes)
/// - `due`: u32 sender | u64 notBefore (sign bit flipped) | u64 message (20 bytes)
/// - `subscriptions`: u64 id (8 bytes)
/// - `outbox`: u64 subscription | u64 lane | u64 order key | u64 event (32 bytes,
///   `outboxEntry`); schema version 1 had no lane (24 bytes, `outbox`), which stays the
///   identity an entry's sealed fields are bound to
struct Key {
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private(set) var count: Int = 0

    static let idBytes = 8
    static let triple = 20
    static let outboxBytes = 24
    static let outboxEntryBytes = 32

    init(id: UInt64) {
        put(id, at: 0)
        count = Key.idBytes
    }

    init(sender: SenderID, _ middle: UInt64, _ message: UInt64) {
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sender.rawValue.bigEndian, toByteOffset: 0, as: UInt32.self) }
        put(middle, at: 4)
        put(message, at: 12)
        count = Key.triple
    }

    /// Three u64s: the version 1 `outbox` key, now an entry's identity (what its sealed
    /// fields are bound to, so that moving it to a lane keeps its bytes), and a contact's key.
    static func outbox(_ subscription: UInt64, _ message: UInt64, _ event: UInt64) -> Key {
        var key = Key(id: subscription)
        key.put(message, at: 8)
        key.put(event, at: 16)
        key.count = Key.outboxBytes
        return key
    }

    /// An `outbox` key: the lane first, so that the delivery worker can go round-robin
    /// across lanes with one seek each (`Journal.outboxHeads`).
    static func outboxEntry(_ subscription: UInt64, lane: UInt64, _ order: UInt64, _ event: UInt64) -> Key {
        var key = Key(id: subscription)
        key.put(lane, at: 8)
        key.put(order, at: 16)
        key.put(event, at: 24)
        key.count = Key.outboxEntryBytes
        return key
    }

    static func pending(_ sender: SenderID, _ campaign: CampaignID, _ message: MessageID) -> Key {
        Key(sender: sender, campaign.rawValue, message.rawValue)
    }

    static func due(_ sender: SenderID, notBefore: Int64, _ message: MessageID) -> Key {
        Key(sender: sender, orderedBits(notBefore), message.rawValue)
    }

    /// Int64 → UInt64 preserving order (negative times sort first).
    static func orderedBits(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) ^ (1 << 63) }
    static func fromOrderedBits(_ bits: UInt64) -> Int64 { Int64(bitPattern: bits ^ (1 << 63)) }

    private mutating func put(_ value: UInt64, at offset: Int) {
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self) }
    }

    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var copy = storage
        let n = count
        return try withUnsafeBytes(of: &copy) { raw in try body(UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
    }

    // MARK: Decoding

    static func id(_ key: UnsafeRawBufferPointer) -> UInt64 {
        precondition(key.count == idBytes, "id key of \(key.count) bytes")
        return UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
    }

    static func sender(_ key: UnsafeRawBufferPointer) -> SenderID {
        precondition(key.count == triple, "index key of \(key.count) bytes")
        return SenderID(UInt32(bigEndian: key.loadUnaligned(as: UInt32.self)))
    }

    static func middle(_ key: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 4, as: UInt64.self))
    }

    /// Subscription, message and event of a version 1 `outbox` key.
    static func outboxParts(_ key: UnsafeRawBufferPointer) -> (subscription: UInt64, message: UInt64, event: UInt64) {
        precondition(key.count == outboxBytes, "outbox key of \(key.count) bytes")
        return (UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)),
                UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
    }

    /// Subscription, lane, order key and event of an `outbox` key.
    static func outboxEntryParts(_ key: UnsafeRawBufferPointer) -> (subscription: UInt64, lane: UInt64, order: UInt64, event: UInt64) {
        precondition(key.count == outboxEntryBytes, "outbox key of \(key.count) bytes")
        return (UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)),
                UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    static func message(_ key: UnsafeRawBufferPointer) -> MessageID {
        MessageID(UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 12, as: UInt64.self)))
    }
}

/// Empty values of the index tables.
var emptyValue: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
