import SluiceCore

/// `idempotency` key: UTF-8 scope, a 0 byte, UTF-8 key (scopes hold no 0 byte).
///
/// Value:
///
///     0 u8 format (2)   1 i64 created ms   9 u16 status
///     11 request digest (u32 length + bytes)   then sealed: the answer body
///
/// Format 1 (before encryption) ends with u32 length + the body in the clear; read only.
enum IdempotencyCodec {
    static let format: UInt8 = 2
    static let clearFormat: UInt8 = 1
    /// Where the i64 created time sits (both formats).
    static let createdOffset = 1
    static let requestDigestBytesMax = 64

    static func key(scope: String, key: String) -> [UInt8] {
        var bytes = Array(scope.utf8)
        bytes.append(0)
        bytes.append(contentsOf: key.utf8)
        return bytes
    }

    static func size(_ r: IdempotencyRecord, _ cipher: RecordCipher) -> Int {
        11 + 4 + r.requestDigest.count + cipher.sealedCount(r.body.count)
    }

    /// `key` is `key(scope:key:)`.
    static func write(_ r: IdempotencyRecord, key: UnsafeRawBufferPointer, _ cipher: RecordCipher, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.i64(r.createdMilliseconds)
        w.u16(UInt16(r.status))
        w.blob(r.requestDigest)
        cipher.seal(&w, .idempotency, key: key) { w in r.body.withUnsafeBytes { w.bytes($0) } }
        assert(w.offset == size(r, cipher))
    }

    static func read(scope: String, key: String, _ bytes: UnsafeRawBufferPointer, _ cipher: RecordCipher) throws(ByteReader.Short) -> IdempotencyRecord {
        var r = ByteReader(bytes)
        let format = try r.u8()
        guard format == Self.format || format == clearFormat else { throw ByteReader.Short() }
        let created = try r.i64()
        let status = Int(try r.u16())
        let digest = try r.blob()
        let body: [UInt8]
        if format == clearFormat {
            body = try r.blob()
        } else {
            body = try cipher.open(r.rest(), .idempotency, keyBytes: Self.key(scope: scope, key: key)) { plain throws(ByteReader.Short) -> [UInt8] in
                plain.map { Array($0) } ?? Array(RecordCipher.placeholder.utf8)
            }
        }
        guard r.isAtEnd else { throw ByteReader.Short() }
        return IdempotencyRecord(scope: scope, key: key, createdMilliseconds: created, requestDigest: digest, status: status, body: body)
    }

    /// Splits a stored key into scope and key; nil when it has no 0 byte.
    static func split(_ key: UnsafeRawBufferPointer) -> (scope: String, key: String)? {
        guard let zero = key.firstIndex(of: 0) else { return nil }
        let scope = String(decoding: UnsafeRawBufferPointer(rebasing: key[..<zero]), as: UTF8.self)
        let rest = String(decoding: UnsafeRawBufferPointer(rebasing: key[(zero + 1)...]), as: UTF8.self)
        return (scope, rest)
    }
}
