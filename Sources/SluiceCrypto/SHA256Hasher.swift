import COpenSSL

/// SHA-256 over data that arrives in pieces (a streamed request body), through libcrypto's
/// EVP interface.
///
///     let hasher = SHA256Hasher()
///     for chunk in chunks { hasher.update(chunk) }
///     let digest = hasher.finish()   // 32 bytes
public final class SHA256Hasher {
    private let context: OpaquePointer
    private var finished = false

    public init() {
        guard let context = EVP_MD_CTX_new() else { preconditionFailure("EVP_MD_CTX_new failed: out of memory") }
        precondition(EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1, "EVP_DigestInit_ex(SHA-256) failed in libcrypto")
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "SHA256Hasher.update after finish")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(EVP_DigestUpdate(context, base, bytes.count) == 1, "EVP_DigestUpdate failed in libcrypto")
    }

    public func update(_ bytes: some Collection<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// The digest; the hasher takes no more input.
    public func finish() -> [UInt8] {
        precondition(!finished, "SHA256Hasher.finish twice")
        finished = true
        var out = [UInt8](repeating: 0, count: Digest.sha256ByteCount)
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { o in
            precondition(EVP_DigestFinal_ex(context, o.baseAddress, &length) == 1 && length == UInt32(Digest.sha256ByteCount), "EVP_DigestFinal_ex failed in libcrypto")
        }
        return out
    }
}
