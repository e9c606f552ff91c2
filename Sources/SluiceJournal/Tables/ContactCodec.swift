import SluiceCore
import SluiceCrypto

/// `contacts` and `suppressed`, keyed (24 bytes) by
///
///     u64 number hash   u128 contact hash
///
/// the first 8 bytes of HMAC-SHA256(index key, "n" 0 phone number id) and the first 16 of
/// HMAC-SHA256(index key, "c" 0 phone number id 0 wa_id): a number's contacts are adjacent,
/// and the keys tell nothing without the journal key. `contacts` value:
///
///     0 u8 format (1)   1 u8 source (0 none, `SuppressionSource`)
///     2 i64 last inbound ms   10 i64 suppressed ms  (`Int64.min`: none)
///     then sealed: phone number id, wa_id  (u16 length + UTF-8 each)
enum ContactCodec {
    static let format: UInt8 = 1
    static let headerBytes = 18
    private static let none = Int64.min
    static let indexKeyBytes = 32

    static func key(phoneNumberID: String, waID: String, indexKey: [UInt8]) -> Key {
        let number = numberPrefix(phoneNumberID, indexKey: indexKey)
        let digest = Digest.hmacSHA256(key: indexKey, message: Array("c".utf8) + [0] + Array(phoneNumberID.utf8) + [0] + Array(waID.utf8))
        return Key.outbox(number, load(digest, 0), load(digest, 8))
    }

    /// The first 8 key bytes every contact of the number shares.
    static func numberPrefix(_ phoneNumberID: String, indexKey: [UInt8]) -> UInt64 {
        load(Digest.hmacSHA256(key: indexKey, message: Array("n".utf8) + [0] + Array(phoneNumberID.utf8)), 0)
    }

    /// The number hash of a 24-byte key.
    static func numberPart(_ key: UnsafeRawBufferPointer) -> UInt64? {
        key.count == Key.outboxBytes ? UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)) : nil
    }

    private static func load(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func size(_ c: ContactRecord, _ cipher: RecordCipher) -> Int {
        headerBytes + cipher.sealedCount(4 + c.phoneNumberID.utf8.count + c.waID.utf8.count)
    }

    static func write(_ c: ContactRecord, _ cipher: RecordCipher, key: UnsafeRawBufferPointer, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(c.suppressionSource?.rawValue ?? 0)
        w.i64(c.lastInboundMilliseconds ?? none)
        w.i64(c.suppressedMilliseconds ?? none)
        cipher.seal(&w, .contacts, key: key) { w in
            w.string(c.phoneNumberID)
            w.string(c.waID)
        }
        assert(w.offset == size(c, cipher))
    }

    static func read(_ bytes: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, _ cipher: RecordCipher) throws(ByteReader.Short) -> ContactRecord {
        var r = ByteReader(bytes)
        guard try r.u8() == format else { throw ByteReader.Short() }
        let sourceByte = try r.u8()
        let last = try r.i64()
        let suppressed = try r.i64()
        let source = sourceByte == 0 ? nil : SuppressionSource(rawValue: sourceByte)
        guard sourceByte == 0 || source != nil else { throw ByteReader.Short() }
        let (phone, waID) = try cipher.open(r.rest(), .contacts, key: key) { plain throws(ByteReader.Short) -> (String, String) in
            guard let plain else { return (RecordCipher.placeholder, RecordCipher.placeholder) }
            var s = ByteReader(plain)
            let phone = try s.string()
            let waID = try s.string()
            guard s.isAtEnd else { throw ByteReader.Short() }
            return (phone, waID)
        }
        return ContactRecord(
            phoneNumberID: phone, waID: waID, lastInboundMilliseconds: last == none ? nil : last,
            suppressedMilliseconds: suppressed == none ? nil : suppressed, suppressionSource: source)
    }

    /// Metadata alone (no key needed): last inbound ms and whether suppressed.
    static func readHeader(_ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> (lastInbound: Int64?, suppressed: Bool) {
        var r = ByteReader(bytes)
        guard try r.u8() == format else { throw ByteReader.Short() }
        _ = try r.u8()
        let last = try r.i64()
        let suppressed = try r.i64()
        return (last == none ? nil : last, suppressed != none)
    }

    // MARK: The index key

    /// The index key from `meta`, created (sealed under `cipher`) when missing. Nil only
    /// for a journal opened for inspection without its key.
    static func settleIndexKey(_ txn: borrowing Transaction, _ tables: Tables, _ cipher: RecordCipher, path: String) throws -> [UInt8]? {
        let name = Array(Schema.metaContactIndexKey.utf8)
        let stored = try name.withUnsafeBytes { k in try txn.get(tables.meta, k).map { Array($0) } }
        if let stored {
            let opened: [UInt8]?
            do {
                opened = try stored.withUnsafeBytes { bytes in
                    try cipher.open(bytes, .meta, keyBytes: name) { plain throws(ByteReader.Short) -> [UInt8]? in plain.map { Array($0) } }
                }
            } catch {
                throw JournalError.corruptRecord(path: path, table: Schema.meta, key: Schema.metaContactIndexKey)
            }
            guard let key = opened else { return nil }
            guard key.count == indexKeyBytes else { throw JournalError.corruptRecord(path: path, table: Schema.meta, key: Schema.metaContactIndexKey) }
            return key
        }
        guard !cipher.isInspection else { return nil }
        let key = SecureRandom.bytes(indexKeyBytes)
        try put(key, txn, tables, cipher)
        return key
    }

    /// Rewrites the index key sealed under `to` (a journal encrypted for the first time):
    /// the same key, so every contact keeps its place.
    static func resealIndexKey(_ txn: borrowing Transaction, _ tables: Tables, from clear: RecordCipher, to cipher: RecordCipher, path: String) throws {
        guard let key = try settleIndexKey(txn, tables, clear, path: path) else { return }
        try put(key, txn, tables, cipher)
    }

    private static func put(_ key: [UInt8], _ txn: borrowing Transaction, _ tables: Tables, _ cipher: RecordCipher) throws {
        let name = Array(Schema.metaContactIndexKey.utf8)
        let value = name.withUnsafeBytes { k in cipher.sealed(key.count, .meta, key: k) { w in key.withUnsafeBytes { w.bytes($0) } } }
        try name.withUnsafeBytes { k in try value.withUnsafeBytes { v in try txn.put(tables.meta, k, v) } }
    }
}
