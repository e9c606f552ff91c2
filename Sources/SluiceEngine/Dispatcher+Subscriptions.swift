import SluiceCore
import SluiceJournal

/// Subscribers and their outbox. Events are written by the journal itself, in the
/// transaction of each status change; the delivery service reads and settles them here.
extension Dispatcher {
    /// Subscribers a dispatcher keeps (each costs a look per reported transition).
    public static let subscriptionsMax = 100
    /// Outbox entries deleted per commit when a subscriber is deleted.
    static let outboxDiscardBatchMax = 5_000

    /// Journals a new subscriber; events of changes committed after this one reach it.
    public func createSubscription(url: String, secret: String, campaign: CampaignID?, states: Set<MessageState>?) async throws -> SubscriptionRecord {
        let record = SubscriptionRecord(url: url, secret: secret, campaign: campaign, states: states, createdMilliseconds: clock.wallMilliseconds())
        let receipt = try await journal.apply([.createSubscription(record)])
        guard case .subscription(let stored)? = receipt.results.first else {
            preconditionFailure("journal answered createSubscription with \(receipt.results)")
        }
        return stored
    }

    public func subscriptions() throws -> [SubscriptionRecord] { try journal.subscriptions() }

    public func subscription(id: UInt64) throws -> SubscriptionRecord? { try journal.subscription(id) }

    /// Deletes the subscriber and every event waiting for it; false when there is none.
    public func deleteSubscription(id: UInt64) async throws -> Bool {
        guard try journal.subscription(id) != nil else { return false }
        try await purgeOutbox(subscription: id)
        return true
    }

    /// Deletes the outbox entries of subscribers that no longer exist (a delete that a
    /// stop interrupted). Returns how many subscribers had some.
    public func purgeOrphanedOutbox() async throws -> Int {
        let live = Set(try journal.subscriptions().map(\.id))
        let orphans = try journal.outboxSubscriptionIDs().filter { !live.contains($0) }
        for id in orphans { try await purgeOutbox(subscription: id) }
        return orphans.count
    }

    private func purgeOutbox(subscription id: UInt64) async throws {
        while true {
            let receipt = try await journal.apply([.deleteSubscription(id: id, discardMax: Self.outboxDiscardBatchMax)])
            guard case .discarded(let n)? = receipt.results.first, n == Self.outboxDiscardBatchMax else { return }
        }
    }

    /// The first due event of each of the subscriber's messages after `after` (see
    /// `Journal.outboxHeads`).
    public func outboxHeads(subscription: UInt64, after: MessageID?, dueMilliseconds: Int64, limit: Int) throws -> (entries: [OutboxEntry], resume: MessageID?) {
        try journal.outboxHeads(subscription: subscription, after: after, dueMilliseconds: dueMilliseconds, limit: limit)
    }

    /// Journals delivery outcomes; returns once they committed.
    public func settleOutbox(_ settlements: [OutboxSettlement]) async throws {
        guard !settlements.isEmpty else { return }
        _ = try await journal.apply([.settleOutbox(settlements)])
    }

    // MARK: Status deadline

    /// Messages looked at per sweep step, and moved to `unknown` per commit.
    static let deadlineScanMax = 50_000
    static let deadlineMovesMax = 5_000

    /// One step of the status deadline: `sent` messages whose last change is older than
    /// `statusDeadlineMilliseconds` become `unknown` (counted in their campaign, and
    /// reported to subscribers). `more` is true when the scan stopped before the last
    /// message: call again soon. Call from one task at a time.
    @discardableResult
    public func sweepStatusDeadlines() async throws -> (unknown: Int, more: Bool) {
        let now = clock.wallMilliseconds()
        let deadline = configuration.statusDeadlineMilliseconds
        let (start, fromLow) = deadlineSweep.withLock { ($0.position ?? $0.low, $0.position == nil) }
        let scan = try journal.scanSent(
            from: start, updatedBeforeMilliseconds: now - deadline, scanMax: Self.deadlineScanMax, limit: Self.deadlineMovesMax)
        var moved = 0
        if !scan.expired.isEmpty {
            let text = "no delivery status within \(deadline / 1000) s of the send"
            let receipt = try await journal.apply([.transition(scan.expired.map {
                MessageTransition(id: $0, to: .unknown, updatedMilliseconds: now, errorMessage: text)
            })])
            if case .transitions(let applied, _)? = receipt.results.first { moved = applied }
        }
        deadlineSweep.withLock {
            // Only a scan from the low mark sees an unbroken run of settled messages.
            if fromLow { $0.low = max($0.low, scan.settledBelow) }
            $0.position = scan.resume
        }
        return (moved, scan.resume != nil)
    }
}

/// The status deadline's place in the message ids: everything below `low` is past
/// `sent`; `position` is where an unfinished pass continues.
struct DeadlineSweep {
    var low = MessageID(1)
    var position: MessageID?
}
