import SluiceCrypto
import SluiceCore

/// Seals the confidential fields of a record — access tokens, app and subscriber secrets,
/// recipients, parameters, message templates, stored answers — in a section at the end of
/// its value:
///
///     0 u8 scheme   0: the fields in the clear (a journal opened without encryption)
///                   1: AES-256-GCM under the journal key: 12-byte nonce, ciphertext, 16-byte tag
///
/// The associated data is the table's name, a 0 byte and the record's LMDB key, so that a
/// sealed section copied onto another record does not open. Metadata (ids, states,
/// counts, times, error codes) stays in the clear before the section: `sluice journal`
/// reads it without the key, and transitions patch it without decrypting anything.
final class RecordCipher: Sendable {
    enum Scheme: UInt8 {
        case clear = 0
        case aes256GCM = 1
    }

    /// Tables with sealed sections; the raw value indexes `aadPrefixes`.
    enum Table: Int {
        case meta, messages, campaigns, senders, subscriptions, idempotency, outbox, inbound, contacts
    }

    private static let aadPrefixes: [[UInt8]] = [
        Schema.meta, Schema.messages, Schema.campaigns, Schema.senders, Schema.subscriptions, Schema.idempotency, Schema.outbox,
        Schema.inbound, Schema.contacts,
    ].map { Array($0.utf8) + [0] }

    static let sealedOverheadBytes = 1 + AES256GCM.nonceByteCount + AES256GCM.tagByteCount
    /// What a sealed field reads as when the journal was opened without its key.
    static let placeholder = "<encrypted>"

    private let aead: AES256GCM?
    private let nonces = Locked(NonceBuffer())
    /// Opened without the key for inspection: sealed fields read as `placeholder`, and
    /// nothing may be written.
    let isInspection: Bool

    /// `key` nil: sections are written in the clear (and encrypted ones cannot be read,
    /// unless `inspection`).
    init(key: [UInt8]?, inspection: Bool = false) {
        aead = key.map { AES256GCM(key: $0) }
        isInspection = inspection
    }

    /// Bytes of a section holding `plainCount` bytes of fields.
    func sealedCount(_ plainCount: Int) -> Int { aead == nil ? 1 + plainCount : Self.sealedOverheadBytes + plainCount }

    /// Writes a section at `w`: `fields` writes the fields (exactly the plain count given to
    /// `sealedCount`), which are then encrypted in place — no copy, no allocation.
    func seal(_ w: inout ByteWriter, _ table: Table, key: UnsafeRawBufferPointer, _ fields: (inout ByteWriter) -> Void) {
        precondition(!isInspection, "a journal opened without its key writes no record")
        guard let aead else {
            w.u8(Scheme.clear.rawValue)
            fields(&w)
            return
        }
        w.u8(Scheme.aes256GCM.rawValue)
        let nonce = w.base + w.offset
        nonces.withLock { $0.take(into: nonce) }
        w.skip(AES256GCM.nonceByteCount)
        let start = w.offset
        fields(&w)
        let data = UnsafeMutableRawBufferPointer(start: w.base + start, count: w.offset - start)
        Self.aadPrefixes[table.rawValue].withUnsafeBytes { prefix in
            aead.seal(inPlace: data, nonce: UnsafeRawPointer(nonce), aad: prefix, key, tag: w.base + w.offset)
        }
        w.skip(AES256GCM.tagByteCount)
    }

    /// A section as bytes of its own (a campaign's message, kept sealed by the writer).
    func sealed(_ plainCount: Int, _ table: Table, key: UnsafeRawBufferPointer, _ fields: (inout ByteWriter) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: sealedCount(plainCount)) { buffer, count in
            var w = ByteWriter(UnsafeMutableRawPointer(buffer.baseAddress!))
            seal(&w, table, key: key, fields)
            count = w.offset
        }
    }

    /// Opens the section `bytes` and hands its fields to `read` — nil when the journal was
    /// opened for inspection without the key. Throws `Short` with `undecryptable` when the
    /// section does not authenticate (another key, altered bytes, or a scheme this build
    /// does not know).
    func open<T>(
        _ bytes: UnsafeRawBufferPointer, _ table: Table, key: UnsafeRawBufferPointer,
        _ read: (UnsafeRawBufferPointer?) throws(ByteReader.Short) -> T
    ) throws(ByteReader.Short) -> T {
        guard let scheme = bytes.first else { throw ByteReader.Short() }
        switch Scheme(rawValue: scheme) {
        case .clear:
            return try read(UnsafeRawBufferPointer(rebasing: bytes[1...]))
        case .aes256GCM:
            guard bytes.count >= Self.sealedOverheadBytes, let base = bytes.baseAddress else { throw ByteReader.Short() }
            guard let aead else {
                if isInspection { return try read(nil) }
                throw ByteReader.Short(undecryptable: true)
            }
            let n = bytes.count - Self.sealedOverheadBytes
            let start = 1 + AES256GCM.nonceByteCount
            let result = withUnsafeTemporaryAllocation(byteCount: max(n, 1), alignment: 1) { out -> Result<T, ByteReader.Short> in
                defer { _ = out.initializeMemory(as: UInt8.self, repeating: 0) }  // no plaintext left on the stack
                let opened = Self.aadPrefixes[table.rawValue].withUnsafeBytes { prefix in
                    aead.open(
                        UnsafeRawBufferPointer(rebasing: bytes[start..<start + n]), nonce: base + 1, tag: base + start + n,
                        aad: prefix, key, into: out.baseAddress!)
                }
                guard opened else { return .failure(ByteReader.Short(undecryptable: true)) }
                return Result { () throws(ByteReader.Short) -> T in try read(UnsafeRawBufferPointer(start: out.baseAddress, count: n)) }
            }
            return try result.get()
        case nil:
            throw ByteReader.Short(undecryptable: true)
        }
    }

    /// `open` for a record whose key is a u64 id (big-endian, as `Key` stores it).
    func open<T>(
        _ bytes: UnsafeRawBufferPointer, _ table: Table, id: UInt64,
        _ read: (UnsafeRawBufferPointer?) throws(ByteReader.Short) -> T
    ) throws(ByteReader.Short) -> T {
        var key = id.bigEndian
        let result = withUnsafeBytes(of: &key) { k in
            Result { () throws(ByteReader.Short) -> T in try open(bytes, table, key: k, read) }
        }
        return try result.get()
    }

    /// `open` for a record under a `Key`.
    func open<T>(
        _ bytes: UnsafeRawBufferPointer, _ table: Table, key: Key,
        _ read: (UnsafeRawBufferPointer?) throws(ByteReader.Short) -> T
    ) throws(ByteReader.Short) -> T {
        let result = key.withBytes { k in Result { () throws(ByteReader.Short) -> T in try open(bytes, table, key: k, read) } }
        return try result.get()
    }

    /// `open` for a record under a byte-string key (a phone number id, an idempotency key).
    func open<T>(
        _ bytes: UnsafeRawBufferPointer, _ table: Table, keyBytes: [UInt8],
        _ read: (UnsafeRawBufferPointer?) throws(ByteReader.Short) -> T
    ) throws(ByteReader.Short) -> T {
        let result = keyBytes.withUnsafeBytes { k in Result { () throws(ByteReader.Short) -> T in try open(bytes, table, key: k, read) } }
        return try result.get()
    }

    /// Random nonces drawn from OpenSSL's CSPRNG many at a time: one `RAND_bytes` call per
    /// record would cost more than the encryption of a message.
    private struct NonceBuffer {
        static let noncesPerRefill = 256
        var bytes = [UInt8](repeating: 0, count: noncesPerRefill * AES256GCM.nonceByteCount)
        var next = noncesPerRefill * AES256GCM.nonceByteCount

        mutating func take(into destination: UnsafeMutableRawPointer) {
            if next == bytes.count {
                bytes.withUnsafeMutableBytes { SecureRandom.fill($0) }
                next = 0
            }
            bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + next, byteCount: AES256GCM.nonceByteCount) }
            next += AES256GCM.nonceByteCount
        }
    }

    // MARK: The key check

    /// `meta` holds this, sealed, once the journal is encrypted: opening it proves the key.
    private static let keyCheckPlaintext = Array("sluice-journal-key-check".utf8)

    func keyCheck() -> [UInt8] {
        Array(Schema.metaKeyCheckKey.utf8).withUnsafeBytes { key in
            sealed(Self.keyCheckPlaintext.count, .meta, key: key) { w in Self.keyCheckPlaintext.withUnsafeBytes { w.bytes($0) } }
        }
    }

    /// True when `stored` (a key check) opens under this key.
    func verifies(keyCheck stored: [UInt8]) -> Bool {
        guard stored.first == Scheme.aes256GCM.rawValue, aead != nil else { return false }
        return Array(Schema.metaKeyCheckKey.utf8).withUnsafeBytes { key in
            stored.withUnsafeBytes { bytes in
                (try? open(bytes, .meta, key: key) { plain throws(ByteReader.Short) -> Bool in
                    plain.map { Array($0) == Self.keyCheckPlaintext } ?? false
                }) ?? false
            }
        }
    }
}
