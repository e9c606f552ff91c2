import SluiceCore
import SluiceJournal

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
