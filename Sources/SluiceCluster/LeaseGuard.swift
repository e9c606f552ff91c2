import SluiceCore

/// Until when this node may act for what its etcd lease holds. etcd counts a lease's TTL
/// from when it receives a renewal, which is after this node sent it: measured from the
/// send, and less a margin longer than any request to WhatsApp may take, the node has
/// stopped sending and its last request has ended before the lease can lapse and another
/// node take the number.
public struct LeaseGuard: Sendable, Equatable {
    public let marginNanoseconds: Int64
    /// Sending must stop at this instant unless renewed; `.zero`: not alive.
    public private(set) var validUntil: Instant = .zero

    public init(marginMilliseconds: Int64) {
        marginNanoseconds = marginMilliseconds * 1_000_000
    }

    /// A renewal (or the grant) sent at `sentAt` was answered with `ttlSeconds` left; 0
    /// or less: the lease is gone.
    public mutating func renewed(sentAt: Instant, ttlSeconds: Int) {
        guard ttlSeconds > 0 else { return lost() }
        validUntil = max(validUntil, sentAt + (Int64(ttlSeconds) * 1_000_000_000 - marginNanoseconds))
    }

    public mutating func lost() { validUntil = .zero }

    public func isAlive(at now: Instant) -> Bool { now < validUntil }
}
