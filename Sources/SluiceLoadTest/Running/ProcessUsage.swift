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

    /// Established TCP connections whose remote port is `port`, over IPv4 and IPv6: the
    /// clients' side of connections to a local endpoint (its own side has it as local port).
    static func connections(toPort port: Int) -> Int {
        var count = 0
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // Read to the end: procfs reports size 0, and a sized read stops at a page.
            guard let handle = FileHandle(forReadingAtPath: file) else { continue }
            let data = (try? handle.readToEnd()) ?? Data()
            try? handle.close()
            count += connections(table: String(decoding: data, as: UTF8.self), toPort: port)
        }
        return count
    }

    /// One `/proc/net/tcp`-format table: `sl local_address rem_address st …`, ports in hex,
    /// state 01 established.
    static func connections(table: String, toPort port: Int) -> Int {
        var count = 0
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[3] == "01", let colon = fields[2].lastIndex(of: ":"),
                  Int(fields[2][fields[2].index(after: colon)...], radix: 16) == port else { continue }
            count += 1
        }
        return count
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
