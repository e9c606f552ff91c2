import Crypto
import Foundation
import X509

/// A self-signed P-256 certificate that is its own CA, so clients trust it with
/// `--cacert mock-cert.pem` / `CURLOPT_CAINFO` and still verify the host name.
struct SelfSignedCertificate: Sendable {
    /// How long a new certificate is valid.
    static let validitySeconds: TimeInterval = 30 * 24 * 3600
    /// Back-dating of `notValidBefore`, tolerating clock skew between processes.
    static let backdateSeconds: TimeInterval = 3600
    /// A stored certificate closer than this to expiry is replaced instead of reused.
    static let reuseRemainingSecondsMin: TimeInterval = 24 * 3600

    static let dnsNames = ["localhost"]
    static let ipAddresses: [[UInt8]] = [
        [127, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ]

    let certificatePEM: String
    let privateKeyPEM: String

    /// Generates a new key and certificate valid from `now - 1 h` for 30 days.
    static func generate(now: Date = Date()) throws -> SelfSignedCertificate {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let name = try DistinguishedName {
            OrganizationName("Sluice")
            CommonName("Sluice WhatsApp mock")
        }
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        // `.init(contentBytes:)` is ASN1OctetString's, reached through X509 without importing SwiftASN1.
        names += ipAddresses.map { .ipAddress(.init(contentBytes: $0[...])) }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            SubjectAlternativeNames(names)
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now - backdateSeconds,
            notValidAfter: now + validitySeconds,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return SelfSignedCertificate(
            certificatePEM: try certificate.serializeAsPEM().pemString + "\n",
            privateKeyPEM: key.pemRepresentation + "\n"
        )
    }

    /// True when the pair parses, the key matches the certificate, and it stays valid long enough.
    func isReusable(now: Date = Date()) -> Bool {
        guard let certificate = try? Certificate(pemEncoded: certificatePEM),
            let key = try? P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        else { return false }
        return certificate.publicKey == Certificate.PublicKey(key.publicKey)
            && certificate.notValidBefore <= now
            && certificate.notValidAfter > now + Self.reuseRemainingSecondsMin
    }
}
