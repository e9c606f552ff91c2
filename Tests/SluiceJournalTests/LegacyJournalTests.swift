import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

/// Records in format 1, the layouts written before encryption at rest.
struct LegacyBytes {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) { u16(UInt16(s.utf8.count)); bytes.append(contentsOf: s.utf8) }

    static func sender(_ s: SenderRecord) -> [UInt8] {
        var w = LegacyBytes()
        w.u8(1); w.u32(s.id.rawValue); w.u64(s.tierMessagesPerSecond.bitPattern); w.u32(s.burst)
        w.u8((s.paused ? 1 : 0) | (s.pauseReason == nil ? 0 : 2) | (s.appSecret == nil ? 0 : 4))
        w.string(s.accessToken)
        if let r = s.pauseReason { w.string(r) }
        if let a = s.appSecret { w.string(a) }
        return w.bytes
    }

    static func message(_ m: MessageRecord) -> [UInt8] {
        var w = LegacyBytes()
        w.u8(1); w.u8(m.state.rawValue); w.u8((m.wamid == nil ? 0 : 1) | (m.errorMessage == nil ? 0 : 2)); w.u8(UInt8(m.params.count))
        w.u16(m.attempts); w.u32(m.sender.rawValue); w.u32(UInt32(bitPattern: m.errorCode)); w.u64(m.campaign.rawValue)
        w.u64(UInt64(bitPattern: m.notBeforeMilliseconds)); w.u64(UInt64(bitPattern: m.updatedMilliseconds))
        w.string(m.to)
        for p in m.params { w.string(p) }
        if let x = m.wamid { w.string(x) }
        if let e = m.errorMessage { w.string(e) }
        return w.bytes
    }

    static func campaign(_ c: CampaignRecord) -> [UInt8] {
        var w = LegacyBytes()
        w.u8(1); w.u8(c.state.rawValue); w.u32(c.sender.rawValue); w.u64(UInt64(bitPattern: c.createdMilliseconds))
        // Format 1 held 9 counts (`queued` … `unknown`).
        precondition(c.counts.values.dropFirst(9).allSatisfy { $0 == 0 }, "format 1 had no later states")
        w.u8(9)
        for v in c.counts.values.prefix(9) { w.u64(v) }
        w.u32(UInt32(c.message.count)); w.bytes.append(contentsOf: c.message)
        return w.bytes
    }
}

@Suite("Encryption at rest: journals written before it")
struct LegacyJournalTests {
    @Test("a plaintext journal of format 1 opens with a key: readable as it is, sealed as it is rewritten")
    func formatOneJournalOpens() async throws {
        let dir = EncryptedJournalDirectory()
        defer { dir.remove() }
        let journal = try dir.open(.plaintext)
        let (sender, campaign, first) = try await seed(journal, phone: "1065", count: 2)
        let second = MessageID(first.rawValue + 1)
        let senderRecord = try #require(try journal.sender(phoneNumberID: "1065"))
        let campaignRecord = try #require(try journal.campaign(campaign))
        let messages = try journal.messages(after: nil, limit: 10)
        journal.close()
        #expect(messages.count == 2)

        // Rewrite every record in the old layout, as an older build left them.
        try rewriteRaw(dir.journal, Schema.senders, key: Array("1065".utf8)) { $0 = LegacyBytes.sender(senderRecord) }
        try rewriteRaw(dir.journal, Schema.campaigns, key: idKey(campaign.rawValue)) { $0 = LegacyBytes.campaign(campaignRecord) }
        for m in messages { try rewriteRaw(dir.journal, Schema.messages, key: idKey(m.id.rawValue)) { $0 = LegacyBytes.message(m) } }
        #expect(try readRaw(dir.journal, Schema.messages, key: idKey(first.rawValue))?.first == 1)

        let reopened = try dir.open()
        defer { reopened.close() }
        #expect(FileManager.default.fileExists(atPath: dir.keyFile))
        // Senders (the tokens) are resealed when the journal is first opened with a key.
        let resealed = try #require(try readRaw(dir.journal, Schema.senders, key: Array("1065".utf8)))
        #expect(resealed.first == SenderCodec.format)
        #expect(Data(resealed).range(of: Data(senderRecord.accessToken.utf8)) == nil, "the token is sealed")
        #expect(try reopened.sender(phoneNumberID: "1065") == senderRecord)
        #expect(try reopened.sender(phoneNumberID: "1065")?.id == sender)
        // Format 1 kept neither the message range nor the times: they read as unknown.
        var legacyCampaign = campaignRecord
        legacyCampaign.firstMessage = nil
        legacyCampaign.lastMessage = nil
        #expect(try reopened.campaign(campaign) == legacyCampaign)
        #expect(try reopened.messages(after: nil, limit: 10) == messages.map { m in
            var m = m
            m.times = MessageTimes()
            return m
        })

        // Any transition rewrites a format 1 record sealed, in this format.
        _ = try await reopened.apply([.transition([transition(first, .inFlight), transition(second, .inFlight)])])
        #expect(try readRaw(dir.journal, Schema.messages, key: idKey(second.rawValue))?.first == MessageCodec.format)
        _ = try await reopened.apply([.transition([transition(first, .sent, wamid: "wamid.OLD")])])
        #expect(try readRaw(dir.journal, Schema.messages, key: idKey(first.rawValue))?.first == MessageCodec.format)
        let sent = try #require(try reopened.message(first))
        #expect(sent.state == .sent && sent.wamid == "wamid.OLD" && sent.to == messages[0].to && sent.params == messages[0].params)
        #expect(try reopened.message(second)?.state == .inFlight)
        // The campaign's counts were rewritten: now sealed, the message intact.
        #expect(try readRaw(dir.journal, Schema.campaigns, key: idKey(campaign.rawValue))?.first == CampaignCodec.format)
        let counted = try #require(try reopened.campaign(campaign))
        #expect(counted.message == campaignRecord.message && counted.counts[.sent] == 1 && counted.counts[.inFlight] == 1)
    }
}
