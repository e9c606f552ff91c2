/// What an API key may do. Scopes are independent: `admin` does not imply `read`.
public enum APIKeyScope: String, CaseIterable, Comparable, Sendable {
    /// Keys, senders and their tiers.
    case admin
    /// Campaign intake.
    case submit
    /// Status: senders and campaigns.
    case read
    /// The media volume's files (`GET /v1/media/{id}`); admin keys may read them too.
    case mediaRead = "media:read"

    /// The scope's bit in a stored scope set. Fixed: the journal keeps these bits.
    public var bit: UInt8 {
        switch self {
        case .admin: 1
        case .submit: 2
        case .read: 4
        case .mediaRead: 8
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.bit < b.bit }

    /// The scopes whose bits are set; nil when an unknown bit is set.
    public static func scopes(bits: UInt8) -> Set<APIKeyScope>? {
        let known = allCases.filter { bits & $0.bit != 0 }
        guard known.reduce(0, { $0 | $1.bit }) == bits else { return nil }
        return Set(known)
    }

    public static func bits(_ scopes: Set<APIKeyScope>) -> UInt8 { scopes.reduce(0) { $0 | $1.bit } }
}

/// An API key as the journal holds it: a public id, a name, scopes, and the SHA-256 of
/// its secret (the secret itself is shown once, at creation, and never stored).
public struct APIKeyRecord: Sendable, Equatable {
    /// Public id, e.g. `key_3f9a0c1b7d2e4a65`; part of the bearer token.
    public var id: String
    /// A label for people, e.g. "billing-service".
    public var name: String
    public var scopes: Set<APIKeyScope>
    /// SHA-256 of the secret.
    public var secretDigest: [UInt8]
    public var createdMilliseconds: Int64
    /// When the key was revoked (wall-clock ms); nil while it is valid.
    public var revokedMilliseconds: Int64?

    public init(id: String, name: String, scopes: Set<APIKeyScope>, secretDigest: [UInt8], createdMilliseconds: Int64, revokedMilliseconds: Int64? = nil) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.secretDigest = secretDigest
        self.createdMilliseconds = createdMilliseconds
        self.revokedMilliseconds = revokedMilliseconds
    }
}
