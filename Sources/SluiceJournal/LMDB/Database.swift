import CLMDB

/// A named database handle, valid for the environment's lifetime once its opening
/// transaction committed.
struct Database: Sendable {
    let name: String
    let dbi: MDB_dbi
}
