import Foundation

/// Finds the moment a child process is inside an LMDB group commit: one of its threads
/// blocked in `pwrite64`, `fdatasync`, `fsync` or `msync` (read from
/// `/proc/PID/task/TID/syscall`; only the journal writer makes those calls in `sluice
/// serve` — sockets use `writev`/`sendmsg`, logs `write`). Linux x86_64 and arm64.
enum JournalWriteProbe {
    #if arch(x86_64)
    /// pwrite64, fsync, fdatasync, msync.
    static let commitSyscalls: Set<Int> = [18, 74, 75, 26]
    #elseif arch(arm64)
    static let commitSyscalls: Set<Int> = [68, 82, 83, 227]
    #else
    static let commitSyscalls: Set<Int> = []
    #endif

    /// Whether the probe can see `pid`'s threads at all (`/proc` readable, known arch).
    static func isAvailable(pid: Int32) -> Bool {
        !commitSyscalls.isEmpty && (try? String(contentsOfFile: "/proc/\(pid)/syscall", encoding: .utf8)) != nil
    }

    /// Polls `pid`'s threads until one is in a commit syscall or `deadline` passes; true when seen.
    /// Spins without sleeping: the commit lasts milliseconds.
    static func waitForCommit(pid: Int32, deadline: Date) -> Bool {
        let taskDirectory = "/proc/\(pid)/task"
        var tasks: [String] = []
        var polls = 0
        while Date() < deadline {
            if polls % 256 == 0 {
                guard let list = try? FileManager.default.contentsOfDirectory(atPath: taskDirectory) else { return false }
                tasks = list
            }
            polls += 1
            for tid in tasks {
                guard let text = try? String(contentsOfFile: "\(taskDirectory)/\(tid)/syscall", encoding: .utf8),
                      let first = text.split(separator: " ", maxSplits: 1).first, let number = Int(first)
                else { continue }
                if commitSyscalls.contains(number) { return true }
            }
        }
        return false
    }
}
