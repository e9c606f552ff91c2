/// Which node should send for each number: rendezvous hashing (each number ranks the nodes
/// by a hash of both; it goes to the first that has room), weighted by tier so that the
/// nodes carry about the same message rate. The same inputs give the same answer on every
/// node, and a node joining or leaving moves few numbers: only those whose first choice it
/// is, or that overflowed.
public enum Placement {
    public struct Number: Sendable, Equatable {
        public var phoneNumberID: String
        public var tierMessagesPerSecond: Double
        /// The nodes that may send for it (those that have it registered).
        public var candidates: [String]

        public init(phoneNumberID: String, tierMessagesPerSecond: Double, candidates: [String]) {
            self.phoneNumberID = phoneNumberID
            self.tierMessagesPerSecond = tierMessagesPerSecond
            self.candidates = candidates
        }
    }

    /// phone_number_id → node. A node's share is capped at the fair share of the tiers
    /// plus the largest tier, so no node takes much more than its part; a number whose
    /// candidates are all full goes to its first choice.
    public static func assign(_ numbers: [Number]) -> [String: String] {
        let nodes = Set(numbers.flatMap(\.candidates))
        guard !nodes.isEmpty else { return [:] }
        let total = numbers.reduce(0) { $0 + $1.tierMessagesPerSecond }
        let largest = numbers.map(\.tierMessagesPerSecond).max() ?? 0
        let capacity = total / Double(nodes.count) + largest
        var load: [String: Double] = [:]
        var out: [String: String] = [:]
        // Largest tiers first, then by id: every node walks the same order.
        let ordered = numbers.sorted { ($0.tierMessagesPerSecond, $1.phoneNumberID) > ($1.tierMessagesPerSecond, $0.phoneNumberID) }
        for number in ordered where !number.candidates.isEmpty {
            let ranked = number.candidates.map { ($0, score(number.phoneNumberID, $0)) }
                .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
                .map(\.0)
            let node = ranked.first { load[$0, default: 0] + number.tierMessagesPerSecond <= capacity } ?? ranked[0]
            load[node, default: 0] += number.tierMessagesPerSecond
            out[number.phoneNumberID] = node
        }
        return out
    }

    /// FNV-1a of the pair, then a 64-bit mix: stable across processes and builds (Swift's
    /// `Hasher` is seeded per process).
    static func score(_ number: String, _ node: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in number.utf8 {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        h = (h ^ 0xff) &* 0x0000_0100_0000_01b3
        for byte in node.utf8 {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        // splitmix64's finalizer: neighbouring ids spread.
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }
}
