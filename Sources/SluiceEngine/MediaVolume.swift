import Foundation
import SluiceCore
import SluiceCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The media volume: each file named by its SHA-256 (`<dir>/sha256/ab/abcd…`), so the same
/// bytes are kept once whoever sent them. A file is written under `<dir>/tmp`, synced, and
/// renamed into place; the journal's `media_blobs` counts the records naming it, and
/// retention removes a file when that count reaches 0.
///
/// Placing a file and journaling it, and removing a file no record names, hold `gate`, so
/// that retention never removes a file that a download has just placed for a new record.
public final class MediaVolume: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let directory: String
    public let gate = AsyncGate()

    /// Creates the directories (mode 0700) and removes what a stopped process left in `tmp`.
    public init(directory: String) throws(Failure) {
        self.directory = directory
        for sub in ["/tmp", "/sha256"] {
            do {
                try FileManager.default.createDirectory(atPath: directory + sub, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw Failure(description: "cannot create the media directory \(directory + sub): \(error.localizedDescription)")
            }
        }
        if let leftovers = try? FileManager.default.contentsOfDirectory(atPath: directory + "/tmp") {
            for name in leftovers { unlink(directory + "/tmp/" + name) }
        }
    }

    public func path(sha256: String) -> String {
        "\(directory)/sha256/\(sha256.prefix(2))/\(sha256)"
    }

    public func contains(sha256: String) -> Bool {
        access(path(sha256: sha256), F_OK) == 0
    }

    /// A new file under `tmp` to download into.
    public func create() throws(Failure) -> MediaFile {
        let path = "\(directory)/tmp/\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        return MediaFile(fd: fd, path: path)
    }

    /// Syncs and closes `file` and renames it to its place; the same bytes already there
    /// are kept (and `file` removed). Call inside `gate`.
    public func place(_ file: MediaFile, sha256: String) throws(Failure) {
        guard fsync(file.fd) == 0 else {
            let reason = String(cString: strerror(errno))
            file.discard()
            throw Failure(description: "syncing \(file.path) failed: \(reason)")
        }
        file.closeDescriptor()
        let folder = "\(directory)/sha256/\(sha256.prefix(2))"
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            let reason = String(cString: strerror(errno))
            unlink(file.path)
            throw Failure(description: "cannot create \(folder): \(reason)")
        }
        guard rename(file.path, path(sha256: sha256)) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(file.path)
            throw Failure(description: "cannot move the download into \(folder): \(reason)")
        }
        Self.syncDirectory(folder)
    }

    /// Removes the file of `sha256`, if present. Call inside `gate`, after checking that no
    /// record names it.
    public func remove(sha256: String) {
        unlink(path(sha256: sha256))
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// A download on its way into the volume: bytes are written and hashed as they come.
public final class MediaFile: @unchecked Sendable {
    // One task writes it; `@unchecked` because the hasher is a class.
    let fd: Int32
    public let path: String
    public private(set) var size: Int64 = 0
    private let hasher = SHA256Hasher()
    private var open = true

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        if open { close(fd) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(MediaVolume.Failure) {
        hasher.update(bytes)
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw MediaVolume.Failure(description: "writing \(path) failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        size += Int64(bytes.count)
    }

    /// Lowercase hex SHA-256 of what was written; call once, when the download is whole.
    public func finishDigest() -> String {
        Hex.encode(hasher.finish())
    }

    /// Closes and deletes the file (a refused or broken download).
    public func discard() {
        closeDescriptor()
        unlink(path)
    }

    func closeDescriptor() {
        if open {
            close(fd)
            open = false
        }
    }
}

/// A lock that async code can hold across suspension points, first come first served;
/// with `permits` above 1, that many may hold it at once.
public final class AsyncGate: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Locked<State>

    public init(permits: Int = 1) {
        precondition(permits >= 1, "a gate needs a permit")
        state = Locked(State(free: permits))
    }

    public func withGate<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { s -> Bool in
                if s.free == 0 {
                    s.waiting.append(continuation)
                    return false
                }
                s.free -= 1
                return true
            }
            if admitted { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiting.isEmpty {
                s.free += 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume()
    }
}
