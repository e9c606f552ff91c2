import Foundation
import SluiceJournal
#if canImport(Glibc)
import Glibc
#endif

/// The intake guard against a full disk: new campaigns are refused while the file system
/// of the journal has less than a reserve free, so that the journal keeps room to record
/// the outcomes of what it already accepted.
enum DiskSpace {
    /// Bytes available to this process on the file system holding `path`; nil when it
    /// cannot be told.
    static func availableBytes(path: String) -> UInt64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) &* UInt64(info.f_frsize)
    }

    static func megabytes(_ bytes: UInt64) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
}

extension Dispatcher {
    /// Throws `storageFull` when the journal's file system is below the intake reserve.
    func checkIntakeSpace() throws(IntakeError) {
        let reserve = configuration.intakeFreeBytesMin
        guard reserve > 0, let free = DiskSpace.availableBytes(path: configuration.dataDirectory), free < reserve else { return }
        throw .storageFull(
            "the disk holding the journal has \(DiskSpace.megabytes(free)) free, less than the \(DiskSpace.megabytes(reserve)) kept for "
                + "recording the outcomes of accepted messages; nothing was journaled, accepted messages are kept and sent, "
                + "and intake resumes when space is freed")
    }

    /// The intake error for a journal failure: `storageFull` when the disk or map is full.
    static func intakeError(_ error: JournalError) -> IntakeError {
        guard error.isStorageFull else { return .journal("\(error)") }
        return .storageFull(
            "the journal's disk or map is full or failing (\(error)); nothing of this request was journaled, accepted messages are kept and sent, "
                + "and intake resumes when space is freed")
    }
}
