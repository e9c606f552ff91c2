import SluiceCrypto
import Testing

@Suite("AES-256-GCM")
struct AES256GCMTests {
    let zeroKey = AES256GCM(key: Array(repeating: 0, count: 32))
    let zeroNonce = [UInt8](repeating: 0, count: 12)

    func seal(_ aead: AES256GCM, _ plaintext: [UInt8], nonce: [UInt8], aad: [UInt8] = [], _ aad2: [UInt8] = []) -> (ciphertext: [UInt8], tag: [UInt8]) {
        var data = plaintext
        var tag = [UInt8](repeating: 0, count: 16)
        data.withUnsafeMutableBytes { d in
            nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    aad2.withUnsafeBytes { b in
                        tag.withUnsafeMutableBytes { t in aead.seal(inPlace: d, nonce: n.baseAddress!, aad: a, b, tag: t.baseAddress!) }
                    }
                }
            }
        }
        return (data, tag)
    }

    func open(_ aead: AES256GCM, _ ciphertext: [UInt8], tag: [UInt8], nonce: [UInt8], aad: [UInt8] = [], _ aad2: [UInt8] = []) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: max(ciphertext.count, 1))
        let ok = ciphertext.withUnsafeBytes { c in
            nonce.withUnsafeBytes { n in
                tag.withUnsafeBytes { t in
                    aad.withUnsafeBytes { a in
                        aad2.withUnsafeBytes { b in
                            out.withUnsafeMutableBytes { o in aead.open(c, nonce: n.baseAddress!, tag: t.baseAddress!, aad: a, b, into: o.baseAddress!) }
                        }
                    }
                }
            }
        }
        return ok ? Array(out.prefix(ciphertext.count)) : nil
    }

    @Test("the GCM specification's AES-256 test cases 13 and 14")
    func knownAnswers() {
        let empty = seal(zeroKey, [], nonce: zeroNonce)
        #expect(Hex.encode(empty.tag) == "530f8afbc74536b9a963b4f1c4cb738b")
        let block = seal(zeroKey, Array(repeating: 0, count: 16), nonce: zeroNonce)
        #expect(Hex.encode(block.ciphertext) == "cea7403d4d606b6e074ec5d3baf39d18")
        #expect(Hex.encode(block.tag) == "d0d1c8a799996bf0265b98b5d48ab919")
    }

    @Test("opens what it sealed; another key, nonce, AAD or an altered byte does not open")
    func authentication() {
        let aead = AES256GCM(key: SecureRandom.bytes(32))
        let nonce = SecureRandom.bytes(12)
        let plaintext = Array("EAAG access token".utf8)
        let (ciphertext, tag) = seal(aead, plaintext, nonce: nonce, aad: Array("senders\0".utf8), Array("1065".utf8))
        #expect(ciphertext != plaintext)
        #expect(open(aead, ciphertext, tag: tag, nonce: nonce, aad: Array("senders\0".utf8), Array("1065".utf8)) == plaintext)
        // The split between the two AAD parts does not matter, their bytes do.
        #expect(open(aead, ciphertext, tag: tag, nonce: nonce, aad: Array("senders\01065".utf8)) == plaintext)
        #expect(open(aead, ciphertext, tag: tag, nonce: nonce, aad: Array("senders\0".utf8), Array("1066".utf8)) == nil)
        #expect(open(AES256GCM(key: SecureRandom.bytes(32)), ciphertext, tag: tag, nonce: nonce, aad: Array("senders\01065".utf8)) == nil)
        var altered = ciphertext
        altered[3] ^= 0x80
        #expect(open(aead, altered, tag: tag, nonce: nonce, aad: Array("senders\01065".utf8)) == nil)
        var otherNonce = nonce
        otherNonce[0] ^= 1
        #expect(open(aead, ciphertext, tag: tag, nonce: otherNonce, aad: Array("senders\01065".utf8)) == nil)
    }

    @Test("contexts are reused across threads")
    func concurrentUse() async {
        let aead = AES256GCM(key: SecureRandom.bytes(32))
        await withTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let nonce = SecureRandom.bytes(12)
                    let plaintext = Array("message \(i)".utf8)
                    let (c, t) = seal(aead, plaintext, nonce: nonce)
                    return open(aead, c, tag: t, nonce: nonce) == plaintext
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
