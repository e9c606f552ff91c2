import SluiceCore
import SluiceJournal

/// What one retention pass removed.
public struct RetentionStep: Sendable, Equatable {
    public var campaigns: [CampaignID] = []
    public var messages = 0
    /// Campaigns that stopped being finished between the scan and their removal (a
    /// status event arrived for a subscriber): kept, looked at again next pass.
    public var skipped = 0
}

extension Dispatcher {
    /// Messages deleted per journal commit by retention.
    static let retentionRemoveMax = 5_000

    /// One retention pass: removes every finished campaign whose last change is older than
    /// `retentionMilliseconds`, with its messages, a bounded number per commit (a crash
    /// halfway leaves a campaign that the next pass finishes removing). Does nothing when
    /// the period is 0. Call from one task at a time.
    @discardableResult
    public func sweepRetention() async throws -> RetentionStep {
        var step = RetentionStep()
        let period = configuration.retentionMilliseconds
        guard period > 0 else { return step }
        let cutoff = clock.wallMilliseconds() - period
        for candidate in try journal.retentionCandidates(cutoffMilliseconds: cutoff) {
            var from = candidate.firstMessage ?? MessageID(0)
            while true {
                let mutation = JournalMutation.removeCampaign(candidate.campaign, messagesFrom: from, max: Self.retentionRemoveMax)
                let outcome = await withCheckedContinuation { (done: CheckedContinuation<Result<JournalReceipt, JournalError>, Never>) in
                    journal.apply([mutation]) { done.resume(returning: $0) }
                }
                if case .failure(let error) = outcome, case .campaignState = error {
                    step.skipped += 1
                    break
                }
                let receipt = try outcome.get()
                guard case let .removed(messages, resume)? = receipt.results.first else {
                    preconditionFailure("journal answered removeCampaign with \(receipt.results)")
                }
                step.messages += messages
                guard let resume else {
                    step.campaigns.append(candidate.campaign)
                    loop.post(.campaignRemoved(candidate.campaign))
                    break
                }
                from = resume
            }
        }
        return step
    }

    /// Meta redelivers an incoming message for up to 7 days: its wamid is kept that long
    /// at least, whatever the retention, so that a late redelivery is still a duplicate.
    static let inboundKeptMillisecondsMin: Int64 = 7 * 86_400_000
    static let inboundRetentionScanMax = 5_000

    /// Removes incoming messages received before `cutoffMilliseconds` (or 7 days ago, if
    /// that is earlier) from the journal, a bounded number per commit. Returns how many.
    @discardableResult
    public func sweepInboundRetention(cutoffMilliseconds: Int64) async throws -> Int {
        let cutoff = min(cutoffMilliseconds, clock.wallMilliseconds() - Self.inboundKeptMillisecondsMin)
        var removed = 0
        var after: String?
        repeat {
            let receipt = try await journal.apply([.removeInbound(receivedBefore: cutoff, after: after, max: Self.inboundRetentionScanMax)])
            guard case let .inboundRemoved(records, resume)? = receipt.results.first else {
                preconditionFailure("journal answered removeInbound with \(receipt.results)")
            }
            removed += records
            after = resume
        } while after != nil
        return removed
    }
}
