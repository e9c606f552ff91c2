import SluiceCore

/// An incoming message, as the `inbound` table keeps it (the key is its wamid) and as an
/// `outbox` entry carries it to a subscriber (format 3 there; the key is subscription |
/// number lane | `orderKey` | event id):
///
///     0 u8 format   1 u8 0   2 u8 flags (1 from, 2 fromUserID, 4 contactName, 8 media)
///     3 u32 attempts   7 i64 next attempt ms   (both 0 in `inbound`)
///     15 i64 received ms
///     23 sender phone number id, wamid, type, timestamp  (u16 length + UTF-8 each)
///     [media id, kind, mime type, sha256 ("" for none)]  (u16 length + UTF-8 each)
///     then sealed: [from], [fromUserID], [contactName]  (u16 length + UTF-8 each),
///                  the message object  (u32 length + bytes)
///
/// What the customer wrote and who they are is sealed; the rest stays readable without
/// the key, like a status event's metadata.
enum InboundCodec {
    /// In `inbound`.
    static let recordFormat: UInt8 = 1
    /// In `outbox`, beside `OutboxCodec`'s formats 1 and 2; the attempt fields sit at the
    /// same offsets, so settling patches it the same way.
    static let outboxFormat: UInt8 = 3
    static let headerBytes = 23
    private static let hasFrom: UInt8 = 1
    private static let hasUserID: UInt8 = 2
    private static let hasContactName: UInt8 = 4
    private static let hasMedia: UInt8 = 8

    /// When it was journaled (clear, at offset 15): needs no key.
    static func receivedMilliseconds(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.count >= headerBytes, bytes[0] == recordFormat || bytes[0] == outboxFormat else { return nil }
        return Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 15, as: Int64.self))
    }

    static func size(_ m: InboundMessage, _ cipher: RecordCipher) -> Int {
        var n = headerBytes + 8 + m.senderPhoneNumberID.utf8.count + m.wamid.utf8.count + m.type.utf8.count + m.timestamp.utf8.count
        if let media = m.media {
            n += 8 + media.id.utf8.count + media.kind.rawValue.utf8.count + (media.mimeType?.utf8.count ?? 0) + (media.sha256?.utf8.count ?? 0)
        }
        var sealed = 4 + m.object.count
        for field in [m.from, m.fromUserID, m.contactName] { if let f = field { sealed += 2 + f.utf8.count } }
        n += cipher.sealedCount(sealed)
        return n
    }

    static func write(
        _ m: InboundMessage, format: UInt8, attempts: UInt32, nextAttemptMilliseconds: Int64, table: RecordCipher.Table,
        key: UnsafeRawBufferPointer, _ cipher: RecordCipher, to base: UnsafeMutableRawPointer
    ) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(0)
        w.u8(
            (m.from == nil ? 0 : hasFrom) | (m.fromUserID == nil ? 0 : hasUserID) | (m.contactName == nil ? 0 : hasContactName)
                | (m.media == nil ? 0 : hasMedia))
        w.u32(attempts)
        w.i64(nextAttemptMilliseconds)
        w.i64(m.receivedMilliseconds)
        w.string(m.senderPhoneNumberID)
        w.string(m.wamid)
        w.string(m.type)
        w.string(m.timestamp)
        if let media = m.media {
            w.string(media.id)
            w.string(media.kind.rawValue)
            w.string(media.mimeType ?? "")
            w.string(media.sha256 ?? "")
        }
        cipher.seal(&w, table, key: key) { w in
            if let f = m.from { w.string(f) }
            if let f = m.fromUserID { w.string(f) }
            if let f = m.contactName { w.string(f) }
            w.blob(m.object)
        }
        assert(w.offset == size(m, cipher))
    }

    /// `(message, attempts, next attempt ms)`.
    static func read(
        _ bytes: UnsafeRawBufferPointer, format: UInt8, table: RecordCipher.Table, key: UnsafeRawBufferPointer, _ cipher: RecordCipher
    ) throws(ByteReader.Short) -> (InboundMessage, UInt32, Int64) {
        var r = ByteReader(bytes)
        guard try r.u8() == format, try r.u8() == 0 else { throw ByteReader.Short() }
        let flags = try r.u8()
        guard flags & ~(hasFrom | hasUserID | hasContactName | hasMedia) == 0 else { throw ByteReader.Short() }
        let attempts = try r.u32()
        let next = try r.i64()
        let received = try r.i64()
        let sender = try r.string()
        let wamid = try r.string()
        let type = try r.string()
        let timestamp = try r.string()
        var media: MediaReference?
        if flags & hasMedia != 0 {
            let id = try r.string()
            guard let kind = MediaKind(rawValue: try r.string()) else { throw ByteReader.Short() }
            let mime = try r.string()
            let sha = try r.string()
            media = MediaReference(id: id, kind: kind, mimeType: mime.isEmpty ? nil : mime, sha256: sha.isEmpty ? nil : sha)
        }
        typealias Sealed = (from: String?, userID: String?, name: String?, object: [UInt8])
        let sealed = try cipher.open(r.rest(), table, key: key) { plain throws(ByteReader.Short) -> Sealed in
            guard let plain else { return (nil, nil, nil, Array(RecordCipher.placeholder.utf8)) }
            var s = ByteReader(plain)
            let from = flags & hasFrom != 0 ? try s.string() : nil
            let userID = flags & hasUserID != 0 ? try s.string() : nil
            let name = flags & hasContactName != 0 ? try s.string() : nil
            let object = try s.blob()
            guard s.isAtEnd else { throw ByteReader.Short() }
            return (from, userID, name, object)
        }
        let message = InboundMessage(
            wamid: wamid, senderPhoneNumberID: sender, from: sealed.from, fromUserID: sealed.userID, contactName: sealed.name,
            timestamp: timestamp, type: type, object: sealed.object, receivedMilliseconds: received, media: media)
        return (message, attempts, next)
    }
}
