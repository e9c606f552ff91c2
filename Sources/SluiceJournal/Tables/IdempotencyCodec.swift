import SluiceCore

/// `idempotency` key: UTF-8 scope, a 0 byte, UTF-8 key (scopes hold no 0 byte).
///
/// Value:
///
///     0 u8 format (1)   1 i64 created ms   9 u16 status
///     11 request digest (u32 length + bytes)   then answer body (u32 length + bytes)
enum IdempotencyCodec {
    static let format: UInt8 = 1
    static let requestDigestBytesMax = 64

    static func key(scope: String, key: String) -> [UInt8] {
        var bytes = Array(scope.utf8)
        bytes.append(0)
        bytes.append(contentsOf: key.utf8)
        return bytes
    }

    static func size(_ r: IdempotencyRecord) -> Int { 11 + 4 + r.requestDigest.count + 4 + r.body.count }

    static func write(_ r: IdempotencyRecord, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.i64(r.createdMilliseconds)
        w.u16(UInt16(r.status))
        w.blob(r.requestDigest)
        w.blob(r.body)
        assert(w.offset == size(r))
    }

    static func read(scope: String, key: String, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> IdempotencyRecord {
        var r = ByteReader(bytes)
        guard try r.u8() == format else { throw ByteReader.Short() }
        let created = try r.i64()
        let status = Int(try r.u16())
        let digest = try r.blob()
        let body = try r.blob()
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
