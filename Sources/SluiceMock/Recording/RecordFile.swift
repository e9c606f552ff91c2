#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceCore

/// An append-only file descriptor; the lock serialises writers so lines never interleave.
final class RecordFile: Sendable {
    let path: String
    /// `-1` once closed.
    private let descriptor: Locked<Int32>

    init(path: String) throws(MockError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .recordFileUnavailable(path: path, errno: errno) }
        self.path = path
        self.descriptor = Locked(fd)
    }

    deinit {
        let fd = descriptor.withLock { $0 }
        if fd >= 0 { systemClose(fd) }
    }

    /// Runs `produce` under the file lock and writes what it returns; returns false on a write error.
    ///
    /// Taking the bytes inside the lock keeps concurrent flushes in arrival order.
    func write(_ produce: () -> [UInt8]) -> Bool {
        descriptor.withLock { fd in
            // A flush racing with close finds nothing to do (and must not take the bytes).
            guard fd >= 0 else { return true }
            let bytes = produce()
            return bytes.isEmpty || Self.writeAll(fd: fd, bytes: bytes)
        }
    }

    /// Writes `finalBytes`, then closes; later writes are ignored.
    func close(finalBytes: [UInt8]) -> Bool {
        descriptor.withLock { fd in
            guard fd >= 0 else { return false }
            let written = finalBytes.isEmpty || Self.writeAll(fd: fd, bytes: finalBytes)
            systemClose(fd)
            fd = -1
            return written
        }
    }

    private static func writeAll(fd: Int32, bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let result = systemWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if result < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += result
            }
            return true
        }
    }
}

// The methods above shadow the libc names inside the class.
private func systemClose(_ fd: Int32) {
    _ = close(fd)
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
