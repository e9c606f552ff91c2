import SluiceCore
import SluiceJournal

/// Subscribers and their outbox. Events are written by the journal itself, in the
/// transaction of each status change; the delivery service reads and settles them here.
extension Dispatcher {
    /// Subscribers a dispatcher keeps (each costs a look per reported transition).
    public static let subscriptionsMax = Journal.subscriptionsMax
    /// Outbox entries deleted per commit when a subscriber is deleted.
    static let outboxDiscardBatchMax = 5_000

    /// Journals a new subscriber; events of changes committed after this one reach it.
    /// Throws `SubscriptionLimitError` when `subscriptionsMax` exist.
    public func createSubscription(
        url: String, secret: String, campaign: CampaignID?, states: Set<MessageState>?, events: Set<SubscriberEventKind> = [.status],
        batchMax: Int = 1, origin: CampaignOrigin? = nil, mirrorOf: SubscriptionMirror? = nil
    ) async throws -> SubscriptionRecord {
        precondition((1...SubscriptionRecord.batchMaxLimit).contains(batchMax), "events per POST out of range")
        let record = SubscriptionRecord(
            url: url, secret: secret, campaign: campaign, states: states, events: events, createdMilliseconds: clock.wallMilliseconds(),
            batchMax: batchMax, origin: origin, mirrorOf: mirrorOf)
        let receipt: JournalReceipt
        do {
            receipt = try await journal.apply([.createSubscription(record)])
        } catch {
            // (A `catch .tooManySubscriptions` pattern crashes the 6.3 compiler.)
            if case .tooManySubscriptions(let max) = error { throw SubscriptionLimitError(subscriptionsMax: max) }
            throw error
        }
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
    public func outboxHeads(subscription: UInt64, from cursor: OutboxCursor = OutboxCursor(), dueMilliseconds: Int64, limit: Int) throws -> OutboxPage {
        try journal.outboxHeads(subscription: subscription, from: cursor, dueMilliseconds: dueMilliseconds, limit: limit)
    }

    /// Journals delivery outcomes; returns once they committed.
    /// Moves whenever new events are journaled for subscribers (`Journal.outboxRevision`).
    public var outboxRevision: UInt64 { journal.outboxRevision }

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
    /// reported to subscribers). `more` is true when the scan stopped early: call again
    /// soon. Call from one task at a time.
    ///
    /// A pass looks at ids from the oldest message that may still need it (everything
    /// below is past `sent`) up to the first id created after the cutoff — a message
    /// created later cannot have been sent before it — so it reads about the messages of
    /// the moment the deadline looks at, not the whole journal.
    @discardableResult
    public func sweepStatusDeadlines() async throws -> (unknown: Int, more: Bool) {
        let now = clock.wallMilliseconds()
        let deadline = configuration.statusDeadlineMilliseconds
        let cutoff = now - deadline
        let next = MessageID((try journal.statistics().lastMessageID?.rawValue ?? 0) + 1)
        let (start, below, fromLow) = deadlineSweep.withLock { sweep in
            sweep.sample(MessageIDSample(milliseconds: now, next: next), cutoff: cutoff, spacingMilliseconds: max(1, deadline / 64))
            return (sweep.position ?? sweep.low, sweep.bound(cutoff: cutoff), sweep.position == nil)
        }
        let scan = try journal.scanSent(
            from: start, below: below, updatedBeforeMilliseconds: cutoff, scanMax: Self.deadlineScanMax, limit: Self.deadlineMovesMax)
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

/// `subscriptionsMax` subscribers exist: delete one first.
public struct SubscriptionLimitError: Error, Equatable {
    public var subscriptionsMax: Int
    public init(subscriptionsMax: Int) { self.subscriptionsMax = subscriptionsMax }
}

/// The next message id at a moment: every message with an id at or above it was created
/// at or after that moment.
struct MessageIDSample: Equatable {
    var milliseconds: Int64
    var next: MessageID
}

/// The status deadline's place in the message ids: everything below `low` is past
/// `sent`; `position` is where an unfinished pass continues; `samples` (oldest first,
/// all after the cutoff) bound a pass from above.
struct DeadlineSweep {
    var low = MessageID(1)
    var position: MessageID?
    var samples: [MessageIDSample] = []
    /// A sample per `deadline / 64`: about 65 kept.
    static let samplesMax = 128

    /// Keeps `sample` when the last one is older than `spacingMilliseconds`, and drops the
    /// ones that no longer bound anything.
    mutating func sample(_ sample: MessageIDSample, cutoff: Int64, spacingMilliseconds: Int64) {
        if samples.last.map({ sample.milliseconds - $0.milliseconds >= spacingMilliseconds }) ?? true {
            samples.append(sample)
        }
        // Samples at or before the cutoff bound nothing, now or later. The one just
        // taken (or kept, being less than a spacing old) is after it.
        samples.removeAll { $0.milliseconds <= cutoff }
        if samples.count > Self.samplesMax { samples.removeFirst(samples.count - Self.samplesMax) }
    }

    /// The first id that cannot have been sent before `cutoff`: the next id of the
    /// earliest sample taken after it.
    func bound(cutoff: Int64) -> MessageID {
        samples.first { $0.milliseconds > cutoff }?.next ?? MessageID(UInt64.max)
    }
}
