import CLMDB

/// Owns one `MDB_env`. Closing happens in `deinit` (or earlier through `close()`), and
/// also when `mdb_env_open` fails, which LMDB requires.
final class Environment: @unchecked Sendable {
    /// Named databases the environment may hold (Sluice uses twelve; tables are added over time).
    static let databasesMax: UInt32 = 32
    /// Concurrent read transactions (reader slots in lock.mdb).
    static let readersMax: UInt32 = 510

    private(set) var handle: OpaquePointer?
    let path: String

    /// Opens (or creates) the environment in `directory` (`data.mdb` + `lock.mdb`).
    init(directory: String, mapSizeBytes: Int, noSync: Bool) throws(LMDBError) {
        path = directory
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "mdb_env_create")
        do {
            try LMDBError.check(mdb_env_set_maxdbs(env, Environment.databasesMax), "mdb_env_set_maxdbs")
            try LMDBError.check(mdb_env_set_maxreaders(env, Environment.readersMax), "mdb_env_set_maxreaders")
            try LMDBError.check(mdb_env_set_mapsize(env, mapSizeBytes), "mdb_env_set_mapsize")
            // NOTLS: read transactions are begun from arbitrary threads and tasks.
            var flags = UInt32(MDB_NOTLS)
            if noSync { flags |= UInt32(MDB_NOSYNC) }
            try LMDBError.check(mdb_env_open(env, directory, flags, 0o600), "mdb_env_open")
        } catch {
            mdb_env_close(env)
            throw error
        }
        handle = env
        // Reader slots left by a process that was killed would otherwise pin old pages.
        var dead: Int32 = 0
        _ = mdb_reader_check(env, &dead)
    }

    deinit { close() }

    func close() {
        if let handle { mdb_env_close(handle) }
        handle = nil
    }

    struct Info {
        var mapSizeBytes: Int
        var lastPage: Int
        var pageSizeBytes: Int
    }

    func info() throws(LMDBError) -> Info {
        var info = MDB_envinfo()
        try LMDBError.check(mdb_env_info(handle, &info), "mdb_env_info")
        var stat = MDB_stat()
        try LMDBError.check(mdb_env_stat(handle, &stat), "mdb_env_stat")
        return Info(mapSizeBytes: info.me_mapsize, lastPage: info.me_last_pgno, pageSizeBytes: Int(stat.ms_psize))
    }

    /// Changes the map size. The caller guarantees that no transaction is live in this
    /// process (the journal's reader gate). Zero adopts the size stored in the file.
    func setMapSize(_ bytes: Int) throws(LMDBError) {
        try LMDBError.check(mdb_env_set_mapsize(handle, bytes), "mdb_env_set_mapsize")
    }

    /// Writes a copy of the environment to `<directory>/data.mdb` (the directory must exist
    /// and be empty). With `compact`, free pages are left out and the copy is renumbered:
    /// the file shrinks to the pages in use. Runs in a read transaction of its own, so the
    /// writer is not held up.
    func copy(to directory: String, compact: Bool) throws(LMDBError) {
        try LMDBError.check(mdb_env_copy2(handle, directory, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2")
    }

    func beginRead() throws(LMDBError) -> Transaction {
        try Transaction(env: handle!, parent: nil, readOnly: true)
    }

    func beginWrite() throws(LMDBError) -> Transaction {
        try Transaction(env: handle!, parent: nil, readOnly: false)
    }
}
