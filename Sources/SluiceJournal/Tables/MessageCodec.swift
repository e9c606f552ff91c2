import SluiceCore

/// `messages` value: a 38-byte fixed header, then length-prefixed strings.
///
///     0  u8  format (1)          1  u8  state          2  u8  flags (1 wamid, 2 errorMessage)
///     3  u8  params count        4  u16 attempts       6  u32 sender
///     10 i32 errorCode           14 u64 campaign       22 i64 notBefore ms
///     30 i64 updated ms          38 to, params…, [wamid], [errorMessage]  (u16 length + UTF-8 each)
///
/// Little-endian: values are never compared byte-wise. The id is the key.
enum MessageCodec {
    static let format: UInt8 = 1
    static let headerBytes = 38
    /// Where the i64 updated time sits in the header.
    static let updatedOffset = 30
    static let paramsMax = Int(UInt8.max)
    private static let hasWamid: UInt8 = 1
    private static let hasErrorMessage: UInt8 = 2

    static func size(_ m: MessageRecord) -> Int {
        var n = headerBytes + 2 + m.to.utf8.count
        for p in m.params { n += 2 + p.utf8.count }
        if let w = m.wamid { n += 2 + w.utf8.count }
        if let e = m.errorMessage { n += 2 + e.utf8.count }
        return n
    }

    /// Writes exactly `size(m)` bytes.
    static func write(_ m: MessageRecord, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(m.state.rawValue)
        w.u8((m.wamid == nil ? 0 : hasWamid) | (m.errorMessage == nil ? 0 : hasErrorMessage))
        w.u8(UInt8(m.params.count))
        w.u16(m.attempts)
        w.u32(m.sender.rawValue)
        w.u32(UInt32(bitPattern: m.errorCode))
        w.u64(m.campaign.rawValue)
        w.i64(m.notBeforeMilliseconds)
        w.i64(m.updatedMilliseconds)
        w.string(m.to)
        for p in m.params { w.string(p) }
        if let wamid = m.wamid { w.string(wamid) }
        if let e = m.errorMessage { w.string(e) }
        assert(w.offset == size(m), "message \(m.id) encoded to \(w.offset) bytes, expected \(size(m))")
    }

    static func read(id: MessageID, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> MessageRecord {
        var r = ByteReader(bytes)
        guard try r.u8() == format, let state = MessageState(rawValue: try r.u8()) else { throw ByteReader.Short() }
        let flags = try r.u8()
        let paramCount = Int(try r.u8())
        let attempts = try r.u16()
        let sender = SenderID(try r.u32())
        let errorCode = Int32(bitPattern: try r.u32())
        let campaign = CampaignID(try r.u64())
        let notBefore = try r.i64()
        let updated = try r.i64()
        let to = try r.string()
        var params: [String] = []
        params.reserveCapacity(paramCount)
        for _ in 0..<paramCount { params.append(try r.string()) }
        let wamid = flags & hasWamid != 0 ? try r.string() : nil
        let errorMessage = flags & hasErrorMessage != 0 ? try r.string() : nil
        guard r.isAtEnd else { throw ByteReader.Short() }
        return MessageRecord(
            id: id, campaign: campaign, sender: sender, state: state, attempts: attempts,
            notBeforeMilliseconds: notBefore, updatedMilliseconds: updated, to: to, params: params,
            wamid: wamid, errorCode: errorCode, errorMessage: errorMessage)
    }

    /// Only the fields a transition needs to find the record's index entries.
    static func readState(_ bytes: UnsafeRawBufferPointer) -> MessageState? {
        guard bytes.count >= headerBytes, bytes[0] == format else { return nil }
        return MessageState(rawValue: bytes[1])
    }
}
