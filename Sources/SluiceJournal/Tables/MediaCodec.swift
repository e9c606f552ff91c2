import SluiceCore

/// A media record in `media` (the key is Meta's media id, UTF-8):
///
///     0 u8 format (1)   1 u8 state   2 u8 flags (1 error)   3 u32 attempts
///     7 i64 next attempt ms   15 i64 size   23 i64 received ms   31 i64 settled ms
///     39 sender phone number id, kind, mime type, sha256 hex, [error]  (u16 length + UTF-8 each)
///
/// Not sealed: what a file is, not what it shows (the file itself is in the media volume).
///
/// `media_due` keys a pending record by when it is tried next: u64 next attempt ms (sign
/// bit flipped) | media id. `media_blobs` counts the records that name each stored file:
/// sha256 hex → u64 big-endian.
enum MediaCodec {
    static let format: UInt8 = 1
    static let headerBytes = 39
    private static let hasError: UInt8 = 1

    static func size(_ m: MediaRecord) -> Int {
        headerBytes + 8 + m.senderPhoneNumberID.utf8.count + m.kind.rawValue.utf8.count + m.mimeType.utf8.count + m.sha256.utf8.count
            + (m.error.map { 2 + $0.utf8.count } ?? 0)
    }

    static func write(_ m: MediaRecord, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(m.state.rawValue)
        w.u8(m.error == nil ? 0 : hasError)
        w.u32(m.attempts)
        w.i64(m.nextAttemptMilliseconds)
        w.i64(m.size)
        w.i64(m.receivedMilliseconds)
        w.i64(m.settledMilliseconds)
        w.string(m.senderPhoneNumberID)
        w.string(m.kind.rawValue)
        w.string(m.mimeType)
        w.string(m.sha256)
        if let error = m.error { w.string(error) }
        assert(w.offset == size(m))
    }

    static func read(id: String, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> MediaRecord {
        var r = ByteReader(bytes)
        guard try r.u8() == format, let state = MediaRecord.State(rawValue: try r.u8()) else { throw ByteReader.Short() }
        let flags = try r.u8()
        guard flags & ~hasError == 0 else { throw ByteReader.Short() }
        let attempts = try r.u32()
        let next = try r.i64()
        let size = try r.i64()
        let received = try r.i64()
        let settled = try r.i64()
        let sender = try r.string()
        guard let kind = MediaKind(rawValue: try r.string()) else { throw ByteReader.Short() }
        let mime = try r.string()
        let sha = try r.string()
        let error = flags & hasError != 0 ? try r.string() : nil
        guard r.isAtEnd else { throw ByteReader.Short() }
        return MediaRecord(
            id: id, senderPhoneNumberID: sender, kind: kind, state: state, mimeType: mime, sha256: sha, size: size, attempts: attempts,
            nextAttemptMilliseconds: next, error: error, receivedMilliseconds: received, settledMilliseconds: settled)
    }

    /// The `media_due` key of a pending record.
    static func dueKey(_ id: String, nextAttemptMilliseconds: Int64) -> [UInt8] {
        withUnsafeBytes(of: Key.orderedBits(nextAttemptMilliseconds).bigEndian) { Array($0) } + Array(id.utf8)
    }

    /// When, and which, of a `media_due` key.
    static func dueParts(_ key: UnsafeRawBufferPointer) -> (nextAttemptMilliseconds: Int64, id: String)? {
        guard key.count > 8 else { return nil }
        let bits = UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
        return (Key.fromOrderedBits(bits), String(decoding: UnsafeRawBufferPointer(rebasing: key[8...]), as: UTF8.self))
    }
}

/// `media_uploads`: an uploaded file as one number's Meta media id. Key: Sluice's media id
/// (UTF-8) | 0 | u32 sender, so that a file's uploads are adjacent (retention removes them
/// with it). Value:
///
///     0 u8 format (1)   1 i64 uploaded ms   9 i64 expires ms   17 Meta media id (u16 length + UTF-8)
enum MediaUploadCodec {
    static let format: UInt8 = 1

    static func key(media: String, sender: SenderID) -> [UInt8] {
        var key = Array(media.utf8)
        key.append(0)
        withUnsafeBytes(of: sender.rawValue.bigEndian) { key.append(contentsOf: $0) }
        return key
    }

    /// The key's prefix shared by every upload of `media`.
    static func prefix(media: String) -> [UInt8] { Array(media.utf8) + [0] }

    static func size(_ u: MediaUpload) -> Int { 17 + 2 + u.metaID.utf8.count }

    static func write(_ u: MediaUpload, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.i64(u.uploadedMilliseconds)
        w.i64(u.expiresMilliseconds)
        w.string(u.metaID)
        assert(w.offset == size(u))
    }

    static func read(media: String, sender: SenderID, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> MediaUpload {
        var r = ByteReader(bytes)
        guard try r.u8() == format else { throw ByteReader.Short() }
        let uploaded = try r.i64()
        let expires = try r.i64()
        let metaID = try r.string()
        guard r.isAtEnd else { throw ByteReader.Short() }
        return MediaUpload(media: media, sender: sender, metaID: metaID, uploadedMilliseconds: uploaded, expiresMilliseconds: expires)
    }
}
