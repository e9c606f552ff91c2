#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

/// Keeps the mock's certificate in `<directory>/mock-cert.pem` and `mock-key.pem` so that a
/// dispatcher in another process can trust it and restarts keep the same CA.
struct CertificateStore: Sendable {
    static let certificateFileName = "mock-cert.pem"
    static let privateKeyFileName = "mock-key.pem"

    let directory: String

    var certificatePath: String { directory + "/" + Self.certificateFileName }
    var privateKeyPath: String { directory + "/" + Self.privateKeyFileName }

    /// The stored pair if it is still valid, else a new one written to disk.
    func loadOrCreate(now: Date = Date(), logger: Logger) throws -> SelfSignedCertificate {
        if let stored = load(), stored.isReusable(now: now) {
            logger.debug("reusing mock certificate", metadata: ["path": "\(certificatePath)"])
            return stored
        }
        let fresh = try SelfSignedCertificate.generate(now: now)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Key first: a reader that sees the new certificate also finds its key.
        try Self.writeAtomically(fresh.privateKeyPEM, to: privateKeyPath, mode: 0o600)
        try Self.writeAtomically(fresh.certificatePEM, to: certificatePath, mode: 0o644)
        logger.info("generated mock certificate", metadata: ["path": "\(certificatePath)"])
        return fresh
    }

    func load() -> SelfSignedCertificate? {
        guard let certificate = try? String(contentsOfFile: certificatePath, encoding: .utf8),
            let key = try? String(contentsOfFile: privateKeyPath, encoding: .utf8)
        else { return nil }
        return SelfSignedCertificate(certificatePEM: certificate, privateKeyPEM: key)
    }

    /// Writes to a temporary file created with `mode`, then renames it over `path`,
    /// so the key is never readable by others and readers never see half a file.
    private static func writeAtomically(_ text: String, to path: String, mode: mode_t) throws(MockError) {
        let temporaryPath = path + ".tmp-\(getpid())"
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .certificateFileUnavailable(path: temporaryPath, errno: errno) }
        let bytes = Array(text.utf8)
        var offset = 0
        var failure: Int32 = 0
        // fchmod: O_CREAT's mode is filtered by umask and ignored for an existing file.
        if fchmod(fd, mode) != 0 { failure = errno }
        while failure == 0 && offset < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if result < 0 {
                if errno != EINTR { failure = errno }
            } else {
                offset += result
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0 && rename(temporaryPath, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporaryPath)
            throw .certificateFileUnavailable(path: path, errno: failure)
        }
    }
}
