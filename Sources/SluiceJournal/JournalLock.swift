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

    /// How long a lock held by someone else is waited for before `locked`: a lock is also
    /// held for a moment by a child process forked from the holder before it execs (its
    /// copy of the descriptor closes at exec), so a journal closed and opened again in one
    /// process that spawns others can find it briefly taken. A running writer holds it
    /// far longer.
    static let busyWaitMillisecondsMax = 2_000
    static let busyRetryMilliseconds = 10

    /// Takes the lock, waiting at most `busyWaitMillisecondsMax` for it. `created` tells
    /// whether the lock file was made by this call, so that a failed open can remove it
    /// again and leave a foreign directory as it found it.
    init(directory: String) throws(JournalError) {
        path = directory + "/" + Self.fileName
        let existed = access(path, F_OK) == 0
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .directory(path: directory, reason: "cannot open \(Self.fileName): \(String(cString: strerror(errno)))")
        }
        var waited = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK && waited < Self.busyWaitMillisecondsMax {
                usleep(useconds_t(Self.busyRetryMilliseconds * 1_000))
                waited += Self.busyRetryMilliseconds
                continue
            }
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
