import SluiceCore

/// `campaigns` value:
///
///     0 u8 format (1)   1 u8 state   2 u32 sender   6 i64 created ms
///     14 u8 n = state count (9; 8 before `unknown`)   15 n × u64 counts   then u32 length + message bytes
enum CampaignCodec {
    static let format: UInt8 = 1
    /// States in the first layout (`queued` … `read`).
    static let stateCountsMin = 8

    static func size(_ c: CampaignRecord) -> Int { 15 + 8 * c.counts.values.count + 4 + c.message.count }

    static func write(_ c: CampaignRecord, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(c.state.rawValue)
        w.u32(c.sender.rawValue)
        w.i64(c.createdMilliseconds)
        w.u8(UInt8(c.counts.values.count))
        for v in c.counts.values { w.u64(v) }
        w.blob(c.message)
        assert(w.offset == size(c))
    }

    static func read(id: CampaignID, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> CampaignRecord {
        var r = ByteReader(bytes)
        guard try r.u8() == format, let state = CampaignState(rawValue: try r.u8()) else { throw ByteReader.Short() }
        let sender = SenderID(try r.u32())
        let created = try r.i64()
        let n = Int(try r.u8())
        // Records written before `unknown` hold 8 counts: the missing ones are 0.
        guard n >= Self.stateCountsMin, n <= MessageState.allCases.count else { throw ByteReader.Short() }
        var counts = StateCounts()
        for i in 0..<n { counts.values[i] = try r.u64() }
        let message = try r.blob()
        guard r.isAtEnd else { throw ByteReader.Short() }
        return CampaignRecord(id: id, sender: sender, state: state, createdMilliseconds: created, message: message, counts: counts)
    }
}

/// `senders` value (the key is the UTF-8 `phoneNumberID`):
///
///     0 u8 format (1)   1 u32 id   5 u64 tier (Double bits)   13 u32 burst
///     17 u8 flags (1 paused, 2 pauseReason)   18 accessToken, [pauseReason]  (u16 length + UTF-8)
enum SenderCodec {
    static let format: UInt8 = 1
    /// LMDB's default maximum key size.
    static let phoneNumberIDBytesMax = 511

    static func size(_ s: SenderRecord) -> Int {
        18 + 2 + s.accessToken.utf8.count + (s.pauseReason.map { 2 + $0.utf8.count } ?? 0)
            + (s.appSecret.map { 2 + $0.utf8.count } ?? 0)
    }

    static func write(_ s: SenderRecord, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u32(s.id.rawValue)
        w.u64(s.tierMessagesPerSecond.bitPattern)
        w.u32(s.burst)
        w.u8((s.paused ? 1 : 0) | (s.pauseReason == nil ? 0 : 2) | (s.appSecret == nil ? 0 : 4))
        w.string(s.accessToken)
        if let reason = s.pauseReason { w.string(reason) }
        if let secret = s.appSecret { w.string(secret) }
        assert(w.offset == size(s))
    }

    static func read(phoneNumberID: String, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> SenderRecord {
        var r = ByteReader(bytes)
        guard try r.u8() == format else { throw ByteReader.Short() }
        let id = SenderID(try r.u32())
        let tier = Double(bitPattern: try r.u64())
        let burst = try r.u32()
        let flags = try r.u8()
        let token = try r.string()
        let reason = flags & 2 != 0 ? try r.string() : nil
        let secret = flags & 4 != 0 ? try r.string() : nil
        guard r.isAtEnd else { throw ByteReader.Short() }
        return SenderRecord(
            id: id, phoneNumberID: phoneNumberID, tierMessagesPerSecond: tier, burst: burst,
            accessToken: token, paused: flags & 1 != 0, pauseReason: reason, appSecret: secret)
    }
}
