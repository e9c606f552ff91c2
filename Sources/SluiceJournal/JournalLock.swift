#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An exclusive `flock` on `<journal>/sluice.lock`, held by the one process that writes
/// the journal (`sluice serve`, or `sluice journal compact`). A second writer fails with
/// `JournalError.locked` instead of sharing the environment; readers that take no lock
/// (`sluice journal stats|check|…`) keep working alongside. The kernel drops the lock
/// when the process dies, `kill -9` included: a stale file never blocks a restart.
final class JournalLock: @unchecked Sendable {
    static let fileName = "sluice.lock"

    private var descriptor: Int32
    let path: String

    /// Takes the lock without waiting. `created` tells whether the lock file was made by
    /// this call, so that a failed open can remove it again and leave a foreign directory
    /// as it found it.
    init(directory: String) throws(JournalError) {
        path = directory + "/" + Self.fileName
        let existed = access(path, F_OK) == 0
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .directory(path: directory, reason: "cannot open \(Self.fileName): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw .locked(path: directory) }
            throw .directory(path: directory, reason: "cannot lock \(Self.fileName): \(String(cString: strerror(code)))")
        }
        descriptor = fd
        created = !existed
    }

    /// Whether this lock made the lock file.
    let created: Bool

    /// Releases the lock (and deletes the lock file when `removingFile`, for a directory
    /// that turned out not to be a journal). Idempotent.
    func release(removingFile: Bool = false) {
        guard descriptor >= 0 else { return }
        if removingFile { unlink(path) }
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
