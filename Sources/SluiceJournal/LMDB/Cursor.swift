import CLMDB

/// A cursor over one database. Only ever lent out by `Transaction.withCursor`, which
/// closes it, so it cannot outlive its transaction.
struct Cursor {
    let handle: OpaquePointer
    let database: Database

    /// A key/value pair pointing into the map, valid while the transaction lives.
    typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    /// The first entry whose key is ≥ `key`.
    mutating func seek(atLeast key: UnsafeRawBufferPointer) throws(LMDBError) -> Entry? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        return try op(&k, MDB_SET_RANGE)
    }

    mutating func first() throws(LMDBError) -> Entry? {
        var k = MDB_val()
        return try op(&k, MDB_FIRST)
    }

    mutating func last() throws(LMDBError) -> Entry? {
        var k = MDB_val()
        return try op(&k, MDB_LAST)
    }

    mutating func next() throws(LMDBError) -> Entry? {
        var k = MDB_val()
        return try op(&k, MDB_NEXT)
    }

    mutating func previous() throws(LMDBError) -> Entry? {
        var k = MDB_val()
        return try op(&k, MDB_PREV)
    }

    private func op(_ key: inout MDB_val, _ operation: MDB_cursor_op) throws(LMDBError) -> Entry? {
        var v = MDB_val()
        let rc = mdb_cursor_get(handle, &key, &v, operation)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_cursor_get(\(database.name))")
        return (UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }
}
