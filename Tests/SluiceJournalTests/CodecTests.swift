import SluiceCore
import Testing
@testable import SluiceJournal

@Suite("Codecs")
struct CodecTests {
    let cipher = RecordCipher(key: Array(repeating: 9, count: 32))

    func roundTrip(_ m: MessageRecord) throws -> MessageRecord {
        var bytes = [UInt8](repeating: 0, count: MessageCodec.size(m, cipher))
        bytes.withUnsafeMutableBytes { MessageCodec.write(m, cipher, to: $0.baseAddress!) }
        return try bytes.withUnsafeBytes { try MessageCodec.read(id: m.id, $0, cipher) }
    }

    @Test func messageRoundTrips() throws {
        let plain = MessageRecord(id: MessageID(7), campaign: CampaignID(3), sender: SenderID(2), to: "4917012345678", params: ["a", "ü✓", ""])
        #expect(try roundTrip(plain) == plain)
        #expect(MessageCodec.size(plain, cipher) == 78 + 29 + 15 + 3 + 7 + 2)
        #expect(MessageCodec.size(plain, RecordCipher(key: nil)) == 78 + 1 + 15 + 3 + 7 + 2)
        let full = MessageRecord(
            id: MessageID(UInt64.max), campaign: CampaignID(1 << 40), sender: SenderID(UInt32.max), state: .failed,
            attempts: 65_535, notBeforeMilliseconds: -5, updatedMilliseconds: Int64.max, to: "", params: [],
            wamid: "wamid.HBgL", errorCode: -131026, errorMessage: "Message undeliverable", externalID: "crm-42",
            times: MessageTimes(accepted: 1, sent: 2, delivered: 3, read: Int64.max, ended: -1))
        #expect(try roundTrip(full) == full)
    }

    @Test("a format 2 record (no times, no external id) reads with zero times, and gains the times' place when its strings are replaced")
    func format2MessageReadsAndUpgrades() throws {
        let m = MessageRecord(
            id: MessageID(5), campaign: CampaignID(2), sender: SenderID(1), state: .inFlight, updatedMilliseconds: 77,
            to: "4917012345678", params: ["Ann"], wamid: "wamid.A")
        var bytes = [UInt8](repeating: 0, count: MessageCodec.size(m, cipher))
        bytes.withUnsafeMutableBytes { MessageCodec.write(m, cipher, to: $0.baseAddress!) }
        var format2 = bytes
        format2[0] = MessageCodec.sealedFormat
        format2.removeSubrange(MessageCodec.shortHeaderBytes..<MessageCodec.headerBytes)
        #expect(try format2.withUnsafeBytes { try MessageCodec.read(id: m.id, $0, cipher) } == m)
        #expect(format2.withUnsafeBytes { MessageCodec.readWamid($0) } == "wamid.A")

        var upgraded: [UInt8] = []
        try format2.withUnsafeBytes { try MessageCodec.replacingStrings($0, wamid: nil, errorMessage: "late", into: &upgraded) }
        var expected = m
        expected.errorMessage = "late"
        #expect(upgraded[0] == MessageCodec.format)
        #expect(try upgraded.withUnsafeBytes { try MessageCodec.read(id: m.id, $0, cipher) } == expected)
    }

    @Test func truncatedMessageIsRejected() throws {
        let m = MessageRecord(id: MessageID(1), campaign: CampaignID(1), sender: SenderID(1), to: "1", params: ["x"])
        let clear = RecordCipher(key: nil)
        var bytes = [UInt8](repeating: 0, count: MessageCodec.size(m, clear))
        bytes.withUnsafeMutableBytes { MessageCodec.write(m, clear, to: $0.baseAddress!) }
        bytes.removeLast()
        #expect(throws: ByteReader.Short.self) { try bytes.withUnsafeBytes { try MessageCodec.read(id: m.id, $0, clear) } }
    }

    @Test func campaignAndSenderRoundTrip() throws {
        var counts = StateCounts()
        counts[.queued] = 5
        counts[.read] = 1 << 50
        let c = CampaignRecord(id: CampaignID(9), sender: SenderID(4), state: .done, createdMilliseconds: 123, message: Array("{}".utf8), counts: counts)
        var stored = c
        stored.message = CampaignCodec.sealedMessage(c.message, id: c.id, cipher)
        var bytes = [UInt8](repeating: 0, count: CampaignCodec.storedSize(stored))
        bytes.withUnsafeMutableBytes { CampaignCodec.writeStored(stored, to: $0.baseAddress!) }
        #expect(try bytes.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) } == c)
        #expect(try bytes.withUnsafeBytes { try CampaignCodec.readStored(id: c.id, $0, cipher) } == stored)

        let s = SenderRecord(id: SenderID(3), phoneNumberID: "106540352242922", tierMessagesPerSecond: 80.5, burst: 2, accessToken: "EAAG", paused: true, pauseReason: "spam")
        var sb = [UInt8](repeating: 0, count: SenderCodec.size(s, cipher))
        sb.withUnsafeMutableBytes { SenderCodec.write(s, cipher, to: $0.baseAddress!) }
        #expect(try sb.withUnsafeBytes { try SenderCodec.read(phoneNumberID: s.phoneNumberID, $0, cipher) } == s)
        #expect(try sb.withUnsafeBytes { try SenderCodec.readID($0) } == s.id)

        // An ownership; format 2 (before it) reads without one.
        var owned = s
        owned.pauseReason = nil
        owned.fencing = SenderFencing(token: 1 << 40, sinceMilliseconds: 1_750_000_000_000)
        var ob = [UInt8](repeating: 0, count: SenderCodec.size(owned, cipher))
        ob.withUnsafeMutableBytes { SenderCodec.write(owned, cipher, to: $0.baseAddress!) }
        #expect(try ob.withUnsafeBytes { try SenderCodec.read(phoneNumberID: s.phoneNumberID, $0, cipher) } == owned)
        var plain = owned
        plain.fencing = nil
        var pb = [UInt8](repeating: 0, count: SenderCodec.size(plain, cipher))
        pb.withUnsafeMutableBytes { SenderCodec.write(plain, cipher, to: $0.baseAddress!) }
        var format2 = pb
        format2[0] = 2
        format2.remove(at: 18)  // the second flags byte, right after the header when nothing optional precedes it
        #expect(try format2.withUnsafeBytes { try SenderCodec.read(phoneNumberID: s.phoneNumberID, $0, cipher) } == plain)
        var unknown = pb
        unknown[18] = 2
        #expect(throws: ByteReader.Short.self) { try unknown.withUnsafeBytes { try SenderCodec.read(phoneNumberID: s.phoneNumberID, $0, cipher) } }

        for secret in ["app-secret-0123", ""] {
            var withSecret = s
            withSecret.appSecret = secret
            withSecret.pauseReason = nil
            var wb = [UInt8](repeating: 0, count: SenderCodec.size(withSecret, cipher))
            wb.withUnsafeMutableBytes { SenderCodec.write(withSecret, cipher, to: $0.baseAddress!) }
            #expect(try wb.withUnsafeBytes { try SenderCodec.read(phoneNumberID: s.phoneNumberID, $0, cipher) } == withSecret)
        }
    }

    @Test("a campaign keeps its options and pause reason; one written before the reason (format 3) reads without, before options (format 2) with the standard ones")
    func campaignOptionsRoundTrip() throws {
        var counts = StateCounts()
        counts[.expired] = 7
        counts[.cancelled] = 2
        let options = CampaignOptions(scheduleAtMilliseconds: -1, expiresAtMilliseconds: 1_800_000_000_000, priority: .transactional, delivery: .atMostOnce)
        let c = CampaignRecord(id: CampaignID(4), sender: SenderID(1), state: .withdrawn, createdMilliseconds: 9, message: Array(#"{"type":"text"}"#.utf8), counts: counts, options: options)
        var stored = c
        stored.message = CampaignCodec.sealedMessage(c.message, id: c.id, cipher)
        var bytes = [UInt8](repeating: 0, count: CampaignCodec.storedSize(stored))
        bytes.withUnsafeMutableBytes { CampaignCodec.writeStored(stored, to: $0.baseAddress!) }
        #expect(try bytes.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) } == c)
        #expect(try bytes.withUnsafeBytes { try CampaignCodec.readHeader(id: c.id, $0) }.options == options)

        let optionsAt = 15 + 8 * MessageState.allCases.count
        let reasonAt = optionsAt + CampaignCodec.optionsBytes
        // A pause reason Sluice gave comes back; format 3 (no reason section) reads without one.
        var paused = stored
        paused.state = .paused
        paused.pauseReason = "uploading media up_1 failed"
        var pausedBytes = [UInt8](repeating: 0, count: CampaignCodec.storedSize(paused))
        pausedBytes.withUnsafeMutableBytes { CampaignCodec.writeStored(paused, to: $0.baseAddress!) }
        #expect(try pausedBytes.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) }.pauseReason == "uploading media up_1 failed")
        // Format 4: no message range, descriptors nor origin (29 + 10 bytes when all are empty).
        var format4 = bytes
        format4[0] = 4
        format4.removeSubrange(reasonAt + 2..<reasonAt + 2 + 39)
        #expect(try format4.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) } == c)
        var format3 = format4
        format3[0] = 3
        format3.removeSubrange(reasonAt..<reasonAt + 2)
        #expect(try format3.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) } == c)

        // Format 2: the same without the options section.
        var old = format3
        old[0] = 2
        old.removeSubrange(optionsAt..<optionsAt + CampaignCodec.optionsBytes)
        var expected = c
        expected.options = .standard
        #expect(try old.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) } == expected)

        // An unknown priority is a corrupt record, not a silent default.
        var bad = bytes
        bad[optionsAt] = 9
        #expect(throws: ByteReader.Short.self) { try bad.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) } }
    }

    @Test("a campaign keeps its message range, name, labels, retry links, failures by code and origin; one written before the origin (format 5) reads without")
    func campaignDescriptorsRoundTrip() throws {
        var failures = FailureCounts()
        failures.add(131026)
        failures.add(131026)
        failures.add(-1)
        let origin = CampaignOrigin(node: "n-2.eu", campaign: CampaignID(1 << 33))
        let options = CampaignOptions(name: "Winter sale ✓", labels: ["promo", "eu-west"], retryOf: CampaignID(3), origin: origin)
        let c = CampaignRecord(
            id: CampaignID(8), sender: SenderID(1), createdMilliseconds: 1, message: Array("{}".utf8), options: options,
            firstMessage: MessageID(100), lastMessage: MessageID(1 << 40), failures: failures, retries: [CampaignID(9), CampaignID(12)])
        var stored = c
        stored.message = CampaignCodec.sealedMessage(c.message, id: c.id, cipher)
        var bytes = [UInt8](repeating: 0, count: CampaignCodec.storedSize(stored))
        bytes.withUnsafeMutableBytes { CampaignCodec.writeStored(stored, to: $0.baseAddress!) }
        #expect(try bytes.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) } == c)
        #expect(try bytes.withUnsafeBytes { try CampaignCodec.readHeader(id: c.id, $0) }.options.origin == origin)
        #expect(failures.entries == [.init(code: 131026, count: 2), .init(code: -1, count: 1)])

        // Format 5: the same without the origin (the 2 + 6 + 8 bytes before the sealed message).
        let sealedAt = bytes.count - stored.message.count
        var format5 = bytes
        format5[0] = 5
        format5.removeSubrange(sealedAt - 16..<sealedAt)
        var expected = c
        expected.options.origin = nil
        #expect(try format5.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, cipher) } == expected)
        #expect(CampaignOrigin("n-2.eu:8589934592") == origin)
        #expect(CampaignOrigin("n-2.eu:0") == nil)
        #expect(CampaignOrigin(":7") == nil)
        #expect(CampaignOrigin("a:b:7") == nil)
    }

    @Test("failure codes past the bound are counted together, never dropped")
    func failureCountsAreBounded() {
        var failures = FailureCounts()
        for code in 0..<Int32(FailureCounts.codesMax + 10) { failures.add(code) }
        #expect(failures.entries.count == FailureCounts.codesMax)
        #expect(failures.total == UInt64(FailureCounts.codesMax + 10))
        #expect(failures.entries.last == .init(code: FailureCounts.otherCode, count: 11))
    }

    @Test func keysSortNumerically() {
        func bytes(_ k: Key) -> [UInt8] { k.withBytes { Array($0) } }
        #expect(bytes(Key(id: 255)).lexicographicallyPrecedes(bytes(Key(id: 256))))
        #expect(bytes(Key.due(SenderID(1), notBefore: -1, MessageID(9))).lexicographicallyPrecedes(bytes(Key.due(SenderID(1), notBefore: 0, MessageID(1)))))
        #expect(bytes(Key.due(SenderID(1), notBefore: Int64.max, MessageID(9))).lexicographicallyPrecedes(bytes(Key.due(SenderID(2), notBefore: Int64.min, MessageID(1)))))
        #expect(bytes(Key.pending(SenderID(1), CampaignID(2), MessageID(3))).count == 20)
        #expect(Key.fromOrderedBits(Key.orderedBits(-42)) == -42)
    }
}

@Suite("Codecs: the unknown state")
struct UnknownStateCodecTests {
    @Test func campaignWrittenBeforeUnknownStillReads() throws {
        var counts = StateCounts()
        counts[.sent] = 3
        counts[.read] = 2
        let c = CampaignRecord(id: CampaignID(2), sender: SenderID(1), createdMilliseconds: 5, message: Array("{}".utf8), counts: counts)
        let clear = RecordCipher(key: nil)
        var bytes = LegacyBytes.campaign(c)
        // The old layout: 8 counts, the last one (unknown) absent.
        bytes[14] = 8
        bytes.removeSubrange(15 + 8 * 8..<15 + 9 * 8)
        let old = try bytes.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, clear) }
        #expect(old == c && old.counts[.unknown] == 0)
        bytes[14] = 7
        #expect(throws: ByteReader.Short.self) { try bytes.withUnsafeBytes { try CampaignCodec.read(id: c.id, $0, clear) } }
    }
}

@Suite("Codecs: subscribers and their outbox")
struct SubscriptionCodecTests {
    @Test func subscriptionRoundTrips() throws {
        for record in [
            SubscriptionRecord(id: 3, url: "https://h.example/x?y=1", secret: "whsec_abc", createdMilliseconds: 9),
            SubscriptionRecord(id: 4, url: "http://127.0.0.1:8/", secret: "s", campaign: CampaignID(77), states: [.delivered, .unknown],
                               createdMilliseconds: -1, counters: DeliveryCounters(pending: 1, delivered: 2, failedAttempts: 3, dead: 4)),
            SubscriptionRecord(id: 5, url: "http://127.0.0.1:8/b", secret: "s", createdMilliseconds: 1, batchMax: 100),
        ] {
            let cipher = RecordCipher(key: Array(repeating: 3, count: 32))
            var bytes = [UInt8](repeating: 0, count: SubscriptionCodec.size(record, cipher))
            bytes.withUnsafeMutableBytes { SubscriptionCodec.write(record, cipher, to: $0.baseAddress!) }
            #expect(try bytes.withUnsafeBytes { try SubscriptionCodec.read(id: record.id, $0, cipher) } == record)
            // Format 2, before events per POST: one each.
            var old = bytes
            old[0] = 2
            old.removeSubrange(52..<54)
            var expected = record
            expected.batchMax = 1
            #expect(try old.withUnsafeBytes { try SubscriptionCodec.read(id: record.id, $0, cipher) } == expected)
        }
    }

    @Test("a mirrored subscription keeps its origin filter and what it mirrors; one written before them (format 3) reads without")
    func mirroredSubscriptionRoundTrips() throws {
        let cipher = RecordCipher(key: Array(repeating: 3, count: 32))
        let origin = CampaignOrigin(node: "n-1", campaign: CampaignID(77))
        let mirror = SubscriptionMirror(node: "n-1", id: 1 << 40)
        for (o, m) in [(origin, mirror), (nil, mirror), (origin, nil)] as [(CampaignOrigin?, SubscriptionMirror?)] {
            let record = SubscriptionRecord(
                id: 6, url: "http://127.0.0.1:8/m", secret: "whsec_m", states: [.read], events: [.status, .message], createdMilliseconds: 2,
                batchMax: 10, origin: o, mirrorOf: m)
            var bytes = [UInt8](repeating: 0, count: SubscriptionCodec.size(record, cipher))
            bytes.withUnsafeMutableBytes { SubscriptionCodec.write(record, cipher, to: $0.baseAddress!) }
            #expect(try bytes.withUnsafeBytes { try SubscriptionCodec.read(id: record.id, $0, cipher) } == record)
        }
        // Format 3: the same flags mean nothing there and are refused as corrupt.
        let plain = SubscriptionRecord(id: 7, url: "http://127.0.0.1:8/p", secret: "s", createdMilliseconds: 3, batchMax: 5)
        var bytes = [UInt8](repeating: 0, count: SubscriptionCodec.size(plain, cipher))
        bytes.withUnsafeMutableBytes { SubscriptionCodec.write(plain, cipher, to: $0.baseAddress!) }
        var format3 = bytes
        format3[0] = 3
        #expect(try format3.withUnsafeBytes { try SubscriptionCodec.read(id: plain.id, $0, cipher) } == plain)
        format3[1] |= 64
        #expect(throws: ByteReader.Short.self) { try format3.withUnsafeBytes { try SubscriptionCodec.read(id: plain.id, $0, cipher) } }
        // The filter: only the campaign that sends the origin.
        let mirrored = SubscriptionRecord(id: 8, url: "http://x/", secret: "s", createdMilliseconds: 0, origin: origin)
        #expect(mirrored.accepts(campaign: CampaignID(3), origin: origin, state: .delivered))
        #expect(!mirrored.accepts(campaign: CampaignID(3), origin: nil, state: .delivered))
        #expect(!mirrored.accepts(campaign: CampaignID(3), origin: CampaignOrigin(node: "n-2", campaign: CampaignID(77)), state: .delivered))
    }

    @Test func outboxEntryRoundTrips() throws {
        let event = StatusEvent(
            eventID: 12, message: MessageID(5), campaign: CampaignID(2), senderPhoneNumberID: "1065", recipient: "966500000001",
            state: .failed, wamid: "wamid.X", errorCode: 131026, errorMessage: "undeliverable", occurredMilliseconds: 1_750_000_000_000)
        let cipher = RecordCipher(key: Array(repeating: 3, count: 32))
        var bytes = [UInt8](repeating: 0, count: OutboxCodec.size(event, cipher))
        Key.outbox(7, 5, 12).withBytes { key in
            bytes.withUnsafeMutableBytes { OutboxCodec.write(event, attempts: 4, nextAttemptMilliseconds: 99, key: key, cipher, to: $0.baseAddress!) }
        }
        let entry = try bytes.withUnsafeBytes { try OutboxCodec.read(subscription: 7, message: MessageID(5), eventID: 12, $0, cipher) }
        #expect(entry == OutboxEntry(subscription: 7, event: .status(event), attempts: 4, nextAttemptMilliseconds: 99))
        #expect(bytes.withUnsafeBytes { OutboxCodec.nextAttempt($0) } == 99)
    }
}

@Suite("Codecs: the messaging limit of a sender")
struct SenderLimitCodecTests {
    let cipher = RecordCipher(key: Array(repeating: 7, count: 32))

    func roundTrip(_ s: SenderRecord) throws -> SenderRecord {
        var bytes = [UInt8](repeating: 0, count: SenderCodec.size(s, cipher))
        bytes.withUnsafeMutableBytes { SenderCodec.write(s, cipher, to: $0.baseAddress!) }
        return try bytes.withUnsafeBytes { try SenderCodec.read(phoneNumberID: s.phoneNumberID, $0, cipher) }
    }

    @Test func limitAndGroupRoundTrip() throws {
        let base = SenderRecord(id: SenderID(5), phoneNumberID: "1065", tierMessagesPerSecond: 80, accessToken: "EAAG", appSecret: "s3cret")
        for (limit, group, reason) in [(Int?(250), String?("portfolio-1"), String?("spam")), (100_000, nil, nil), (nil, "g", "r"), (nil, nil, nil)] {
            var s = base
            s.messagingLimit = limit
            s.group = group
            s.pauseReason = reason
            s.paused = reason != nil
            #expect(try roundTrip(s) == s)
        }
    }

    @Test func contactSettingsAndTheDisplayNumberRoundTrip() throws {
        var s = SenderRecord(id: SenderID(5), phoneNumberID: "1065", tierMessagesPerSecond: 80, accessToken: "EAAG", messagingLimit: 250, group: "g")
        for (window, keywords, display) in [
            (CustomerWindowPolicy.enforce, [String]?(["STOP", "إيقاف"]), String?("15550783881")), (.off, [], nil), (.enforce, nil, "1"), (.off, nil, nil),
        ] {
            s.customerWindow = window
            s.optOutKeywords = keywords
            s.displayPhoneNumber = display
            #expect(try roundTrip(s) == s)
        }
    }

    @Test func aFormat2RecordWrittenBeforeTheLimitStillReads() throws {
        // The layout before the limit: flags 1 | 2 | 4, the reason, then the sealed part.
        let s = SenderRecord(id: SenderID(9), phoneNumberID: "1066", tierMessagesPerSecond: 20, burst: 3, accessToken: "tok", paused: true, pauseReason: "why", appSecret: "sec")
        let sealed = cipher.sealedCount(2 + 3 + 2 + 3)
        var bytes = [UInt8](repeating: 0, count: 18 + 2 + 3 + sealed)
        bytes.withUnsafeMutableBytes { raw in
            var w = ByteWriter(raw.baseAddress!)
            w.u8(2)
            w.u32(9)
            w.u64(Double(20).bitPattern)
            w.u32(3)
            w.u8(1 | 2 | 4)
            w.string("why")
            Array("1066".utf8).withUnsafeBytes { key in
                cipher.seal(&w, .senders, key: key) { w in
                    w.string("tok")
                    w.string("sec")
                }
            }
            #expect(w.offset == raw.count)
        }
        let read = try bytes.withUnsafeBytes { try SenderCodec.read(phoneNumberID: "1066", $0, cipher) }
        #expect(read == s)
        #expect(read.messagingLimit == nil && read.group == nil)
        // Without the new fields the codec writes that layout and the second flags byte (format 3).
        #expect(SenderCodec.size(s, cipher) == bytes.count + 1)
    }

    @Test func aFormat1RecordStillReads() throws {
        let clear = RecordCipher(key: nil)
        var bytes = [UInt8](repeating: 0, count: 18 + 2 + 5 + 2 + 6)
        bytes.withUnsafeMutableBytes { raw in
            var w = ByteWriter(raw.baseAddress!)
            w.u8(1)
            w.u32(4)
            w.u64(Double(80).bitPattern)
            w.u32(1)
            w.u8(2)
            w.string("token")
            w.string("reason")
            #expect(w.offset == raw.count)
        }
        let read = try bytes.withUnsafeBytes { try SenderCodec.read(phoneNumberID: "1067", $0, clear) }
        #expect(read == SenderRecord(id: SenderID(4), phoneNumberID: "1067", tierMessagesPerSecond: 80, accessToken: "token", pauseReason: "reason"))
    }
}
