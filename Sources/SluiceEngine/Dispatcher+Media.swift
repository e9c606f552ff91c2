import SluiceCore
import SluiceJournal
import SluiceCrypto
import SluiceTransport

/// What one retention pass removed from the media volume.
public struct MediaRetentionStep: Sendable, Equatable {
    public var records = 0
    public var files = 0

    public init(records: Int = 0, files: Int = 0) {
        self.records = records
        self.files = files
    }
}

extension Dispatcher {
    /// Media records scanned per journal commit by retention.
    static let mediaRetentionScanMax = 5_000

    /// The media record for Meta's media `id`; nil when none is known.
    public func media(id: String) throws -> MediaRecord? { try journal.media(id: id) }

    /// Up to `limit` downloads due now, and when the next later one is due.
    public func dueMedia(limit: Int) throws -> (due: [MediaRecord], nextMilliseconds: Int64?) {
        try journal.dueMedia(nowMilliseconds: clock.wallMilliseconds(), limit: limit)
    }

    /// Journals failed attempts (to retry, or given up); returns how many applied.
    @discardableResult
    public func settleMedia(_ settlements: [MediaSettlement]) async throws -> Int {
        guard !settlements.isEmpty else { return 0 }
        let receipt = try await journal.apply([.settleMedia(settlements)])
        guard case .settled(let n)? = receipt.results.first else { preconditionFailure("journal answered settleMedia with \(receipt.results)") }
        return n
    }

    /// Moves a whole, checked download into the volume and journals the record `stored`,
    /// together, so that retention cannot remove the file between the two.
    public func storeMedia(_ file: MediaFile, id: String, sha256: String, mimeType: String) async throws {
        try await mediaVolume.gate.withGate {
            try mediaVolume.place(file, sha256: sha256)
            try await settleMedia([.stored(id: id, sha256: sha256, mimeType: mimeType, size: file.size, atMilliseconds: clock.wallMilliseconds())])
        }
    }

    /// Removes media records received before `cutoffMilliseconds` (no longer pending) and
    /// the files no record names any more, a bounded number of records per commit.
    @discardableResult
    public func sweepMediaRetention(cutoffMilliseconds: Int64) async throws -> MediaRetentionStep {
        var step = MediaRetentionStep()
        var after: String?
        repeat {
            let receipt = try await journal.apply([.removeMedia(receivedBefore: cutoffMilliseconds, after: after, max: Self.mediaRetentionScanMax)])
            guard case let .mediaRemoved(records, unreferenced, resume)? = receipt.results.first else {
                preconditionFailure("journal answered removeMedia with \(receipt.results)")
            }
            step.records += records
            if !unreferenced.isEmpty {
                // A download may have named the same bytes again since the commit.
                step.files += try await mediaVolume.gate.withGate {
                    var removed = 0
                    for sha in unreferenced where try journal.mediaBlobCount(sha256: sha) == 0 {
                        mediaVolume.remove(sha256: sha)
                        removed += 1
                    }
                    return removed
                }
            }
            after = resume
        } while after != nil
        return step
    }
}

/// A file of the media volume the dispatch loop needs uploaded for a number.
public struct MediaUploadRequest: Sendable, Hashable {
    public var sender: SenderID
    /// Sluice's media id.
    public var media: String
}

/// Why an uploaded file cannot be stored.
public struct MediaUploadError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

extension Dispatcher {
    /// What the dispatch loop asks `MediaUploader` to upload; ends when the loop stops.
    /// One consumer.
    public var mediaUploadRequests: AsyncStream<MediaUploadRequest> { loop.mediaUploadRequests }

    /// Stores a file uploaded through `POST /v1/media` (whole and hashed in `file`) under a
    /// new id. The volume and the journal are written together, so that retention cannot
    /// remove the file in between.
    ///
    /// `id` and `sha256`: in a cluster, a file another node hands over with a campaign that
    /// names it keeps its id (so the campaign's message still names it); stored once, the
    /// same id again answers the record kept.
    public func storeUpload(_ file: MediaFile, mimeType: String, id: String? = nil, sha256 expected: String? = nil) async throws -> MediaRecord {
        let sha256 = file.finishDigest()
        let kind = MediaKind(uploadedMIMEType: mimeType)
        guard file.size > 0 else {
            file.discard()
            throw MediaUploadError(description: "the file is empty")
        }
        if let expected, expected != sha256 {
            file.discard()
            throw MediaUploadError(description: "the file's sha256 is \(sha256), not \(expected) as announced")
        }
        if let id, let kept = try journal.media(id: id) {
            file.discard()
            guard kept.isUpload, kept.sha256 == sha256 else { throw MediaUploadError(description: "media \(id) is already kept here with other content") }
            return kept
        }
        guard file.size <= kind.bytesMax else {
            file.discard()
            throw MediaUploadError(description: "\(file.size) bytes is over WhatsApp's \(kind.bytesMax)-byte limit for \(mimeType)")
        }
        let now = clock.wallMilliseconds()
        let record = MediaRecord(
            id: id ?? MediaRecord.uploadIDPrefix + SecureRandom.hexToken(byteCount: 12), senderPhoneNumberID: "", kind: kind, state: .stored,
            mimeType: mimeType, sha256: sha256, size: file.size, nextAttemptMilliseconds: 0, receivedMilliseconds: now, settledMilliseconds: now)
        try await mediaVolume.gate.withGate {
            try mediaVolume.place(file, sha256: sha256)
            _ = try await journal.apply([.storeUpload(record)])
        }
        return record
    }

    /// The sender's Meta media id for an uploaded file, journaled, for the dispatch loop.
    public func recordMediaUpload(_ upload: MediaUpload) async throws {
        let receipt = try await journal.apply([.recordMediaUpload(upload)])
        if case .done? = receipt.results.first {
            loop.post(.mediaUploaded(upload))
        } else {
            loop.post(.mediaUploadFailed(upload.sender, upload.media, reason: "media \(upload.media) is no longer kept (retention)"))
        }
    }

    /// Uploading the file for the sender failed for good.
    public func mediaUploadFailed(_ request: MediaUploadRequest, reason: String) {
        loop.post(.mediaUploadFailed(request.sender, request.media, reason: reason))
    }

    /// The record of a sender by its journal id.
    public func sender(id: SenderID) throws -> SenderRecord? {
        try journal.senders().first { $0.id == id }
    }
}

extension Dispatcher {
    /// The uploaded files a campaign's message names (those still kept), in the order
    /// named: what a cluster node hands over with the campaign's messages.
    public func uploadedMedia(named message: [UInt8]) throws -> [MediaRecord] {
        guard let template = try? MessageTemplate(messageObject: message) else { return [] }
        var seen = Set<String>()
        return try template.media.compactMap { use in
            guard seen.insert(use.id).inserted, let record = try journal.media(id: use.id), record.isUpload, record.state == .stored else { return nil }
            return record
        }
    }

    /// Each file the message names was uploaded through `POST /v1/media`, is kept, and fits
    /// how the message sends it.
    func checkMedia(_ template: MessageTemplate) throws(IntakeError) {
        for use in template.media {
            let record: MediaRecord?
            do { record = try journal.media(id: use.id) } catch { throw .journal("\(error)") }
            guard let record, record.isUpload, record.state == .stored else {
                throw .invalidMessage("\(use.field): no media '\(use.id)' was uploaded (POST /v1/media), or it is no longer kept")
            }
            if let problem = use.kind.problem(mimeType: record.mimeType, size: record.size) {
                throw .invalidMessage("\(use.field): media \(use.id) cannot be sent as \(use.kind.rawValue): \(problem)")
            }
        }
    }
}
