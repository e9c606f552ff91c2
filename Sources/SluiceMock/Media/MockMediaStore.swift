import Glibc
import SluiceCore
import SluiceCrypto

/// Media the mock holds as Meta would: uploaded by a number (`POST /{phone-number-id}/media`)
/// or sent by a simulated customer, described by `GET /{media-id}` to a token of the
/// number that owns it, and downloaded from a url that needs the same token and expires
/// after `urlLifetimeNanoseconds` (Meta's: about five minutes).
public final class MockMediaStore: Sendable {
    public struct Item: Sendable {
        public var id: String
        /// The number it belongs to.
        public var phoneNumberID: String
        public var mimeType: String
        public var bytes: [UInt8]
        /// Lowercase hex.
        public var sha256: String
        /// Wall-clock ns it was stored at: an upload's id may be sent until
        /// `uploadLifetimeNanoseconds` after.
        public var storedNanoseconds: Int64
    }

    /// Held bytes past which uploads are refused (the mock lives in memory).
    public static let bytesMax = 512 << 20
    public static let urlLifetimeNanoseconds: Int64 = 300_000_000_000

    private struct State {
        var items: [String: Item] = [:]
        var bytes = 0
        var next: UInt64 = 0
    }

    private let state = Locked(State())
    /// Signs download urls, so that a url cannot be made up or extended.
    private let urlKey: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }

    /// How long a number may send an uploaded id (Meta's: 30 days).
    public let uploadLifetimeNanoseconds: Int64

    public init(uploadLifetimeNanoseconds: Int64 = 30 * 86_400 * 1_000_000_000) {
        self.uploadLifetimeNanoseconds = uploadLifetimeNanoseconds
    }

    /// Whether `phoneNumberID` may send the media `id`: its own, and not past its lifetime.
    public func isSendable(_ id: String, phoneNumberID: String, nowNanoseconds: Int64) -> Bool {
        guard let item = item(id) else { return false }
        return item.phoneNumberID == phoneNumberID && nowNanoseconds - item.storedNanoseconds < uploadLifetimeNanoseconds
    }

    /// Uploads per number, for the inspection API.
    public func uploads(phoneNumberID: String) -> [Item] {
        state.withLock { $0.items.values.filter { $0.phoneNumberID == phoneNumberID }.sorted { $0.id < $1.id } }
    }

    /// Stores `bytes` for `phoneNumberID`; nil when the store is full.
    public func put(phoneNumberID: String, mimeType: String, bytes: [UInt8]) -> Item? {
        state.withLock { s in
            guard s.bytes + bytes.count <= Self.bytesMax else { return nil }
            s.next += 1
            // 16 digits like Meta's, from a range phone number ids in tests do not use.
            let id = String(7_700_000_000_000_000 + s.next)
            let item = Item(
                id: id, phoneNumberID: phoneNumberID, mimeType: mimeType, bytes: bytes,
                sha256: Hex.encode(Digest.sha256(bytes)), storedNanoseconds: Self.wallNanoseconds())
            s.items[id] = item
            s.bytes += bytes.count
            return item
        }
    }

    public func item(_ id: String) -> Item? { state.withLock { $0.items[id] } }

    public var count: Int { state.withLock { $0.items.count } }

    static func wallNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The signature of a download url for `id` valid until `expires` (wall-clock ns).
    func signature(_ id: String, expires: Int64) -> String {
        Hex.encode(Digest.hmacSHA256(key: urlKey, message: Array("\(id)|\(expires)".utf8)))
    }

    func isValid(_ id: String, expires: Int64, signature given: String, now: Int64) -> Bool {
        guard now <= expires else { return false }
        return Digest.constantTimeEqual(Array(signature(id, expires: expires).utf8), Array(given.utf8))
    }
}
