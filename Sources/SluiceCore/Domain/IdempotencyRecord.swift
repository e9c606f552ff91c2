/// The first answer to a request that carried an `Idempotency-Key`, kept so that a retry
/// of the same request gets the same answer and changes nothing.
///
/// Keys are scoped by `scope` (the API key id that sent the request, `admin` for the
/// bootstrap key, `node:<id>` for a cluster node's handovers) and expire
/// `IdempotencyRecord.lifetimeMilliseconds(scope:)` after the first request.
public struct IdempotencyRecord: Sendable, Equatable {
    /// 24 hours.
    public static let lifetimeMilliseconds: Int64 = 24 * 3_600 * 1_000
    /// Another node of a cluster handing messages over (scope `node:<id>`): 30 days, so a
    /// node that stopped between the holder's answer and recording it, and comes back
    /// days later, still gets the first answer instead of a second copy of its batch.
    public static let handoverLifetimeMilliseconds: Int64 = 30 * 24 * 3_600 * 1_000
    /// The scope of a node's handovers starts so.
    public static let nodeScopePrefix = "node:"

    /// How long a record of `scope` answers.
    public static func lifetimeMilliseconds(scope: String) -> Int64 {
        scope.hasPrefix(nodeScopePrefix) ? handoverLifetimeMilliseconds : lifetimeMilliseconds
    }
    /// Longest `Idempotency-Key` value.
    public static let keyBytesMax = 255
    /// Longest scope (an API key id).
    public static let scopeBytesMax = 200
    /// Longest stored answer body.
    public static let answerBytesMax = 1 << 20

    public var scope: String
    public var key: String
    public var createdMilliseconds: Int64
    /// SHA-256 of what identifies the request (its format, parameters and body).
    public var requestDigest: [UInt8]
    public var status: Int
    public var body: [UInt8]

    public init(scope: String, key: String, createdMilliseconds: Int64, requestDigest: [UInt8], status: Int, body: [UInt8]) {
        self.scope = scope
        self.key = key
        self.createdMilliseconds = createdMilliseconds
        self.requestDigest = requestDigest
        self.status = status
        self.body = body
    }

    /// Whether the record still answers at `nowMilliseconds`.
    public func isLive(nowMilliseconds: Int64) -> Bool { nowMilliseconds - createdMilliseconds < Self.lifetimeMilliseconds(scope: scope) }
}
