import SluiceCore

extension Journal {
    /// What the journal keeps of `waID` as a contact of the number; nil when it never
    /// wrote and was never suppressed.
    public func contact(phoneNumberID: String, waID: String) throws(JournalError) -> ContactRecord? {
        guard let indexKey = contactIndexKey else { throw JournalError.keyRequired(path: directory) }
        guard !waID.isEmpty, waID.utf8.count <= Self.waIDBytesMax else { return nil }
        let key = ContactCodec.key(phoneNumberID: phoneNumberID, waID: waID, indexKey: indexKey)
        return try read { txn in
            try key.withBytes { k in
                guard let value = try txn.get(tables.contacts, k) else { return nil }
                do { return try ContactCodec.read(value, key: k, cipher) } catch {
                    throw JournalError(record: error, path: directory, table: Schema.contacts, key: "(contact of \(phoneNumberID))")
                }
            }
        }
    }

    /// A page of the number's suppression list in key order (stable while it changes),
    /// and the cursor for the next page (nil: this was the last).
    public func suppressions(phoneNumberID: String, after cursor: SuppressionCursor?, limit: Int) throws(JournalError) -> (contacts: [ContactRecord], next: SuppressionCursor?) {
        guard let indexKey = contactIndexKey else { throw JournalError.keyRequired(path: directory) }
        let prefix = ContactCodec.numberPrefix(phoneNumberID, indexKey: indexKey)
        return try read { txn in
            var page: [ContactRecord] = []
            var next: SuppressionCursor?
            try txn.withCursor(tables.suppressed) { c in
                let start = Key.outbox(prefix, cursor?.high ?? 0, cursor?.low ?? 0)
                var entry = try start.withBytes { try c.seek(atLeast: $0) }
                if let cursor, let (key, _) = entry, ContactCodec.numberPart(key) == prefix, SuppressionCursor(key) == cursor { entry = try c.next() }
                var lastKey: [UInt8]?
                while let (key, _) = entry, ContactCodec.numberPart(key) == prefix {
                    guard page.count < limit else {
                        next = lastKey.map { SuppressionCursor($0) }
                        break
                    }
                    guard let value = try txn.get(tables.contacts, key) else {
                        throw JournalError.corruptRecord(path: directory, table: Schema.suppressed, key: "(a suppression without its contact)")
                    }
                    do { page.append(try ContactCodec.read(value, key: key, cipher)) } catch {
                        throw JournalError(record: error, path: directory, table: Schema.contacts, key: "(contact of \(phoneNumberID))")
                    }
                    lastKey = Array(key)
                    entry = try c.next()
                }
            }
            return (page, next)
        }
    }
}

extension SuppressionCursor {
    init(_ key: some Collection<UInt8>) {
        let bytes = Array(key)
        self.init(high: bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }, low: bytes[16..<24].reduce(0) { $0 << 8 | UInt64($1) })
    }
}
