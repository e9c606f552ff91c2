import SluiceCore

/// Warm start: how many connections each sender should find open before its first
/// message, so that a campaign's first second runs at tier instead of waiting for
/// TCP and TLS handshakes (a round trip or more each to a distant endpoint).
///
/// A sender needs as many connections as its in-flight bound fills (100 requests a
/// connection over HTTP/2, one over HTTP/1.1). Connections are opened for a sender when
/// it is installed (at start, when registered) and when its bound grows (a tier rise),
/// only for the growth, and never beyond the transport's connection cap in total.
///
/// ```swift
/// var warmth = ConnectionWarmth(requestsPerConnection: 100, connectionsMax: 256)
/// warmth.toOpen(sender: id, inFlightLimit: 1_500)   // 15: open them now
/// warmth.toOpen(sender: id, inFlightLimit: 1_500)   // 0: already open
/// ```
struct ConnectionWarmth {
    let requestsPerConnection: Int
    let connectionsMax: Int
    /// Connections opened ahead per sender.
    private(set) var opened: [SenderID: Int] = [:]
    private(set) var total = 0

    init(requestsPerConnection: Int, connectionsMax: Int) {
        precondition(requestsPerConnection > 0 && connectionsMax >= 0, "requestsPerConnection > 0, connectionsMax ≥ 0")
        self.requestsPerConnection = requestsPerConnection
        self.connectionsMax = connectionsMax
    }

    /// Connections to open now for `sender`, whose in-flight bound is `inFlightLimit`;
    /// counted as opened.
    mutating func toOpen(sender: SenderID, inFlightLimit: Int) -> Int {
        let wanted = (max(0, inFlightLimit) + requestsPerConnection - 1) / requestsPerConnection
        let have = opened[sender] ?? 0
        let count = max(0, min(wanted - have, connectionsMax - total))
        guard count > 0 else { return 0 }
        opened[sender] = have + count
        total += count
        return count
    }

    /// A deleted sender: its connections stay in the pool for the others, and count no more.
    mutating func forget(_ sender: SenderID) {
        total -= opened.removeValue(forKey: sender) ?? 0
    }
}
