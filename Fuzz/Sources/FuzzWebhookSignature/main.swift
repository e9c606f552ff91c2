import FuzzSupport
import SluiceCrypto

/// `X-Hub-Signature-256` (`WebhookSignature`) and the constant-time comparison under it.
///
/// Input: a length byte, the app secret (that many bytes, at most 127), a byte choosing
/// where to tamper, then the body.
///
/// Invariants: a header Sluice makes is `sha256=` and 64 lowercase hex digits and verifies;
/// a flipped body byte, a flipped secret bit, another hex digit, a truncated or extended
/// header, or a missing prefix does not; any other header — the body itself read as one —
/// verifies only if it is the signature; `constantTimeEqual` is `==`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let secretBytes = Int(input.byte() % 128)
    var secret: [UInt8] = []
    for _ in 0..<secretBytes { secret.append(input.byte()) }
    let where_ = Int(input.byte())
    let body = input.rest()

    let header = WebhookSignature.header(secret: secret, body: body)
    let hex = Array(header.utf8.dropFirst(WebhookSignature.prefix.count))
    invariant(header.hasPrefix(WebhookSignature.prefix), "no sha256= prefix: \(header)")
    invariant(hex.count == 64 && hex.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }, "not 64 lowercase hex digits: \(header)")
    invariant(WebhookSignature.isValid(header: header, secret: secret, body: body), "a header Sluice made does not verify")

    if !body.isEmpty {
        var tampered = body
        tampered[where_ % body.count] ^= 0x01
        invariant(!WebhookSignature.isValid(header: header, secret: secret, body: tampered), "a flipped body byte verifies")
        // Every prefix of the body but the whole is another body.
        invariant(!WebhookSignature.isValid(header: header, secret: secret, body: body.dropLast()), "a truncated body verifies")
    }
    if !secret.isEmpty {
        var other = secret
        other[where_ % secret.count] ^= 0x80
        invariant(!WebhookSignature.isValid(header: header, secret: other, body: body), "a flipped secret bit verifies")
    }
    var digits = hex
    let at = where_ % digits.count
    digits[at] = digits[at] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
    invariant(!WebhookSignature.isValid(header: WebhookSignature.prefix + String(decoding: digits, as: UTF8.self), secret: secret, body: body), "another hex digit verifies")
    invariant(!WebhookSignature.isValid(header: String(header.dropLast()), secret: secret, body: body), "a truncated header verifies")
    invariant(!WebhookSignature.isValid(header: String(header.dropLast(2)), secret: secret, body: body), "a header one byte short verifies")
    invariant(!WebhookSignature.isValid(header: header + "00", secret: secret, body: body), "an extended header verifies")
    invariant(!WebhookSignature.isValid(header: String(decoding: hex, as: UTF8.self), secret: secret, body: body), "a header without sha256= verifies")
    invariant(!WebhookSignature.isValid(header: "", secret: secret, body: body), "an empty header verifies")

    // Any header at all: only the signature (in either case of hex) verifies.
    let arbitrary = String(decoding: body, as: UTF8.self)
    if WebhookSignature.isValid(header: arbitrary, secret: secret, body: body) {
        invariant(arbitrary.lowercased() == header, "header \(arbitrary.debugDescription) verifies but is not the signature")
    }

    let half = body.count / 2
    let a = body[..<half], b = body[half...]
    invariant(Digest.constantTimeEqual(a, b) == a.elementsEqual(b), "constantTimeEqual differs from ==")
    invariant(Digest.constantTimeEqual(body, body), "constantTimeEqual(x, x) is false")
    return 0
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}
