import SluiceCore

extension Journal {
    /// Longest media id taken as a key (Meta's are about 16 digits).
    public static let mediaIDBytesMax = 200
}

/// The media volume's records inside a write transaction.
extension JournalWriter {
    /// A pending record for the media of a new incoming message, due at once; media already
    /// known (the same id twice) is left as it is.
    func recordMedia(_ reference: MediaReference, sender: String, receivedMilliseconds: Int64, _ txn: borrowing Transaction) throws {
        let key = Array(reference.id.utf8)
        guard !key.isEmpty, key.count <= Journal.mediaIDBytesMax else {
            throw JournalError.invalidField(field: "media.id", reason: "\(key.count) bytes, expected 1…\(Journal.mediaIDBytesMax)")
        }
        try checkLength(reference.mimeType ?? "", "media.mime_type")
        try checkLength(reference.sha256 ?? "", "media.sha256")
        if try key.withUnsafeBytes({ try txn.get(tables.media, $0) }) != nil { return }
        let record = MediaRecord(
            id: reference.id, senderPhoneNumberID: sender, kind: reference.kind, mimeType: reference.mimeType ?? "",
            nextAttemptMilliseconds: receivedMilliseconds, receivedMilliseconds: receivedMilliseconds)
        try putMedia(record, key, txn)
        try MediaCodec.dueKey(record.id, nextAttemptMilliseconds: record.nextAttemptMilliseconds).withUnsafeBytes {
            try txn.put(tables.mediaDue, $0, emptyValue)
        }
    }

    /// Outcomes of download attempts; each applies only to a `pending` record (a late or
    /// repeated outcome changes nothing). Returns how many applied.
    func settleMedia(_ settlements: [MediaSettlement], _ txn: borrowing Transaction) throws -> Int {
        var applied = 0
        for settlement in settlements {
            let key = Array(settlement.id.utf8)
            guard !key.isEmpty, key.count <= Journal.mediaIDBytesMax, var record = try readMedia(settlement.id, key, txn), record.state == .pending else {
                continue
            }
            try MediaCodec.dueKey(record.id, nextAttemptMilliseconds: record.nextAttemptMilliseconds).withUnsafeBytes {
                _ = try txn.delete(tables.mediaDue, $0)
            }
            switch settlement {
            case let .stored(_, sha256, mimeType, size, at):
                guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                    throw JournalError.invalidField(field: "media.sha256", reason: "expected 64 lowercase hex digits")
                }
                try checkLength(mimeType, "media.mime_type")
                record.state = .stored
                record.sha256 = sha256
                record.mimeType = mimeType
                record.size = size
                record.error = nil
                record.attempts += 1
                record.settledMilliseconds = at
                try adjustBlob(sha256, by: 1, txn)
            case let .retry(_, attempts, next, error):
                record.attempts = attempts
                record.nextAttemptMilliseconds = next
                record.error = String(error.prefix(2_000))
                try MediaCodec.dueKey(record.id, nextAttemptMilliseconds: next).withUnsafeBytes { try txn.put(tables.mediaDue, $0, emptyValue) }
            case let .failed(_, attempts, error, at):
                record.state = .failed
                record.attempts = attempts
                record.error = String(error.prefix(2_000))
                record.settledMilliseconds = at
            }
            try putMedia(record, key, txn)
            applied += 1
        }
        return applied
    }

    /// A file uploaded through `POST /v1/media`, stored in the volume already: its record,
    /// `stored`, names the file.
    func storeUpload(_ record: MediaRecord, _ txn: borrowing Transaction) throws {
        precondition(record.isUpload && record.state == .stored, "storeUpload takes a stored upload")
        let key = Array(record.id.utf8)
        guard !key.isEmpty, key.count <= Journal.mediaIDBytesMax else {
            throw JournalError.invalidField(field: "media.id", reason: "\(key.count) bytes, expected 1…\(Journal.mediaIDBytesMax)")
        }
        guard try readMedia(record.id, key, txn) == nil else { throw JournalError.invalidField(field: "media.id", reason: "\(record.id) exists") }
        try checkLength(record.mimeType, "media.mime_type")
        try putMedia(record, key, txn)
        try adjustBlob(record.sha256, by: 1, txn)
    }

    /// A number's Meta media id for an uploaded file, replacing the one it had. The file's
    /// `settledMilliseconds` becomes the upload's time: retention counts from its last use.
    /// False (nothing written) when the file is no longer kept.
    func recordMediaUpload(_ upload: MediaUpload, _ txn: borrowing Transaction) throws -> Bool {
        let key = Array(upload.media.utf8)
        guard !key.isEmpty, key.count <= Journal.mediaIDBytesMax, var record = try readMedia(upload.media, key, txn), record.isUpload else { return false }
        try checkLength(upload.metaID, "media_upload.id")
        record.settledMilliseconds = max(record.settledMilliseconds, upload.uploadedMilliseconds)
        try putMedia(record, key, txn)
        try MediaUploadCodec.key(media: upload.media, sender: upload.sender).withUnsafeBytes { k in
            try txn.putReserving(tables.mediaUploads, k, count: MediaUploadCodec.size(upload), append: false) { MediaUploadCodec.write(upload, to: $0) }
        }
        return true
    }

    /// Retention: scans up to `max` media records after `after` (by id) and deletes those
    /// received before `receivedBefore` that are no longer pending. Returns the files no
    /// record names any more (sha256 hex: the caller removes them from the volume), and
    /// the id to continue from (nil: the scan reached the end).
    func removeMedia(receivedBefore: Int64, after: String?, max: Int, _ txn: borrowing Transaction) throws -> (removed: Int, unreferenced: [String], resume: String?) {
        var doomed: [(key: [UInt8], record: MediaRecord)] = []
        var scanned = 0
        var last: [UInt8]?
        try txn.withCursor(tables.media) { c in
            var entry = try after.map { a in try Array(a.utf8).withUnsafeBytes { try c.seek(atLeast: $0) } } ?? c.first()
            if let a = after, let (key, _) = entry, Array(key) == Array(a.utf8) { entry = try c.next() }
            while let (key, value) = entry, scanned < max {
                entry = try c.next()
                scanned += 1
                let id = String(decoding: key, as: UTF8.self)
                last = Array(key)
                let record: MediaRecord
                do { record = try MediaCodec.read(id: id, value) } catch {
                    throw JournalError.corruptRecord(path: path, table: Schema.media, key: id)
                }
                // An upload counts from its last upload to a number (its last use).
                let since = record.isUpload ? Swift.max(record.receivedMilliseconds, record.settledMilliseconds) : record.receivedMilliseconds
                if record.state != .pending && since < receivedBefore { doomed.append((Array(key), record)) }
            }
        }
        var unreferenced: [String] = []
        for (key, record) in doomed {
            _ = try key.withUnsafeBytes { try txn.delete(tables.media, $0) }
            if record.isUpload { try removeUploads(of: record.id, txn) }
            if record.state == .stored, try adjustBlob(record.sha256, by: -1, txn) == 0 { unreferenced.append(record.sha256) }
        }
        let resume = scanned == max ? last.map { String(decoding: $0, as: UTF8.self) } : nil
        return (doomed.count, unreferenced, resume)
    }

    private func removeUploads(of media: String, _ txn: borrowing Transaction) throws {
        let prefix = MediaUploadCodec.prefix(media: media)
        var keys: [[UInt8]] = []
        try txn.withCursor(tables.mediaUploads) { c in
            var entry = try prefix.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let (key, _) = entry, key.count > prefix.count, Array(key.prefix(prefix.count)) == prefix {
                keys.append(Array(key))
                entry = try c.next()
            }
        }
        for key in keys { _ = try key.withUnsafeBytes { try txn.delete(tables.mediaUploads, $0) } }
    }

    private func readMedia(_ id: String, _ key: [UInt8], _ txn: borrowing Transaction) throws -> MediaRecord? {
        try key.withUnsafeBytes { k in
            guard let value = try txn.get(tables.media, k) else { return nil }
            do { return try MediaCodec.read(id: id, value) } catch { throw JournalError.corruptRecord(path: path, table: Schema.media, key: id) }
        }
    }

    private func putMedia(_ record: MediaRecord, _ key: [UInt8], _ txn: borrowing Transaction) throws {
        try checkLength(record.senderPhoneNumberID, "media.sender")
        try key.withUnsafeBytes { k in
            try txn.putReserving(tables.media, k, count: MediaCodec.size(record), append: false) { MediaCodec.write(record, to: $0) }
        }
    }

    /// Adds `delta` to a file's count of records; returns the new count (0: entry deleted).
    @discardableResult
    private func adjustBlob(_ sha256: String, by delta: Int64, _ txn: borrowing Transaction) throws -> UInt64 {
        try Array(sha256.utf8).withUnsafeBytes { k in
            let current = try txn.get(tables.mediaBlobs, k).map { $0.count == 8 ? UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) : 0 } ?? 0
            let next = UInt64(max(0, Int64(current) + delta))
            if next == 0 {
                _ = try txn.delete(tables.mediaBlobs, k)
            } else {
                try withUnsafeBytes(of: next.bigEndian) { try txn.put(tables.mediaBlobs, k, $0) }
            }
            return next
        }
    }
}
