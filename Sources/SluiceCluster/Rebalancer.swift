import SluiceCore

/// Moves a number this node holds to the node placement prefers — a node that joined, or
/// came back — without two nodes ever sending for it: this node stops sending first, lets
/// what is on the wire end (`drainMilliseconds`, longer than a request may take), and only
/// then releases the owner key, which the preferred node then claims. The unsent backlog
/// follows through the handover.
///
/// So that nodes coming and going do not toss numbers about, a number moves only after
/// this node has held it `holdMilliseconds` and placement has named the other node
/// `stableRounds` rounds in a row; if placement changes its mind during the drain, this
/// node sends again.
struct Rebalancer: Sendable {
    var holdMilliseconds: Int64 = 20_000
    var stableRounds = 5
    var drainMilliseconds: Int64

    private(set) var heldSince: [String: Instant] = [:]
    private(set) var misplacedRounds: [String: Int] = [:]
    /// Numbers being given up → when their sending stopped.
    private(set) var releasing: [String: Instant] = [:]

    init(drainMilliseconds: Int64) {
        self.drainMilliseconds = drainMilliseconds
    }

    /// One round. `held`: the numbers this node's lease holds; `preferred`: placement's
    /// choice for each number. Returns the numbers not to send for (draining) and those
    /// whose key to release now.
    mutating func round(held: Set<String>, preferred: [String: String], me: String, now: Instant) -> (draining: Set<String>, release: [String]) {
        for phone in heldSince.keys where !held.contains(phone) {
            heldSince[phone] = nil
            misplacedRounds[phone] = nil
            releasing[phone] = nil
        }
        var release: [String] = []
        for phone in held.sorted() {
            let since = heldSince[phone] ?? now
            heldSince[phone] = since
            guard let want = preferred[phone], want != me else {
                misplacedRounds[phone] = nil
                releasing[phone] = nil
                continue
            }
            let rounds = misplacedRounds[phone, default: 0] + 1
            misplacedRounds[phone] = rounds
            if releasing[phone] == nil, rounds >= stableRounds, now.nanoseconds - since.nanoseconds >= holdMilliseconds * 1_000_000 {
                releasing[phone] = now
            }
            if let stopped = releasing[phone], now.nanoseconds - stopped.nanoseconds >= drainMilliseconds * 1_000_000 {
                release.append(phone)
            }
        }
        return (Set(releasing.keys), release)
    }
}
