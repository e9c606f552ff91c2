import SluiceCore

/// `messages` value: a 78-byte fixed header, the strings in the clear, then the sealed
/// recipient and parameters (`RecordCipher`, to the end of the value).
///
///     0  u8  format (3)          1  u8  state          2  u8  flags (1 wamid, 2 errorMessage, 4 externalID)
///     3  u8  params count        4  u16 attempts       6  u32 sender
///     10 i32 errorCode           14 u64 campaign       22 i64 notBefore ms
///     30 i64 updated ms          38 i64 × 5 times: accepted, sent, delivered, read, ended ms (0: none)
///     78 [wamid], [errorMessage], [externalID]  (u16 length + UTF-8 each)
///     then sealed: to, params…  (u16 length + UTF-8 each)
///
/// Format 2 has no times (its header ends at 38) nor externalID; format 1 (before
/// encryption) has format 2's header, then to, params…, [wamid], [errorMessage] in the
/// clear. Both are read, and a transition rewrites them in this format.
///
/// Little-endian: values are never compared byte-wise. The id is the key.
enum MessageCodec {
    static let format: UInt8 = 3
    static let sealedFormat: UInt8 = 2
    static let clearFormat: UInt8 = 1
    static let headerBytes = 78
    /// Header of formats 1 and 2: the fields before the times.
    static let shortHeaderBytes = 38
    /// Where the u32 sender sits in the header.
    static let senderOffset = 6
    /// Where the i64 updated time sits in the header.
    static let updatedOffset = 30
    /// Where the five i64 times start (format 3).
    static let timesOffset = 38
    static let paramsMax = Int(UInt8.max)
    private static let hasWamid: UInt8 = 1
    private static let hasErrorMessage: UInt8 = 2
    private static let hasExternalID: UInt8 = 4

    static func isKnown(_ format: UInt8) -> Bool { format >= clearFormat && format <= Self.format }

    /// Bytes before the clear strings of a record in `format`.
    static func headerBytes(_ format: UInt8) -> Int { format == Self.format ? headerBytes : shortHeaderBytes }

    static func sealedFieldsCount(_ m: MessageRecord) -> Int {
        var n = 2 + m.to.utf8.count
        for p in m.params { n += 2 + p.utf8.count }
        return n
    }

    static func size(_ m: MessageRecord, _ cipher: RecordCipher) -> Int {
        var n = headerBytes
        if let w = m.wamid { n += 2 + w.utf8.count }
        if let e = m.errorMessage { n += 2 + e.utf8.count }
        if let x = m.externalID { n += 2 + x.utf8.count }
        return n + cipher.sealedCount(sealedFieldsCount(m))
    }

    /// Writes exactly `size(m, cipher)` bytes.
    static func write(_ m: MessageRecord, _ cipher: RecordCipher, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(m.state.rawValue)
        w.u8((m.wamid == nil ? 0 : hasWamid) | (m.errorMessage == nil ? 0 : hasErrorMessage) | (m.externalID == nil ? 0 : hasExternalID))
        w.u8(UInt8(m.params.count))
        w.u16(m.attempts)
        w.u32(m.sender.rawValue)
        w.u32(UInt32(bitPattern: m.errorCode))
        w.u64(m.campaign.rawValue)
        w.i64(m.notBeforeMilliseconds)
        w.i64(m.updatedMilliseconds)
        for t in [m.times.accepted, m.times.sent, m.times.delivered, m.times.read, m.times.ended] { w.i64(t) }
        if let wamid = m.wamid { w.string(wamid) }
        if let e = m.errorMessage { w.string(e) }
        if let x = m.externalID { w.string(x) }
        Key(id: m.id.rawValue).withBytes { key in
            cipher.seal(&w, .messages, key: key) { w in
                w.string(m.to)
                for p in m.params { w.string(p) }
            }
        }
        assert(w.offset == size(m, cipher), "message \(m.id) encoded to \(w.offset) bytes, expected \(size(m, cipher))")
    }

    static func read(id: MessageID, _ bytes: UnsafeRawBufferPointer, _ cipher: RecordCipher) throws(ByteReader.Short) -> MessageRecord {
        var r = ByteReader(bytes)
        let format = try r.u8()
        guard isKnown(format), let state = MessageState(rawValue: try r.u8()) else { throw ByteReader.Short() }
        let flags = try r.u8()
        let paramCount = Int(try r.u8())
        let attempts = try r.u16()
        let sender = SenderID(try r.u32())
        let errorCode = Int32(bitPattern: try r.u32())
        let campaign = CampaignID(try r.u64())
        let notBefore = try r.i64()
        let updated = try r.i64()
        var times = MessageTimes()
        if format == Self.format {
            times = MessageTimes(accepted: try r.i64(), sent: try r.i64(), delivered: try r.i64(), read: try r.i64(), ended: try r.i64())
        }
        var externalID: String?
        let to: String
        var params: [String] = []
        params.reserveCapacity(paramCount)
        let wamid: String?
        let errorMessage: String?
        if format == clearFormat {
            to = try r.string()
            for _ in 0..<paramCount { params.append(try r.string()) }
            wamid = flags & hasWamid != 0 ? try r.string() : nil
            errorMessage = flags & hasErrorMessage != 0 ? try r.string() : nil
        } else {
            wamid = flags & hasWamid != 0 ? try r.string() : nil
            errorMessage = flags & hasErrorMessage != 0 ? try r.string() : nil
            if flags & hasExternalID != 0 { externalID = try r.string() }
            let section = r.rest()
            to = try cipher.open(section, .messages, id: id.rawValue) { plain throws(ByteReader.Short) -> String in
                guard let plain else {
                    params = Array(repeating: RecordCipher.placeholder, count: paramCount)
                    return RecordCipher.placeholder
                }
                var s = ByteReader(plain)
                let to = try s.string()
                for _ in 0..<paramCount { params.append(try s.string()) }
                guard s.isAtEnd else { throw ByteReader.Short() }
                return to
            }
        }
        guard r.isAtEnd else { throw ByteReader.Short() }
        return MessageRecord(
            id: id, campaign: campaign, sender: sender, state: state, attempts: attempts,
            notBeforeMilliseconds: notBefore, updatedMilliseconds: updated, to: to, params: params,
            wamid: wamid, errorCode: errorCode, errorMessage: errorMessage, externalID: externalID, times: times)
    }

    /// The stored record (format 2 or 3) in format 3, with `wamid` and `errorMessage`
    /// replaced where given, into `out`. The sealed section is copied as it is: the send
    /// path neither decrypts nor encrypts. Format 2 gets no times (zeros).
    static func replacingStrings(
        _ stored: UnsafeRawBufferPointer, wamid: String?, errorMessage: String?, into out: inout [UInt8]
    ) throws(ByteReader.Short) {
        var r = ByteReader(stored)
        let format = try r.u8()
        guard format == Self.format || format == sealedFormat else { throw ByteReader.Short() }
        _ = try r.u8()
        let flags = try r.u8()
        try r.skip(headerBytes(format) - 3)
        let oldWamid = flags & hasWamid != 0 ? try r.string() : nil
        let oldError = flags & hasErrorMessage != 0 ? try r.string() : nil
        let externalID = flags & hasExternalID != 0 ? try r.string() : nil
        let section = r.rest()
        let newWamid = wamid ?? oldWamid
        let newError = errorMessage ?? oldError
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: stored[0..<shortHeaderBytes]))
        if format == Self.format {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: stored[shortHeaderBytes..<headerBytes]))
        } else {
            out.append(contentsOf: repeatElement(0, count: headerBytes - shortHeaderBytes))
        }
        out[0] = Self.format
        out[2] = (newWamid == nil ? 0 : hasWamid) | (newError == nil ? 0 : hasErrorMessage) | (externalID == nil ? 0 : hasExternalID)
        func append(_ s: String?) {
            guard let s else { return }
            let n = s.utf8.count
            out.append(UInt8(truncatingIfNeeded: n))
            out.append(UInt8(truncatingIfNeeded: n >> 8))
            out.append(contentsOf: s.utf8)
        }
        append(newWamid)
        append(newError)
        append(externalID)
        out.append(contentsOf: section)
    }

    /// The wamid in a stored record's clear strings; nil when it has none, or is a record
    /// from before encryption (never indexed: a wamid given to one rewrites it in this format).
    static func readWamid(_ stored: UnsafeRawBufferPointer) -> String? {
        guard stored.count > shortHeaderBytes + 2, stored[0] == format || stored[0] == sealedFormat, stored[2] & hasWamid != 0 else { return nil }
        var r = ByteReader(stored)
        guard (try? r.skip(headerBytes(stored[0]))) != nil else { return nil }
        return try? r.string()
    }

    /// Only the fields a transition needs to find the record's index entries.
    /// `updatedMilliseconds` from a stored record's clear header.
    static func readUpdatedMilliseconds(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.count >= shortHeaderBytes, isKnown(bytes[0]) else { return nil }
        return Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: updatedOffset, as: Int64.self))
    }

    static func readState(_ bytes: UnsafeRawBufferPointer) -> MessageState? {
        guard bytes.count >= shortHeaderBytes, isKnown(bytes[0]) else { return nil }
        return MessageState(rawValue: bytes[1])
    }
}
