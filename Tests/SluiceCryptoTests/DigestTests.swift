import Testing
@testable import SluiceCrypto

@Suite struct DigestTests {
    @Test func sha256MatchesKnownVectors() {
        // FIPS 180-2 test vectors.
        #expect(Hex.encode(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.encode(Digest.sha256([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func hmacMatchesRFC4231() {
        // RFC 4231 test case 2.
        let mac = Digest.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func constantTimeEqualComparesContentAndLength() {
        #expect(Digest.constantTimeEqual([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!Digest.constantTimeEqual([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        #expect(!Digest.constantTimeEqual([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
    }

    @Test func hexRoundTripsAndRejectsGarbage() {
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xff]
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        #expect(Hex.decode("ABcd") == [0xab, 0xcd])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func webhookSignatureVerifiesOnlyTheSignedBody() {
        let secret = Array("app-secret".utf8)
        let body = Array(#"{"entry":[]}"#.utf8)
        let header = WebhookSignature.header(secret: secret, body: body)
        #expect(header.hasPrefix("sha256="))
        #expect(WebhookSignature.isValid(header: header, secret: secret, body: body))
        #expect(!WebhookSignature.isValid(header: header, secret: Array("other".utf8), body: body))
        #expect(!WebhookSignature.isValid(header: header, secret: secret, body: body + [0x20]))
        #expect(!WebhookSignature.isValid(header: "sha1=" + header.dropFirst(7), secret: secret, body: body))
    }

    @Test func randomTokensAreDistinctAndSized() {
        let a = SecureRandom.hexToken(byteCount: 32)
        let b = SecureRandom.hexToken(byteCount: 32)
        #expect(a.count == 64)
        #expect(a != b)
    }
}
