import CLMDB

/// A failed LMDB call: the function name and its return code. Internal; the public API
/// turns it into `JournalError.lmdb` with the journal's path.
struct LMDBError: Error, CustomStringConvertible {
    var call: String
    var code: Int32

    var isMapFull: Bool { code == MDB_MAP_FULL }
    var isNotFound: Bool { code == MDB_NOTFOUND }

    var message: String { String(cString: mdb_strerror(code)) }
    var description: String { "\(call) failed: \(message) (\(code))" }

    /// Throws unless `code` is `MDB_SUCCESS`.
    @inline(__always)
    static func check(_ code: Int32, _ call: @autoclosure () -> String) throws(LMDBError) {
        if code != MDB_SUCCESS { throw LMDBError(call: call(), code: code) }
    }
}
