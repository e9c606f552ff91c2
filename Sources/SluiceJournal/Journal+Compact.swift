import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `Journal.compact` did.
public struct CompactionReport: Sendable, Equatable {
    /// Size of `data.mdb` before and after.
    public var bytesBefore: Int
    public var bytesAfter: Int
    /// Messages in the journal (the same before and after: the copy is verified).
    public var messages: Int
}

extension Journal {
    /// Rewrites the journal in `directory` without its free pages and swaps the copy in:
    /// LMDB reuses freed pages but never shrinks its file, so after retention removed many
    /// records this is how the disk space comes back.
    ///
    ///     let report = try Journal.compact(directory: "/var/lib/sluice/journal")
    ///     print(report.bytesBefore, report.bytesAfter)
    ///
    /// Takes the writer lock (`JournalError.locked` while `sluice serve` runs), copies the
    /// environment with `MDB_CP_COMPACT` to `<directory>.compacting/`, opens the copy as a
    /// journal and compares its message count, then renames it over `data.mdb` (atomic:
    /// a crash leaves either file whole; a left-over `.compacting` directory is removed
    /// by the next compaction). Readers that run alongside (`sluice journal stats`) keep
    /// the old file until they reopen.
    public static func compact(directory: String, configuration: JournalConfiguration = .init()) throws(JournalError) -> CompactionReport {
        guard let bytesBefore = dataFileBytes(directory) else {
            throw .directory(path: directory, reason: "no data.mdb: not a journal directory")
        }
        let lock = try JournalLock(directory: directory)
        defer { lock.release() }
        var shared = configuration
        // The lock is held here, for the whole compaction.
        shared.writerLock = false
        let scratch = directory + ".compacting"
        let files = FileManager.default
        do {
            if files.fileExists(atPath: scratch) { try files.removeItem(atPath: scratch) }
            try files.createDirectory(atPath: scratch, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .directory(path: scratch, reason: "\(error.localizedDescription)")
        }
        defer { try? files.removeItem(atPath: scratch) }

        let messages: Int
        do {
            let journal = try Journal(directory: directory, configuration: shared)
            defer { journal.close() }
            messages = try journal.statistics().messages
            try journal.read { _ in try journal.environment.copy(to: scratch, compact: true) }
        }
        try syncFile(scratch + "/data.mdb")
        do {
            let copy = try Journal(directory: scratch, configuration: shared)
            defer { copy.close() }
            let copied = try copy.statistics().messages
            guard copied == messages else {
                throw JournalError.directory(path: scratch, reason: "the compacted copy holds \(copied) messages, the journal \(messages): kept the journal as it was")
            }
        }
        guard Glibc.rename(scratch + "/data.mdb", directory + "/data.mdb") == 0 else {
            throw .directory(path: directory, reason: "cannot rename the compacted copy over data.mdb: \(String(cString: strerror(errno)))")
        }
        try syncFile(directory)
        return CompactionReport(bytesBefore: bytesBefore, bytesAfter: dataFileBytes(directory) ?? 0, messages: messages)
    }

    /// fsync of a file or a directory (the rename's entry).
    private static func syncFile(_ path: String) throws(JournalError) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .directory(path: path, reason: "cannot open for fsync: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw .directory(path: path, reason: "fsync failed: \(String(cString: strerror(errno)))") }
    }
}
