import COpenSSL

/// SHA-256 and HMAC-SHA256 through OpenSSL's libcrypto: webhook and subscriber
/// signatures, and hashing of API keys so that none is stored in the clear.
public enum Digest {
    public static let sha256ByteCount = 32

    public static func sha256(_ data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: sha256ByteCount)
        withContiguousBytes(data) { input in
            out.withUnsafeMutableBufferPointer { o in
                _ = SHA256(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, o.baseAddress)
            }
        }
        return out
    }

    public static func hmacSHA256(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: sha256ByteCount)
        var length: UInt32 = 0
        withContiguousBytes(key) { k in
            withContiguousBytes(message) { m in
                out.withUnsafeMutableBufferPointer { o in
                    let result = HMAC(
                        EVP_sha256(), k.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(k.count),
                        m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count, o.baseAddress, &length)
                    precondition(result != nil && length == UInt32(sha256ByteCount), "HMAC-SHA256 failed in libcrypto")
                }
            }
        }
        return out
    }

    /// Compares in time that depends only on the lengths, never on where the bytes differ.
    public static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return withContiguousBytes(a) { x in
            withContiguousBytes(b) { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0 }
        }
    }

    private static func withContiguousBytes<R>(_ data: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let r = data.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return r }
        return Array(data).withUnsafeBytes(body)
    }
}
