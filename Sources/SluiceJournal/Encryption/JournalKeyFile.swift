#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceCrypto

/// The journal key: 32 random bytes in a file only its owner may read.
enum JournalKeyFile {
    static let keyByteCount = AES256GCM.keyByteCount

    /// The key in `path`; nil when no file is there. Throws for a file that group or others
    /// may access, that is not a regular file of exactly 32 bytes, or that cannot be read.
    static func load(_ path: String) throws(JournalError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw .keyFile(path: path, reason: "cannot open it: \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .keyFile(path: path, reason: "cannot stat it: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .keyFile(path: path, reason: "not a regular file") }
        let permissions = info.st_mode & 0o777
        // Anyone who can read the key can read the tokens it protects.
        guard permissions & 0o077 == 0 else {
            throw .keyFile(path: path, reason: "mode \(String(permissions, radix: 8)) lets group or others access it; chmod 600 it (and check who could have read it)")
        }
        guard info.st_size == keyByteCount else {
            throw .keyFile(path: path, reason: "\(info.st_size) bytes, a journal key is \(keyByteCount)")
        }
        var key = [UInt8](repeating: 0, count: keyByteCount)
        let n = key.withUnsafeMutableBytes { read(fd, $0.baseAddress, keyByteCount) }
        guard n == keyByteCount else { throw .keyFile(path: path, reason: "read \(n) of \(keyByteCount) bytes") }
        return key
    }

    /// Creates `path` (it must not exist) with a new random key, mode 0600, and makes it
    /// durable — the file and its directory entry — before any record is sealed with it.
    static func create(_ path: String) throws(JournalError) -> [UInt8] {
        let key = SecureRandom.bytes(keyByteCount)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .keyFile(path: path, reason: "cannot create it: \(String(cString: strerror(errno)))") }
        let written = key.withUnsafeBytes { write(fd, $0.baseAddress, keyByteCount) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == keyByteCount, synced else {
            unlink(path)  // a partial key must not be found by the next start
            throw .keyFile(path: path, reason: "cannot write it: \(String(cString: strerror(errno)))")
        }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dirfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
        return key
    }
}
