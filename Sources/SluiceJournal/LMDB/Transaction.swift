import CLMDB

/// One LMDB transaction. Non-copyable: `commit()` consumes it, and dropping it aborts,
/// so neither "used after commit" nor "leaked transaction" can be written.
struct Transaction: ~Copyable {
    let handle: OpaquePointer
    let env: OpaquePointer

    init(env: OpaquePointer, parent: OpaquePointer?, readOnly: Bool) throws(LMDBError) {
        var txn: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(env, parent, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "mdb_txn_begin")
        handle = txn!
        self.env = env
    }

    /// A nested write transaction: its changes join this one on commit or vanish on abort.
    /// This transaction must not be used until the child has ended.
    func beginChild() throws(LMDBError) -> Transaction {
        try Transaction(env: env, parent: handle, readOnly: false)
    }

    consuming func commit() throws(LMDBError) {
        let txn = handle
        discard self  // mdb_txn_commit frees the transaction even when it fails.
        try LMDBError.check(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    consuming func abort() {
        let txn = handle
        discard self
        mdb_txn_abort(txn)
    }

    deinit { mdb_txn_abort(handle) }

    // MARK: Databases

    func openDatabase(_ name: String, create: Bool) throws(LMDBError) -> Database? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(handle, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_dbi_open(\(name))")
        return Database(name: name, dbi: dbi)
    }

    /// The unnamed database, which lists the named ones.
    func mainDatabase() throws(LMDBError) -> Database {
        var dbi: MDB_dbi = 0
        try LMDBError.check(mdb_dbi_open(handle, nil, 0, &dbi), "mdb_dbi_open(main)")
        return Database(name: "main", dbi: dbi)
    }

    func entries(_ db: Database) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try LMDBError.check(mdb_stat(handle, db.dbi, &stat), "mdb_stat(\(db.name))")
        return stat.ms_entries
    }

    // MARK: Values

    /// The value for `key`, pointing into the map: valid until the transaction ends or
    /// (in a write transaction) until the next write.
    func get(_ db: Database, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, db.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_get(\(db.name))")
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    func put(_ db: Database, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, append: Bool = false) throws(LMDBError) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try LMDBError.check(mdb_put(handle, db.dbi, &k, &v, append ? UInt32(MDB_APPEND) : 0), "mdb_put(\(db.name))")
    }

    /// Reserves `count` bytes for `key` and lets `fill` write the value in place (no copy).
    func putReserving(
        _ db: Database, _ key: UnsafeRawBufferPointer, count: Int, append: Bool,
        _ fill: (UnsafeMutableRawPointer) -> Void
    ) throws(LMDBError) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: count, mv_data: nil)
        let flags = UInt32(MDB_RESERVE) | (append ? UInt32(MDB_APPEND) : 0)
        try LMDBError.check(mdb_put(handle, db.dbi, &k, &v, flags), "mdb_put(\(db.name))")
        fill(v.mv_data!)
    }

    /// Deletes `key`; false when it was absent.
    @discardableResult
    func delete(_ db: Database, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc = mdb_del(handle, db.dbi, &k, nil)
        if rc == MDB_NOTFOUND { return false }
        try LMDBError.check(rc, "mdb_del(\(db.name))")
        return true
    }

    /// Runs `body` with a cursor that is closed before this returns.
    func withCursor<T>(_ db: Database, _ body: (inout Cursor) throws -> T) throws -> T {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(handle, db.dbi, &cursor), "mdb_cursor_open(\(db.name))")
        defer { mdb_cursor_close(cursor) }
        var c = Cursor(handle: cursor!, database: db)
        return try body(&c)
    }
}
