import Foundation

/// CPU time and peak RSS of a live process, from `/proc/<pid>/stat` and `/proc/<pid>/status`.
enum ProcessUsage {
    static func sample(pid: Int32) -> ProcessUsageSample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let cpu = cpuSeconds(stat: stat), let rss = peakRSSBytes(status: status)
        else { return nil }
        return ProcessUsageSample(cpuSeconds: cpu, peakRSSBytes: rss)
    }

    /// utime + stime (fields 14 and 15) in seconds. The command name (field 2) may hold
    /// spaces, so fields are counted after its closing parenthesis.
    static func cpuSeconds(stat: String) -> Double? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) / (ticksPerSecond > 0 ? ticksPerSecond : 100)
    }

    /// `VmHWM:  12345 kB` in bytes.
    static func peakRSSBytes(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let kilobytes = Int(parts[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }
}
