import Foundation
import SluiceCore

#if canImport(Glibc)
import Glibc
#endif

/// Which messages began to leave, kept where a killed process cannot lose it and no fsync
/// is paid: a ring of `(wall ns, message id)` entries in a shared mapping of a file in
/// the data directory. The transport writes an entry just before libcurl writes a
/// request; the page cache outlives the process, so after `kill -9` the next start knows
/// which `in_flight` messages never reached the wire (`DepartureEvidence`). A reboot may
/// lose unwritten pages: the record is trusted only within the boot that wrote it
/// (`/proc/sys/kernel/random/boot_id`).
///
/// Layout: a 64-byte header (magic, boot id, capacity, reset time), then `capacity`
/// entries of 16 bytes. Written by one thread (the transport's) after `reset`.
public final class DepartureRecord: @unchecked Sendable {
    /// Entries kept: about 50 s of departures at 10 000 msg/s, far longer than a message
    /// stays `in_flight` (staging, then at most the request timeout). 8 MiB on disk.
    public static let defaultCapacity = 1 << 19
    static let magic: UInt64 = 0x3130_3050_4544_4C53  // "SLDEP001", little-endian
    static let headerBytes = 64
    static let entryBytes = 16
    static let bootIDBytes = 40

    public let path: String
    public let capacity: Int
    private let base: UnsafeMutableRawPointer
    private let length: Int
    private let fd: Int32
    private var head = 0

    /// Opens `path`, creating it (or resizing it to `capacity`, which empties it).
    public init(path: String, capacity: Int = DepartureRecord.defaultCapacity) throws {
        precondition(capacity > 0, "a departure record needs room for at least one entry")
        self.path = path
        self.capacity = capacity
        length = Self.headerBytes + capacity * Self.entryBytes
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DepartureRecordError(path: path, operation: "open", errno: errno) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let error = DepartureRecordError(path: path, operation: "stat", errno: errno)
            close(fd)
            throw error
        }
        // A record of another size is of no use: start empty (ftruncate leaves a hole of zeros).
        guard Int(status.st_size) == length || (ftruncate(fd, 0) == 0 && ftruncate(fd, off_t(length)) == 0),
            let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED
        else {
            let error = DepartureRecordError(path: path, operation: "map", errno: errno)
            close(fd)
            throw error
        }
        self.fd = fd
        base = mapped
    }

    deinit {
        munmap(base, length)
        close(fd)
    }

    /// The id of the boot this process runs in; nil where the kernel does not say.
    public static func currentBootID() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty || id.utf8.count > bootIDBytes ? nil : id
    }

    /// What the record says, if it was written in boot `bootID` and is whole; nil
    /// otherwise (another boot, never reset, or torn by a crash during `reset`).
    public func evidence(bootID: String) -> DepartureEvidence? {
        guard header(UInt64.self, at: 0) == Self.magic,
            header(UInt64.self, at: 48) == UInt64(capacity),
            storedBootID() == bootID
        else { return nil }
        // Entries fill from the start after a reset; the first without an id ends them
        // (a kill can tear only the last). None without: it wrapped, and entries were
        // overwritten, so only the span since the oldest kept is known.
        let all = entries()
        var departed = Set<UInt64>(minimumCapacity: all.count)
        var oldest = Int64.max
        for (wall, id) in all {
            departed.insert(id)
            oldest = min(oldest, wall)
        }
        return DepartureEvidence(departed: departed, coveredFromMilliseconds: all.count == capacity ? oldest / 1_000_000 : nil)
    }

    /// Empties the record and stamps it with this boot; call after the journal has
    /// recovered what the last process left, before the transport sends anything. Throws
    /// when the disk has no room for it: do not record departures then.
    public func reset(bootID: String, wallNanoseconds: Int64) throws {
        setHeader(UInt64(0), at: 0)  // torn until the magic is back
        // Cutting the file back to a hole empties every entry without touching its pages;
        // its blocks are then allocated, so that a store into the mapping never needs one
        // (on a full disk that would be SIGBUS).
        guard ftruncate(fd, off_t(Self.headerBytes)) == 0, ftruncate(fd, off_t(length)) == 0 else {
            throw DepartureRecordError(path: path, operation: "reset", errno: errno)
        }
        let allocated = posix_fallocate(fd, 0, off_t(length))
        guard allocated == 0 else { throw DepartureRecordError(path: path, operation: "allocate \(length) bytes", errno: allocated) }
        memset(base + 8, 0, Self.bootIDBytes)
        for (i, byte) in bootID.utf8.prefix(Self.bootIDBytes).enumerated() { base.storeBytes(of: byte, toByteOffset: 8 + i, as: UInt8.self) }
        setHeader(UInt64(capacity), at: 48)
        setHeader(wallNanoseconds, at: 56)
        setHeader(Self.magic, at: 0)
        head = 0
    }

    /// The message's request is about to leave. Id 0 (no message: a warm-up) is skipped.
    /// The stamp goes first: an entry torn by a kill has no id and counts as not written.
    @inline(__always)
    public func record(id: UInt64, wallNanoseconds: Int64) {
        guard id != 0 else { return }
        let entry = base + Self.headerBytes + head * Self.entryBytes
        entry.storeBytes(of: wallNanoseconds.littleEndian, as: Int64.self)
        entry.storeBytes(of: id.littleEndian, toByteOffset: 8, as: UInt64.self)
        head += 1
        if head == capacity { head = 0 }
    }

    /// The entries written since the last reset, in the order written unless the record
    /// wrapped: `(wall ns, id)`.
    public func entries() -> [(wallNanoseconds: Int64, id: UInt64)] {
        Self.entries(at: UnsafeRawPointer(base), capacity: capacity)
    }

    /// Reads a record a finished process left, without opening it for writing (the
    /// load-test harness judges departures with it). Nil when there is no file or it is not
    /// a whole record; `coveredFromNanoseconds` is set when it wrapped.
    public static func read(path: String) throws -> DepartureRecordContents? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { raw -> DepartureRecordContents? in
            guard raw.count >= headerBytes, let base = raw.baseAddress,
                UInt64(littleEndian: base.loadUnaligned(as: UInt64.self)) == magic
            else { return nil }
            let capacity = Int(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 48, as: UInt64.self)))
            guard capacity > 0, raw.count == headerBytes + capacity * entryBytes else { return nil }
            let all = entries(at: base, capacity: capacity)
            return DepartureRecordContents(
                entries: all, coveredFromNanoseconds: all.count == capacity ? all.map(\.wallNanoseconds).min() : nil)
        }
    }

    /// Entries fill from the start after a reset; the first without an id ends them.
    private static func entries(at base: UnsafeRawPointer, capacity: Int) -> [(wallNanoseconds: Int64, id: UInt64)] {
        var result: [(Int64, UInt64)] = []
        for i in 0..<capacity {
            let entry = base + headerBytes + i * entryBytes
            let id = UInt64(littleEndian: entry.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if id == 0 { break }
            result.append((Int64(littleEndian: entry.loadUnaligned(as: Int64.self)), id))
        }
        return result
    }

    private func storedBootID() -> String {
        var bytes: [UInt8] = []
        for i in 0..<Self.bootIDBytes {
            let byte = base.load(fromByteOffset: 8 + i, as: UInt8.self)
            if byte == 0 { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func header<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    private func setHeader<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}

/// A departure record as a finished process left it.
public struct DepartureRecordContents: Sendable {
    /// `(wall ns, message id)` in the order written, unless the record wrapped.
    public var entries: [(wallNanoseconds: Int64, id: UInt64)]
    /// The record wrapped: it holds departures from this instant on. Nil: since its reset.
    public var coveredFromNanoseconds: Int64?
}

/// The departure record's file could not be opened or mapped.
public struct DepartureRecordError: Error, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var errno: Int32

    public var description: String {
        "departure record \(path): \(operation) failed: \(String(cString: strerror(errno)))"
    }
}
