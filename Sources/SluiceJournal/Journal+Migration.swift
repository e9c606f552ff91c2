import SluiceCore

/// Schema version 1 → 2: `outbox` keys gain a lane (`Key.outboxEntry`). Values move
/// unchanged — their sealed fields are bound to the entry's identity (`Key.outbox`), not
/// to its table key — and the lane comes from their clear fields, so no key is needed.
extension Journal {
    /// Entries moved per write transaction: bounds LMDB's dirty pages, and a crash keeps
    /// the batches already committed (the next open goes on).
    static let outboxMigrationBatchMax = 10_000

    /// Moves every version 1 `outbox` entry to its lane, in batches, then records version 2
    /// in the last batch's transaction. Returns how many entries moved.
    static func migrateOutbox(
        _ env: Environment, _ tables: Tables, path: String, mapSizeBytesMax: Int, batchMax: Int = outboxMigrationBatchMax
    ) throws(JournalError) -> Int {
        var moved = 0
        var from: [UInt8] = []
        while true {
            do {
                let txn = try env.beginWrite()
                let batch: [(key: [UInt8], value: [UInt8])]
                let done: Bool
                do {
                    (batch, done) = try txn.withCursor(tables.outbox) { c in
                        var out: [(key: [UInt8], value: [UInt8])] = []
                        var entry = try from.isEmpty ? c.first() : from.withUnsafeBytes { try c.seek(atLeast: $0) }
                        while let (key, value) = entry {
                            // Entries already in a lane (a migration cut short by a crash) stay.
                            if key.count == Key.outboxBytes {
                                if out.count == batchMax { return (out, false) }
                                out.append((Array(key), Array(value)))
                            }
                            entry = try c.next()
                        }
                        return (out, true)
                    }
                    for (key, value) in batch {
                        let parts = key.withUnsafeBytes { Key.outboxParts($0) }
                        guard let lane = value.withUnsafeBytes({ OutboxCodec.lane($0) }) else {
                            throw JournalError.corruptRecord(path: path, table: Schema.outbox, key: "\(parts.subscription)/\(parts.message)/\(parts.event)")
                        }
                        try Key.outboxEntry(parts.subscription, lane: lane, parts.message, parts.event).withBytes { k in
                            try value.withUnsafeBytes { try txn.put(tables.outbox, k, $0) }
                        }
                        _ = try key.withUnsafeBytes { try txn.delete(tables.outbox, $0) }
                    }
                    if done {
                        try Array(Schema.metaVersionKey.utf8).withUnsafeBytes { k in
                            try withUnsafeBytes(of: Schema.version.bigEndian) { try txn.put(tables.meta, k, $0) }
                        }
                    }
                } catch {
                    txn.abort()
                    throw error
                }
                try txn.commit()
                moved += batch.count
                if done { return moved }
                from = batch.last!.key
            } catch let error as LMDBError where error.isMapFull {
                // Old and new keys side by side in one batch: grow as the writer would.
                let current: Int
                do { current = try env.info().mapSizeBytes } catch { throw JournalError(error, path: path) }
                guard current < mapSizeBytesMax else { throw .mapFull(path: path, mapSizeBytes: current, mapSizeBytesMax: mapSizeBytesMax) }
                do { try env.setMapSize(min(current.multipliedReportingOverflow(by: 2).overflow ? Int.max : current * 2, mapSizeBytesMax)) } catch {
                    throw JournalError(error, path: path)
                }
            } catch {
                throw JournalError(any: error, path: path)
            }
        }
    }
}
