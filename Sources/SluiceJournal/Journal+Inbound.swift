import SluiceCore

extension Journal {
    /// The incoming message with `wamid`; nil when none is known (never received, or
    /// removed by retention).
    public func inboundMessage(wamid: String) throws(JournalError) -> InboundMessage? {
        let key = Array(wamid.utf8)
        guard !key.isEmpty, key.count <= JournalWriter.wamidKeyBytesMax else { return nil }
        return try read { txn in
            try key.withUnsafeBytes { k in
                guard let value = try txn.get(tables.inbound, k) else { return nil }
                do { return try InboundCodec.read(value, format: InboundCodec.recordFormat, table: .inbound, key: k, cipher).0 } catch {
                    throw JournalError.corruptRecord(path: directory, table: Schema.inbound, key: wamid)
                }
            }
        }
    }
}
