/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, as WhatsApp signs
/// status webhooks (and as Sluice signs what it forwards to subscribers).
public enum WebhookSignature {
    public static let prefix = "sha256="

    public static func header(secret: some Collection<UInt8>, body: some Collection<UInt8>) -> String {
        prefix + Hex.encode(Digest.hmacSHA256(key: secret, message: body))
    }

    /// Constant-time check of a received header against the body.
    public static func isValid(header: String, secret: some Collection<UInt8>, body: some Collection<UInt8>) -> Bool {
        guard header.hasPrefix(prefix), let received = Hex.decode(header.dropFirst(prefix.count)) else { return false }
        return Digest.constantTimeEqual(received, Digest.hmacSHA256(key: secret, message: body))
    }
}
