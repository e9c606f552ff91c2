@testable import SluiceCore

/// A seeded generator (SplitMix64) so that every simulated run is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let nanosecondsPerSecond: Int64 = 1_000_000_000

/// The largest number of instants in any half-open window `[t, t + width)`.
/// `instants` must be sorted (duplicates allowed). Two pointers: for each right end,
/// the left end moves past every instant at least `width` earlier.
func maxWindowCount(_ instants: [Int64], width: Int64 = nanosecondsPerSecond) -> Int {
    var best = 0
    var left = 0
    for right in instants.indices {
        precondition(right == 0 || instants[right - 1] <= instants[right], "instants must be sorted")
        while instants[right] - instants[left] >= width { left += 1 }
        best = max(best, right - left + 1)
    }
    return best
}

/// How late a simulated dispatcher loop wakes: mostly a little, sometimes a lot.
struct WakeModel {
    var rng: SplitMix64
    /// Chance per wake of a late jump of `lateJumpNanoseconds`.
    var lateJumpPerMille: UInt64 = 2
    var lateJumpNanoseconds: ClosedRange<Int64> = 2_000_000...8_000_000
    /// Chance per wake of waking early (before the pacer's next eligible instant).
    var earlyPerMille: UInt64 = 50

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// The instant of the next wake after `now`, given the earliest useful one.
    mutating func nextWake(now: Int64, eligible: Int64) -> Int64 {
        let target = max(now + 1, eligible)
        let roll = rng.next() % 1000
        if roll < earlyPerMille && eligible > now + 1 {
            return now + 1 + Int64.random(in: 0..<(eligible - now - 1), using: &rng)
        }
        if roll >= 1000 - lateJumpPerMille {
            return target + Int64.random(in: lateJumpNanoseconds, using: &rng)
        }
        // Usual lateness: up to 200 µs, one wake in ten up to 1 ms.
        let usualMax: Int64 = roll % 10 == 0 ? 1_000_000 : 200_000
        return target + Int64.random(in: 0...usualMax, using: &rng)
    }
}

func message(_ id: UInt64, campaign: UInt64, sender: UInt32) -> MessageRecord {
    MessageRecord(id: MessageID(id), campaign: CampaignID(campaign), sender: SenderID(sender), to: "4915112345678", params: ["p\(id)"])
}
