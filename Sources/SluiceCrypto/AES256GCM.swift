import COpenSSL
import SluiceCore

/// AES-256-GCM through libcrypto's EVP interface, for records at rest. One key per value;
/// cipher contexts (with the expanded key) are pooled and reused, so sealing or opening a
/// record costs no allocation and no key setup. Safe from any thread.
///
///     let aead = AES256GCM(key: key)             // 32 bytes
///     aead.seal(inPlace: buffer, nonce: n, aad: a, b, tag: t)
///     guard aead.open(ciphertext, nonce: n, tag: t, aad: a, b, into: out) else { /* altered or another key */ }
public final class AES256GCM: Sendable {
    public static let keyByteCount = 32
    public static let nonceByteCount = 12
    public static let tagByteCount = 16
    /// Contexts kept for reuse; more threads at once get fresh ones, freed after use.
    private static let pooledMax = 16

    private let key: [UInt8]
    private let pool = Locked<[Contexts]>([])

    public init(key: [UInt8]) {
        precondition(key.count == Self.keyByteCount, "AES-256 takes a \(Self.keyByteCount)-byte key, got \(key.count)")
        self.key = key
    }

    /// Encrypts `data` in place under `nonce` (12 bytes), authenticating it with the
    /// associated data `aad` followed by `aad2`, and writes the 16-byte tag at `tag`.
    public func seal(
        inPlace data: UnsafeMutableRawBufferPointer, nonce: UnsafeRawPointer,
        aad: UnsafeRawBufferPointer, _ aad2: UnsafeRawBufferPointer, tag: UnsafeMutableRawPointer
    ) {
        withContexts { c in
            let ctx = c.encrypt
            var n: Int32 = 0
            precondition(EVP_EncryptInit_ex(ctx, nil, nil, nil, nonce.assumingMemoryBound(to: UInt8.self)) == 1, "EVP_EncryptInit_ex(nonce) failed")
            // Two parts rather than an array of them: no allocation per record.
            precondition(Self.authenticate(ctx, aad, encrypting: true) && Self.authenticate(ctx, aad2, encrypting: true), "GCM AAD failed")
            if let base = data.baseAddress, data.count > 0 {
                let bytes = base.assumingMemoryBound(to: UInt8.self)
                precondition(EVP_EncryptUpdate(ctx, bytes, &n, bytes, Int32(data.count)) == 1 && Int(n) == data.count, "GCM encryption failed")
            }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.tagByteCount) { rest in
                precondition(EVP_EncryptFinal_ex(ctx, rest.baseAddress, &n) == 1 && n == 0, "GCM final failed")
            }
            precondition(sluice_gcm_get_tag(ctx, tag.assumingMemoryBound(to: UInt8.self), Int32(Self.tagByteCount)) == 1, "GCM tag failed")
        }
    }

    /// Decrypts `ciphertext` into `out` (as many bytes) and checks the tag. False when the
    /// tag does not match — another key, or altered bytes: `out` then holds garbage.
    public func open(
        _ ciphertext: UnsafeRawBufferPointer, nonce: UnsafeRawPointer, tag: UnsafeRawPointer,
        aad: UnsafeRawBufferPointer, _ aad2: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer
    ) -> Bool {
        withContexts { c in
            let ctx = c.decrypt
            var n: Int32 = 0
            guard EVP_DecryptInit_ex(ctx, nil, nil, nil, nonce.assumingMemoryBound(to: UInt8.self)) == 1 else { return false }
            guard Self.authenticate(ctx, aad, encrypting: false), Self.authenticate(ctx, aad2, encrypting: false) else { return false }
            if let source = ciphertext.baseAddress, ciphertext.count > 0 {
                guard EVP_DecryptUpdate(
                    ctx, out.assumingMemoryBound(to: UInt8.self), &n, source.assumingMemoryBound(to: UInt8.self), Int32(ciphertext.count)
                ) == 1, Int(n) == ciphertext.count else { return false }
            }
            guard sluice_gcm_set_tag(ctx, tag.assumingMemoryBound(to: UInt8.self), Int32(Self.tagByteCount)) == 1 else { return false }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.tagByteCount) { rest in
                EVP_DecryptFinal_ex(ctx, rest.baseAddress, &n) == 1
            }
        }
    }

    /// Feeds associated data (nothing for an empty part).
    private static func authenticate(_ ctx: OpaquePointer, _ part: UnsafeRawBufferPointer, encrypting: Bool) -> Bool {
        guard let base = part.baseAddress, part.count > 0 else { return true }
        var n: Int32 = 0
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let ok = encrypting ? EVP_EncryptUpdate(ctx, nil, &n, bytes, Int32(part.count)) : EVP_DecryptUpdate(ctx, nil, &n, bytes, Int32(part.count))
        return ok == 1
    }

    private func withContexts<R>(_ body: (Contexts) -> R) -> R {
        let contexts = pool.withLock { $0.popLast() } ?? Contexts(key: key)
        let result = body(contexts)
        pool.withLock { if $0.count < Self.pooledMax { $0.append(contexts) } }
        return result
    }

    /// An encryption and a decryption context, keyed once. Used by one thread at a time
    /// (taken from the pool, then returned).
    private final class Contexts: @unchecked Sendable {
        let encrypt: OpaquePointer
        let decrypt: OpaquePointer

        init(key: [UInt8]) {
            guard let e = EVP_CIPHER_CTX_new(), let d = EVP_CIPHER_CTX_new() else { preconditionFailure("EVP_CIPHER_CTX_new failed: out of memory") }
            key.withUnsafeBufferPointer { k in
                precondition(EVP_EncryptInit_ex(e, EVP_aes_256_gcm(), nil, k.baseAddress, nil) == 1, "EVP_EncryptInit_ex(AES-256-GCM) failed")
                precondition(EVP_DecryptInit_ex(d, EVP_aes_256_gcm(), nil, k.baseAddress, nil) == 1, "EVP_DecryptInit_ex(AES-256-GCM) failed")
            }
            encrypt = e
            decrypt = d
        }

        deinit {
            EVP_CIPHER_CTX_free(encrypt)
            EVP_CIPHER_CTX_free(decrypt)
        }
    }
}
