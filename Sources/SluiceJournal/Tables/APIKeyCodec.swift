import SluiceCore

/// `keys` value (the key is the UTF-8 key id):
///
///     0 u8 format (1)   1 u8 scopes (`APIKeyScope.bit`s)   2 u8 flags (1 revoked)
///     3 i64 created ms   11 i64 revoked ms (0 unless revoked)
///     19 secret digest (u32 length + bytes)   then name (u16 length + UTF-8)
enum APIKeyCodec {
    static let format: UInt8 = 1
    /// LMDB's default maximum key size.
    static let idBytesMax = 511
    /// Longest stored secret digest (SHA-256 is 32 bytes).
    static let secretDigestBytesMax = 64

    static func size(_ k: APIKeyRecord) -> Int { 19 + 4 + k.secretDigest.count + 2 + k.name.utf8.count }

    static func write(_ k: APIKeyRecord, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(APIKeyScope.bits(k.scopes))
        w.u8(k.revokedMilliseconds == nil ? 0 : 1)
        w.i64(k.createdMilliseconds)
        w.i64(k.revokedMilliseconds ?? 0)
        w.blob(k.secretDigest)
        w.string(k.name)
        assert(w.offset == size(k))
    }

    static func read(id: String, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> APIKeyRecord {
        var r = ByteReader(bytes)
        guard try r.u8() == format, let scopes = APIKeyScope.scopes(bits: try r.u8()) else { throw ByteReader.Short() }
        let flags = try r.u8()
        let created = try r.i64()
        let revoked = try r.i64()
        let digest = try r.blob()
        let name = try r.string()
        guard r.isAtEnd, flags & ~1 == 0 else { throw ByteReader.Short() }
        return APIKeyRecord(
            id: id, name: name, scopes: scopes, secretDigest: digest,
            createdMilliseconds: created, revokedMilliseconds: flags & 1 != 0 ? revoked : nil)
    }
}
