import SluiceCore

/// `campaigns` value:
///
///     0 u8 format (6)   1 u8 state   2 u32 sender   6 i64 created ms
///     14 u8 n = state count (12; 9 before `expired`, 8 before `unknown`)   15 n × u64 counts
///     then options: u8 priority, u8 delivery, i64 schedule_at ms, i64 expires_at ms
///     (`Int64.min`: none)
///     then the pause reason: u16 length + UTF-8 (0: none)
///     then u64 first message, u64 last message, u64 retry of (0: none each),
///     the name (u16 length + UTF-8, 0: none), u8 label count + labels (u16 length + UTF-8),
///     u8 retry count + u64 each, u8 failure code count + (i32 code, u64 count) each,
///     the origin: node (u16 length + UTF-8, 0: none) and u64 campaign
///     then sealed: the message object  (`RecordCipher`, to the end of the value)
///
/// Format 5 has no origin; format 4 ends before the message range; format 3 has no pause reason; format 2 has no
/// options (the standard ones); format 1 (before encryption) has none and ends with u32
/// length + the message in the clear. All are read only.
///
/// Counts change with every transition: the writer keeps a campaign's sealed section as
/// stored (`readStored`, `writeStored`) and rewrites the counts around it, so a commit
/// encrypts nothing for them.
enum CampaignCodec {
    static let format: UInt8 = 6
    /// The message range and descriptors, no origin.
    static let descriptorsFormat: UInt8 = 5
    /// A pause reason, no message range nor descriptors.
    static let reasonFormat: UInt8 = 4
    /// Options, no pause reason.
    static let optionsFormat: UInt8 = 3
    /// Sealed, without options.
    static let sealedFormat: UInt8 = 2
    static let clearFormat: UInt8 = 1
    /// States in the first layout (`queued` … `read`).
    static let stateCountsMin = 8
    static let optionsBytes = 18
    private static let none = Int64.min

    /// The message as a sealed section: what the writer holds in `CampaignRecord.message`.
    static func sealedMessage(_ message: [UInt8], id: CampaignID, _ cipher: RecordCipher) -> [UInt8] {
        Key(id: id.rawValue).withBytes { key in
            cipher.sealed(message.count, .campaigns, key: key) { w in message.withUnsafeBytes { w.bytes($0) } }
        }
    }

    /// Size of a record whose `message` is a sealed section.
    static func storedSize(_ c: CampaignRecord) -> Int {
        15 + 8 * c.counts.values.count + optionsBytes + 2 + (c.pauseReason?.utf8.count ?? 0) + descriptorsSize(c) + c.message.count
    }

    private static func descriptorsSize(_ c: CampaignRecord) -> Int {
        24 + 2 + (c.options.name?.utf8.count ?? 0) + 1 + c.options.labels.reduce(0) { $0 + 2 + $1.utf8.count }
            + 1 + 8 * c.retries.count + 1 + 12 * c.failures.entries.count + 2 + (c.options.origin?.node.utf8.count ?? 0) + 8
    }

    /// Writes a record whose `message` is a sealed section, copied as it is.
    static func writeStored(_ c: CampaignRecord, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u8(c.state.rawValue)
        w.u32(c.sender.rawValue)
        w.i64(c.createdMilliseconds)
        w.u8(UInt8(c.counts.values.count))
        for v in c.counts.values { w.u64(v) }
        w.u8(c.options.priority.rawValue)
        w.u8(c.options.delivery.rawValue)
        w.i64(c.options.scheduleAtMilliseconds ?? none)
        w.i64(c.options.expiresAtMilliseconds ?? none)
        w.string(c.pauseReason ?? "")
        w.u64(c.firstMessage?.rawValue ?? 0)
        w.u64(c.lastMessage?.rawValue ?? 0)
        w.u64(c.options.retryOf?.rawValue ?? 0)
        w.string(c.options.name ?? "")
        w.u8(UInt8(c.options.labels.count))
        for label in c.options.labels { w.string(label) }
        w.u8(UInt8(c.retries.count))
        for r in c.retries { w.u64(r.rawValue) }
        w.u8(UInt8(c.failures.entries.count))
        for e in c.failures.entries {
            w.u32(UInt32(bitPattern: e.code))
            w.u64(e.count)
        }
        w.string(c.options.origin?.node ?? "")
        w.u64(c.options.origin?.campaign.rawValue ?? 0)
        c.message.withUnsafeBytes { w.bytes($0) }
        assert(w.offset == storedSize(c))
    }

    /// The record with its message decrypted (a placeholder when inspecting without the key).
    static func read(id: CampaignID, _ bytes: UnsafeRawBufferPointer, _ cipher: RecordCipher) throws(ByteReader.Short) -> CampaignRecord {
        var r = ByteReader(bytes)
        var c = try header(id: id, &r)
        if bytes[0] == clearFormat {
            c.message = try r.blob()
            guard r.isAtEnd else { throw ByteReader.Short() }
        } else {
            c.message = try cipher.open(r.rest(), .campaigns, id: id.rawValue) { plain throws(ByteReader.Short) -> [UInt8] in
                plain.map { Array($0) } ?? Array(RecordCipher.placeholder.utf8)
            }
        }
        return c
    }

    /// The record with its message as a sealed section (format 1 records get sealed here),
    /// for the writer.
    static func readStored(id: CampaignID, _ bytes: UnsafeRawBufferPointer, _ cipher: RecordCipher) throws(ByteReader.Short) -> CampaignRecord {
        var r = ByteReader(bytes)
        var c = try header(id: id, &r)
        if bytes[0] == clearFormat {
            c.message = sealedMessage(try r.blob(), id: id, cipher)
            guard r.isAtEnd else { throw ByteReader.Short() }
        } else {
            let section = r.rest()
            guard !section.isEmpty else { throw ByteReader.Short() }
            c.message = Array(section)
        }
        return c
    }

    /// State and counts; `message` empty. Needs no key.
    static func readHeader(id: CampaignID, _ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> CampaignRecord {
        var r = ByteReader(bytes)
        return try header(id: id, &r)
    }

    private static func header(id: CampaignID, _ r: inout ByteReader) throws(ByteReader.Short) -> CampaignRecord {
        let format = try r.u8()
        guard [Self.format, descriptorsFormat, reasonFormat, optionsFormat, sealedFormat, clearFormat].contains(format), let state = CampaignState(rawValue: try r.u8()) else { throw ByteReader.Short() }
        let sender = SenderID(try r.u32())
        let created = try r.i64()
        let n = Int(try r.u8())
        // Records written before `unknown` hold 8 counts: the missing ones are 0.
        guard n >= Self.stateCountsMin, n <= MessageState.allCases.count else { throw ByteReader.Short() }
        var counts = StateCounts()
        for i in 0..<n { counts.values[i] = try r.u64() }
        var options = CampaignOptions.standard
        if format >= optionsFormat {
            guard let priority = CampaignPriority(rawValue: try r.u8()), let delivery = DeliveryMode(rawValue: try r.u8()) else { throw ByteReader.Short() }
            let start = try r.i64()
            let end = try r.i64()
            options = CampaignOptions(
                scheduleAtMilliseconds: start == none ? nil : start, expiresAtMilliseconds: end == none ? nil : end,
                priority: priority, delivery: delivery)
        }
        var reason: String?
        if format >= reasonFormat {
            let text = try r.string()
            reason = text.isEmpty ? nil : text
        }
        var c = CampaignRecord(id: id, sender: sender, state: state, createdMilliseconds: created, message: [], counts: counts, options: options, pauseReason: reason)
        if format >= descriptorsFormat {
            func id(_ raw: UInt64) -> UInt64? { raw == 0 ? nil : raw }
            c.firstMessage = id(try r.u64()).map { MessageID($0) }
            c.lastMessage = id(try r.u64()).map { MessageID($0) }
            c.options.retryOf = id(try r.u64()).map { CampaignID($0) }
            let name = try r.string()
            c.options.name = name.isEmpty ? nil : name
            for _ in 0..<Int(try r.u8()) { c.options.labels.append(try r.string()) }
            for _ in 0..<Int(try r.u8()) { c.retries.append(CampaignID(try r.u64())) }
            for _ in 0..<Int(try r.u8()) {
                let code = Int32(bitPattern: try r.u32())
                c.failures.entries.append(FailureCounts.Entry(code: code, count: try r.u64()))
            }
        }
        if format >= Self.format {
            let node = try r.string()
            let campaign = try r.u64()
            if !node.isEmpty { c.options.origin = CampaignOrigin(node: node, campaign: CampaignID(campaign)) }
        }
        return c
    }
}

/// `senders` value (the key is the UTF-8 `phoneNumberID`):
///
///     0 u8 format (3)   1 u32 id   5 u64 tier (Double bits)   13 u32 burst
///     17 u8 flags (1 paused, 2 pauseReason, 4 appSecret, 8 messagingLimit, 16 group,
///                  32 customer window enforced, 64 optOutKeywords, 128 displayPhoneNumber)
///     18 [pauseReason]  (u16 length + UTF-8)   [messagingLimit]  (u32)   [group]  (u16 length + UTF-8)
///     [optOutKeywords]  (u16 count, then u16 length + UTF-8 each)   [displayPhoneNumber]  (u16 length + UTF-8)
///     u8 more flags (1 fencing)   [fencing]  (i64 token, i64 since ms)
///     then sealed: accessToken, [appSecret]  (u16 length + UTF-8 each)
///
/// Format 2 has no more flags nor fencing.
///
/// Records written before the messaging limit have neither flag 8 nor 16 and read as
/// unlimited and ungrouped. Format 1 (before encryption): accessToken, [pauseReason],
/// [appSecret] in the clear; read only.
enum SenderCodec {
    static let format: UInt8 = 3
    /// No fencing.
    static let displayFormat: UInt8 = 2
    static let clearFormat: UInt8 = 1
    /// LMDB's default maximum key size.
    static let phoneNumberIDBytesMax = 511

    private static func sealedFieldsCount(_ s: SenderRecord) -> Int {
        2 + s.accessToken.utf8.count + (s.appSecret.map { 2 + $0.utf8.count } ?? 0)
    }

    static func size(_ s: SenderRecord, _ cipher: RecordCipher) -> Int {
        18 + (s.pauseReason.map { 2 + $0.utf8.count } ?? 0) + (s.messagingLimit == nil ? 0 : 4) + (s.group.map { 2 + $0.utf8.count } ?? 0)
            + (s.optOutKeywords.map { 2 + $0.reduce(0) { $0 + 2 + $1.utf8.count } } ?? 0) + (s.displayPhoneNumber.map { 2 + $0.utf8.count } ?? 0)
            + 1 + (s.fencing == nil ? 0 : 16) + cipher.sealedCount(sealedFieldsCount(s))
    }

    static func write(_ s: SenderRecord, _ cipher: RecordCipher, to base: UnsafeMutableRawPointer) {
        var w = ByteWriter(base)
        w.u8(format)
        w.u32(s.id.rawValue)
        w.u64(s.tierMessagesPerSecond.bitPattern)
        w.u32(s.burst)
        w.u8(
            (s.paused ? 1 : 0) | (s.pauseReason == nil ? 0 : 2) | (s.appSecret == nil ? 0 : 4) | (s.messagingLimit == nil ? 0 : 8) | (s.group == nil ? 0 : 16)
                | (s.customerWindow == .enforce ? 32 : 0) | (s.optOutKeywords == nil ? 0 : 64) | (s.displayPhoneNumber == nil ? 0 : 128))
        if let reason = s.pauseReason { w.string(reason) }
        if let limit = s.messagingLimit { w.u32(UInt32(limit)) }
        if let group = s.group { w.string(group) }
        if let keywords = s.optOutKeywords {
            w.u16(UInt16(keywords.count))
            for k in keywords { w.string(k) }
        }
        if let display = s.displayPhoneNumber { w.string(display) }
        w.u8(s.fencing == nil ? 0 : 1)
        if let fencing = s.fencing {
            w.i64(fencing.token)
            w.i64(fencing.sinceMilliseconds)
        }
        Array(s.phoneNumberID.utf8).withUnsafeBytes { key in
            cipher.seal(&w, .senders, key: key) { w in
                w.string(s.accessToken)
                if let secret = s.appSecret { w.string(secret) }
            }
        }
        assert(w.offset == size(s, cipher))
    }

    /// Whether flag 32 is set (the same offset in both formats): needs no key.
    static func enforcesWindow(_ bytes: UnsafeRawBufferPointer) -> Bool { bytes.count > 17 && bytes[17] & 32 != 0 }

    /// The id alone (the same offset in both formats): needs no key.
    static func readID(_ bytes: UnsafeRawBufferPointer) throws(ByteReader.Short) -> SenderID {
        var r = ByteReader(bytes)
        let format = try r.u8()
        guard format == Self.format || format == displayFormat || format == clearFormat else { throw ByteReader.Short() }
        return SenderID(try r.u32())
    }

    static func read(phoneNumberID: String, _ bytes: UnsafeRawBufferPointer, _ cipher: RecordCipher) throws(ByteReader.Short) -> SenderRecord {
        var r = ByteReader(bytes)
        let format = try r.u8()
        guard format == Self.format || format == displayFormat || format == clearFormat else { throw ByteReader.Short() }
        let id = SenderID(try r.u32())
        let tier = Double(bitPattern: try r.u64())
        let burst = try r.u32()
        let flags = try r.u8()
        let token: String
        let reason: String?
        let secret: String?
        var limit: Int?
        var group: String?
        var keywords: [String]?
        var display: String?
        var fencing: SenderFencing?
        if format == clearFormat {
            token = try r.string()
            reason = flags & 2 != 0 ? try r.string() : nil
            secret = flags & 4 != 0 ? try r.string() : nil
        } else {
            reason = flags & 2 != 0 ? try r.string() : nil
            if flags & 8 != 0 { limit = Int(try r.u32()) }
            if flags & 16 != 0 { group = try r.string() }
            if flags & 64 != 0 {
                let n = Int(try r.u16())
                var list: [String] = []
                for _ in 0..<n { list.append(try r.string()) }
                keywords = list
            }
            if flags & 128 != 0 { display = try r.string() }
            if format >= Self.format {
                let more = try r.u8()
                guard more & ~1 == 0 else { throw ByteReader.Short() }
                if more & 1 != 0 { fencing = SenderFencing(token: try r.i64(), sinceMilliseconds: try r.i64()) }
            }
            let section = r.rest()
            let opened = try cipher.open(section, .senders, keyBytes: Array(phoneNumberID.utf8)) { plain throws(ByteReader.Short) -> (String, String?) in
                guard let plain else { return (RecordCipher.placeholder, flags & 4 != 0 ? RecordCipher.placeholder : nil) }
                var s = ByteReader(plain)
                let token = try s.string()
                let secret = flags & 4 != 0 ? try s.string() : nil
                guard s.isAtEnd else { throw ByteReader.Short() }
                return (token, secret)
            }
            token = opened.0
            secret = opened.1
        }
        guard r.isAtEnd else { throw ByteReader.Short() }
        return SenderRecord(
            id: id, phoneNumberID: phoneNumberID, tierMessagesPerSecond: tier, burst: burst,
            accessToken: token, paused: flags & 1 != 0, pauseReason: reason, appSecret: secret, messagingLimit: limit, group: group,
            customerWindow: flags & 32 != 0 ? .enforce : .off, optOutKeywords: keywords, displayPhoneNumber: display, fencing: fencing)
    }
}
