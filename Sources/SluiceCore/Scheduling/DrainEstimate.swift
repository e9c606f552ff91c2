/// How long a campaign takes to send what it has left, from how a sender serves its
/// campaigns: every `transactional` message before any `marketing` one, and campaigns of
/// one priority round robin, one message each per turn.
///
/// While campaign `c` (with `m` left) sends, the sender also sends everything left of the
/// higher-priority campaigns and, of each other campaign of `c`'s priority, as many as
/// `c` (or fewer when it has fewer): `(ahead + m + Σ min(rᵢ, m)) / rate` seconds.
public enum DrainEstimate {
    public struct Campaign: Sendable, Equatable {
        public var unsent: UInt64
        public var priority: CampaignPriority
        public init(unsent: UInt64, priority: CampaignPriority) {
            self.unsent = unsent
            self.priority = priority
        }
    }

    /// Messages the sender sends until `campaign` has nothing left, itself included.
    public static func messagesUntilDrained(_ campaign: Campaign, others: [Campaign]) -> UInt64 {
        var total = campaign.unsent
        for other in others {
            if other.priority.rawValue < campaign.priority.rawValue {
                total += other.unsent
            } else if other.priority == campaign.priority {
                total += min(other.unsent, campaign.unsent)
            }
        }
        return total
    }

    /// Seconds until `campaign` has nothing left at `messagesPerSecond`; nil when the
    /// rate is not positive.
    public static func seconds(_ campaign: Campaign, others: [Campaign], messagesPerSecond rate: Double) -> Double? {
        guard rate > 0, rate.isFinite else { return nil }
        return Double(messagesUntilDrained(campaign, others: others)) / rate
    }
}
