import SluiceCore
import SluiceJournal

/// Up to `Dispatcher.handoverBatchMax` unsent messages of one campaign, read for the node
/// that holds their number in a cluster.
public struct HandoverBatch: Sendable, Equatable {
    public var campaign: CampaignRecord
    public var phoneNumberID: String
    /// In id order.
    public var messages: [MessageRecord]

    /// The same for the same messages: a batch sent again after a crash (before it was
    /// recorded here) is accepted once by the receiving node.
    public var idempotencyKey: String {
        "handover/\(campaign.id)/\(messages.first?.id.rawValue ?? 0)-\(messages.last?.id.rawValue ?? 0)/\(messages.count)"
    }
}

extension Dispatcher {
    public static let handoverBatchMax = 1_000

    /// Campaigns of the sender holding messages that could go to another node: queued,
    /// waiting to retry, or in doubt.
    public func campaignsToHandOver(sender: SenderID) throws -> [CampaignID] {
        var ids = Set(try journal.campaignsWithQueuedMessages(sender: sender))
        // Waiting and in-doubt ones are indexed by time, not campaign.
        for m in try journal.dueMessages(sender: sender, notAfterMilliseconds: .max, limit: Self.handoverBatchMax) {
            ids.insert(m.campaign)
        }
        return ids.sorted()
    }

    /// The campaign's next messages to hand over, in id order: queued and waiting ones,
    /// and in-doubt ones when the campaign may send a message twice (`at_least_once`).
    /// Nil when it is not sending (paused, still arriving, ended) or has none left.
    public func handoverBatch(_ campaign: CampaignID, limit: Int = handoverBatchMax) throws -> HandoverBatch? {
        guard limit > 0, let record = try journal.campaign(campaign), record.state == .active else { return nil }
        guard let phone = try senders().first(where: { $0.id == record.sender })?.phoneNumberID else { return nil }
        var states: Set<MessageState> = [.queued, .retryAt]
        if record.options.delivery == .atLeastOnce { states.insert(.inDoubt) }
        var messages: [MessageRecord] = []
        var after: MessageID?
        repeat {
            guard let page = try journal.messages(of: campaign, after: after, filter: MessageFilter(states: states), limit: limit - messages.count) else { return nil }
            messages += page.messages
            after = page.next
        } while after != nil && messages.count < limit
        guard !messages.isEmpty else { return nil }
        return HandoverBatch(campaign: record, phoneNumberID: phone, messages: messages)
    }

    /// Records a batch the holder accepted: each message still unsent here ends
    /// `handed_over`, naming the node and its campaign. Those that moved on here meanwhile
    /// (this node took the number back and sent them) are returned: they may go twice.
    public func recordHandover(_ batch: HandoverBatch, node: String, remoteCampaign: String) async throws -> [MessageID] {
        let note = "handed over to node \(node), campaign \(remoteCampaign)"
        let wall = clock.wallMilliseconds()
        let transitions = batch.messages.map { MessageTransition(id: $0.id, to: .handedOver, updatedMilliseconds: wall, errorMessage: note) }
        let receipt = try await journal.apply([.transition(transitions)])
        guard case .transitions(_, let rejected)? = receipt.results.first else { return [] }
        return rejected
    }

    /// Messages the holder refused at handover (its reason for each): they end `failed`
    /// here, since no node will send them. Returns how many moved.
    public func recordHandoverRefusals(_ refused: [MessageID: String], node: String) async throws -> Int {
        let wall = clock.wallMilliseconds()
        let transitions = refused.sorted { $0.key < $1.key }.map { id, reason in
            MessageTransition(id: id, to: .failed, updatedMilliseconds: wall, errorMessage: String("node \(node) refused it at handover: \(reason)".prefix(400)))
        }
        let receipt = try await journal.apply([.transition(transitions)])
        guard case .transitions(let applied, _)? = receipt.results.first else { return 0 }
        return applied
    }
}
