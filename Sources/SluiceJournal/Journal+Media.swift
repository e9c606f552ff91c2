import SluiceCore

extension Journal {
    /// The media record for Meta's media `id`; nil when none is known.
    public func media(id: String) throws(JournalError) -> MediaRecord? {
        let key = Array(id.utf8)
        guard !key.isEmpty, key.count <= Self.mediaIDBytesMax else { return nil }
        return try read { txn in
            try key.withUnsafeBytes { k in
                guard let value = try txn.get(tables.media, k) else { return nil }
                do { return try MediaCodec.read(id: id, value) } catch {
                    throw JournalError.corruptRecord(path: directory, table: Schema.media, key: id)
                }
            }
        }
    }

    /// Up to `limit` pending downloads due at `nowMilliseconds`, earliest first, and when
    /// the next one after them is due (nil: none is pending).
    public func dueMedia(nowMilliseconds: Int64, limit: Int) throws(JournalError) -> (due: [MediaRecord], nextMilliseconds: Int64?) {
        try read { txn in
            var due: [MediaRecord] = []
            var next: Int64?
            try txn.withCursor(tables.mediaDue) { c in
                var entry = try c.first()
                while let (key, _) = entry {
                    entry = try c.next()
                    guard let (at, id) = MediaCodec.dueParts(key) else {
                        throw JournalError.corruptRecord(path: directory, table: Schema.mediaDue, key: "\(key.count) bytes")
                    }
                    guard at <= nowMilliseconds, due.count < limit else {
                        next = at
                        break
                    }
                    let record = try Array(id.utf8).withUnsafeBytes { k -> MediaRecord in
                        guard let value = try txn.get(tables.media, k), let record = try? MediaCodec.read(id: id, value) else {
                            throw JournalError.corruptRecord(path: directory, table: Schema.media, key: id)
                        }
                        return record
                    }
                    due.append(record)
                }
            }
            return (due, next)
        }
    }

    /// The number's Meta media id for an uploaded file; nil when it was never uploaded there.
    public func mediaUpload(media: String, sender: SenderID) throws(JournalError) -> MediaUpload? {
        let key = MediaUploadCodec.key(media: media, sender: sender)
        guard key.count <= Self.mediaIDBytesMax + 5 else { return nil }
        return try read { txn in
            try key.withUnsafeBytes { k in
                guard let value = try txn.get(tables.mediaUploads, k) else { return nil }
                do { return try MediaUploadCodec.read(media: media, sender: sender, value) } catch {
                    throw JournalError.corruptRecord(path: directory, table: Schema.mediaUploads, key: "\(media)/\(sender)")
                }
            }
        }
    }

    /// How many records the media volume's files have (sha256 hex → count): for checks.
    public func mediaBlobCount(sha256: String) throws(JournalError) -> UInt64 {
        try read { txn in
            try Array(sha256.utf8).withUnsafeBytes { k in
                try txn.get(tables.mediaBlobs, k).map { $0.count == 8 ? UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) : 0 } ?? 0
            }
        }
    }
}
