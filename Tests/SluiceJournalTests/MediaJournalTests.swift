import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

/// The media volume's records: a media message's media is pending from the commit that
/// journals the message, downloads settle it once, and retention removes records and
/// reports the files no record names any more.
@Suite struct MediaJournalTests {
    static func imageMessage(_ wamid: String, media: String, from: String = "966500000001", at: Int64 = now) -> InboundMessage {
        var m = InboundJournalTests.message(wamid, from: from, at: at)
        m.type = "image"
        m.object = Array(#"{"from":"\#(from)","id":"\#(wamid)","image":{"id":"\#(media)","mime_type":"image/jpeg"},"type":"image"}"#.utf8)
        m.media = MediaReference(id: media, kind: .image, mimeType: "image/jpeg", sha256: "n3yeSE0ZE+NtiUl7XIAhcnu0MTkVtB5Zdzqd/MQqA60=")
        return m
    }

    static let shaA = String(repeating: "a", count: 64)
    static let shaB = String(repeating: "b", count: 64)

    @Test func aMediaMessagesMediaIsPendingDueAtOnceAndTheReferenceTravelsWithTheEvent() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = configuration()
        configuration.encryption = .keyFile(dir.path + ".key")
        defer { try? FileManager.default.removeItem(atPath: dir.path + ".key") }
        let journal = try Journal(directory: dir.path, configuration: configuration)
        defer { journal.close() }
        let subscription = try await InboundJournalTests().subscribe(journal, [.message])

        _ = try await journal.apply([.recordInbound([Self.imageMessage("wamid.1", media: "1001"), InboundJournalTests.message("wamid.2", from: "966500000002")])])
        let record = try #require(try journal.media(id: "1001"))
        #expect(record.state == .pending && record.kind == .image && record.mimeType == "image/jpeg" && record.senderPhoneNumberID == "1065")
        #expect(record.attempts == 0 && record.nextAttemptMilliseconds == now && record.receivedMilliseconds == now)
        #expect(try journal.media(id: "2") == nil)
        #expect(try journal.dueMedia(nowMilliseconds: now - 1, limit: 10).due.isEmpty)
        #expect(try journal.dueMedia(nowMilliseconds: now - 1, limit: 10).nextMilliseconds == now)
        #expect(try journal.dueMedia(nowMilliseconds: now, limit: 10).due.map(\.id) == ["1001"])

        // The event's message carries the reference, sealed and opened whole.
        let heads = try journal.outboxHeads(subscription: subscription.id, dueMilliseconds: .max, limit: 10).entries
        let event = try #require(heads.first { $0.event.inbound?.message.wamid == "wamid.1" }?.event.inbound?.message)
        #expect(event == Self.imageMessage("wamid.1", media: "1001"))
        #expect(heads.first { $0.event.inbound?.message.wamid == "wamid.2" }?.event.inbound?.message.media == nil)

        // A redelivery, or another message naming the same media, leaves the record as it is.
        _ = try await journal.apply([.settleMedia([.retry(id: "1001", attempts: 1, nextAttemptMilliseconds: now + 2_000, error: "HTTP 503")])])
        _ = try await journal.apply([.recordInbound([Self.imageMessage("wamid.1", media: "1001"), Self.imageMessage("wamid.3", media: "1001")])])
        #expect(try journal.media(id: "1001")?.attempts == 1)
        #expect(try journal.dueMedia(nowMilliseconds: now + 1_999, limit: 10).due.isEmpty)
        #expect(try journal.dueMedia(nowMilliseconds: now + 2_000, limit: 10).due.map(\.error) == ["HTTP 503"])
        #expect(try journal.check().violations == [])
    }

    @Test func aDownloadSettlesOnceAndCountsTheFileItsRecordNames() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        _ = try await journal.apply([.recordInbound([
            Self.imageMessage("wamid.1", media: "1001"), Self.imageMessage("wamid.2", media: "1002"), Self.imageMessage("wamid.3", media: "1003"),
        ])])
        let settled = try await journal.apply([.settleMedia([
            .stored(id: "1001", sha256: Self.shaA, mimeType: "image/png", size: 42, atMilliseconds: now + 5),
            .stored(id: "1002", sha256: Self.shaA, mimeType: "image/png", size: 42, atMilliseconds: now + 6),
            .failed(id: "1003", attempts: 6, error: "the download's SHA-256 is … where Meta described …; refused", atMilliseconds: now + 7),
            .stored(id: "9999", sha256: Self.shaB, mimeType: "image/png", size: 1, atMilliseconds: now),
        ])])
        #expect(settled.results == [.settled(3)], "an unknown id changes nothing")
        let stored = try #require(try journal.media(id: "1001"))
        #expect(stored.state == .stored && stored.sha256 == Self.shaA && stored.mimeType == "image/png" && stored.size == 42)
        #expect(stored.attempts == 1 && stored.settledMilliseconds == now + 5 && stored.error == nil)
        #expect(try journal.media(id: "1003")?.state == .failed)
        #expect(try journal.media(id: "1003")?.error?.hasSuffix("refused") == true)
        #expect(try journal.mediaBlobCount(sha256: Self.shaA) == 2)
        #expect(try journal.mediaBlobCount(sha256: Self.shaB) == 0)
        let due = try journal.dueMedia(nowMilliseconds: .max, limit: 10)
        #expect(due.due.isEmpty && due.nextMilliseconds == nil, "nothing is pending")

        // A late outcome of the same download changes nothing.
        let late = try await journal.apply([.settleMedia([
            .stored(id: "1001", sha256: Self.shaB, mimeType: "image/gif", size: 1, atMilliseconds: now + 9),
            .retry(id: "1003", attempts: 7, nextAttemptMilliseconds: now + 10, error: "x"),
        ])])
        #expect(late.results == [.settled(0)])
        #expect(try journal.media(id: "1001") == stored)
        #expect(try journal.mediaBlobCount(sha256: Self.shaA) == 2)
        // Not a SHA-256: refused whole.
        _ = try await journal.apply([.recordInbound([Self.imageMessage("wamid.4", media: "1004")])])
        await #expect(throws: JournalError.self) {
            try await journal.apply([.settleMedia([.stored(id: "1004", sha256: "../../etc/passwd", mimeType: "image/png", size: 1, atMilliseconds: now)])])
        }
        #expect(try journal.media(id: "1004")?.state == .pending)
        #expect(try journal.check().violations == [])
    }

    @Test func retentionRemovesSettledRecordsAndNamesTheFilesNoRecordNames() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        _ = try await journal.apply([.recordInbound([
            Self.imageMessage("wamid.1", media: "1001", at: now), Self.imageMessage("wamid.2", media: "1002", at: now),
        ])])
        _ = try await journal.apply([.recordInbound([
            Self.imageMessage("wamid.3", media: "1003", at: now + 1_000), Self.imageMessage("wamid.4", media: "1004", at: now),
            Self.imageMessage("wamid.5", media: "1005", at: now),
        ])])
        _ = try await journal.apply([.settleMedia([
            .stored(id: "1001", sha256: Self.shaA, mimeType: "image/png", size: 1, atMilliseconds: now),
            .stored(id: "1002", sha256: Self.shaB, mimeType: "image/png", size: 1, atMilliseconds: now),
            .stored(id: "1003", sha256: Self.shaB, mimeType: "image/png", size: 1, atMilliseconds: now),
            .failed(id: "1004", attempts: 1, error: "404", atMilliseconds: now),
        ])])
        // 1003 is newer than the cutoff and 1005 still pending: both stay. Two records per
        // commit, so the scan resumes.
        var removed = 0
        var files: [String] = []
        var after: String?
        var commits = 0
        repeat {
            let r = try await journal.apply([.removeMedia(receivedBefore: now + 1, after: after, max: 2)])
            guard case let .mediaRemoved(records, unreferenced, resume) = r.results[0] else { Issue.record("\(r)"); return }
            removed += records
            files += unreferenced
            after = resume
            commits += 1
        } while after != nil && commits < 10
        #expect(removed == 3)
        #expect(commits == 3)
        #expect(files == [Self.shaA], "shaB is still named by 1003")
        #expect(try journal.media(id: "1001") == nil && journal.media(id: "1002") == nil && journal.media(id: "1004") == nil)
        #expect(try journal.media(id: "1003")?.state == .stored && journal.media(id: "1005")?.state == .pending)
        #expect(try journal.mediaBlobCount(sha256: Self.shaA) == 0 && journal.mediaBlobCount(sha256: Self.shaB) == 1)
        #expect(try journal.check().violations == [])
    }

    @Test func theCheckFindsAPendingRecordWithoutItsDueEntryAndAFileCountThatIsOff() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        _ = try await journal.apply([.recordInbound([Self.imageMessage("wamid.1", media: "1001"), Self.imageMessage("wamid.2", media: "1002")])])
        _ = try await journal.apply([.settleMedia([.stored(id: "1002", sha256: Self.shaA, mimeType: "image/png", size: 1, atMilliseconds: now)])])
        #expect(try journal.check().isClean)
        // Broken on purpose, in a transaction beside the writer.
        let txn = try journal.environment.beginWrite()
        _ = try MediaCodec.dueKey("1001", nextAttemptMilliseconds: now).withUnsafeBytes { try txn.delete(journal.tables.mediaDue, $0) }
        try Array(Self.shaA.utf8).withUnsafeBytes { k in try withUnsafeBytes(of: UInt64(2).bigEndian) { try txn.put(journal.tables.mediaBlobs, k, $0) } }
        try txn.commit()
        let report = try journal.check()
        #expect(report.violations.map(\.table) == ["media", "media_blobs"], "\(report.violations)")
        #expect(report.violations.first?.problem.contains("no media_due entry") == true)
        #expect(report.violations.last?.problem == "count 2, but 1 stored record(s) name the file")
    }

    @Test func anInboundRecordWithoutMediaReadsAsBeforeMediaExisted() throws {
        // Flags 0: the layout written before media references (no media bytes).
        let cipher = RecordCipher(key: nil)
        let plain = InboundJournalTests.message("wamid.1", from: "1")
        let key = Array("wamid.1".utf8)
        var bytes = [UInt8](repeating: 0, count: InboundCodec.size(plain, cipher))
        key.withUnsafeBytes { k in
            bytes.withUnsafeMutableBytes {
                InboundCodec.write(plain, format: InboundCodec.recordFormat, attempts: 0, nextAttemptMilliseconds: 0, table: .inbound, key: k, cipher, to: $0.baseAddress!)
            }
        }
        #expect(bytes[2] & 8 == 0)
        let media = Self.imageMessage("wamid.1", media: "1001")
        var withMedia = [UInt8](repeating: 0, count: InboundCodec.size(media, cipher))
        key.withUnsafeBytes { k in
            withMedia.withUnsafeMutableBytes {
                InboundCodec.write(media, format: InboundCodec.recordFormat, attempts: 0, nextAttemptMilliseconds: 0, table: .inbound, key: k, cipher, to: $0.baseAddress!)
            }
        }
        let read = try key.withUnsafeBytes { k in try withMedia.withUnsafeBytes { try InboundCodec.read($0, format: InboundCodec.recordFormat, table: .inbound, key: k, cipher) } }
        #expect(read.0 == media)
    }

    @Test func anUploadIsStoredAndEachNumbersMetaIDKeptUntilRetentionRemovesThemTogether() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let file = MediaRecord(
            id: "up_1", senderPhoneNumberID: "", kind: .image, state: .stored, mimeType: "image/png", sha256: Self.shaA, size: 10,
            nextAttemptMilliseconds: 0, receivedMilliseconds: now, settledMilliseconds: now)
        _ = try await journal.apply([.storeUpload(file)])
        #expect(try journal.media(id: "up_1")?.isUpload == true && journal.mediaBlobCount(sha256: Self.shaA) == 1)
        await #expect(throws: JournalError.self) { try await journal.apply([.storeUpload(file)]) }

        let first = MediaUpload(media: "up_1", sender: SenderID(1), metaID: "m1", uploadedMilliseconds: now + 5_000, expiresMilliseconds: now + 9_000)
        let second = MediaUpload(media: "up_1", sender: SenderID(2), metaID: "m2", uploadedMilliseconds: now + 6_000, expiresMilliseconds: now + 9_500)
        #expect(try await journal.apply([.recordMediaUpload(first), .recordMediaUpload(second)]).results == [.done, .done])
        #expect(try journal.mediaUpload(media: "up_1", sender: SenderID(1)) == first)
        #expect(try journal.mediaUpload(media: "up_1", sender: SenderID(2)) == second)
        #expect(try journal.mediaUpload(media: "up_1", sender: SenderID(3)) == nil)
        // Its last upload is its last use: a cutoff before it keeps the file.
        _ = try await journal.apply([.removeMedia(receivedBefore: now + 6_000, after: nil, max: 100)])
        #expect(try journal.media(id: "up_1") != nil)
        let receipt = try await journal.apply([.removeMedia(receivedBefore: now + 6_001, after: nil, max: 100)])
        #expect(receipt.results == [.mediaRemoved(records: 1, unreferenced: [Self.shaA], resume: nil)])
        #expect(try journal.mediaUpload(media: "up_1", sender: SenderID(1)) == nil && journal.mediaUpload(media: "up_1", sender: SenderID(2)) == nil)
        #expect(try await journal.apply([.recordMediaUpload(first)]).results == [.settled(0)], "no upload for a file no longer kept")
        #expect(try journal.check().violations == [])
    }
}
