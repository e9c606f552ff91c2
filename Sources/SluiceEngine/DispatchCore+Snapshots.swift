import Foundation
import SluiceCore

/// What other threads see of the core: per-sender snapshots and smoothed send rates.
extension DispatchCore {
    /// The snapshot to publish now; smooths the rates since the last one.
    mutating func publication() -> Publication {
        if !removing.isEmpty { removeIdle() }
        let seconds = lastSnapshot.map { Double(now - $0) / 1e9 } ?? 0
        lastSnapshot = now
        // Exponential smoothing over about `rateSmoothingSeconds`.
        let alpha = seconds > 0 ? 1 - exp(-seconds / Self.rateSmoothingSeconds) : 0
        if seconds > 0 {
            for id in Set(campaignRates.keys).union(sentSinceSnapshot.keys) {
                let current = Double(sentSinceSnapshot[id] ?? 0) / seconds
                let rate = (campaignRates[id] ?? 0) + alpha * (current - (campaignRates[id] ?? 0))
                campaignRates[id] = rate < 0.01 && sentSinceSnapshot[id] == nil ? nil : rate
            }
        }
        sentSinceSnapshot.removeAll(keepingCapacity: true)
        var list: [SenderSnapshot] = []
        list.reserveCapacity(senders.count)
        for (id, runtime) in senders {
            var s = runtime.snapshot
            if seconds > 0 {
                let current = Double(s.sent &- (senderSentAtSnapshot[id] ?? s.sent)) / seconds
                senderRates[id, default: 0] += alpha * (current - senderRates[id, default: 0])
            }
            senderSentAtSnapshot[id] = s.sent
            s.sendRate = senderRates[id] ?? 0
            s.effectiveMessagesPerSecond = scheduler.effectiveRate(sender: id) ?? s.tierMessagesPerSecond
            s.inboundReserveMessagesPerSecond = scheduler.inboundReserve(sender: id) ?? 0
            s.staged = scheduler.queuedCount(sender: id)
            s.inFlight = scheduler.inFlightCount(sender: id)
            s.inFlightLimit = scheduler.inFlightLimit(sender: id) ?? 0
            let limit = limits.status(id, nowMilliseconds: wall)
            s.messagingLimit = limit.limit
            s.uniqueRecipients24h = limit.unique
            s.limitedUntilMilliseconds = limit.limitedUntil
            list.append(s)
        }
        list.sort { $0.id < $1.id }
        defer { lagMaxNanoseconds = 0 }
        return Publication(
            senders: list, campaignRates: campaignRates, lagNanoseconds: lagMaxNanoseconds,
            latencyNanoseconds: scheduler.budget.latencyNanoseconds,
            // The scheduler keeps state only for campaigns the book has loaded.
            campaignsHeld: campaigns.entries.count,
            campaignsPreparing: Set(campaigns.entries.lazy.filter { $0.value.status == .preparing }.map(\.key)))
    }
}
