import SluiceCore

/// In a cluster, a sender's number is paced by one node at a time: this node sends for a
/// number only until the instant its lease was last known to be alive allows. Past it,
/// the sender is held (no slot, no page) even if no further word comes, and what was
/// staged for it goes back to the journal's queue: the node that holds the number now can
/// be handed it (`Dispatcher.handoverBatch`). Requests on the wire finish as they would.
extension DispatchCore {
    mutating func setOwnership(_ deadlines: [SenderID: Instant], into actions: inout [Action]) {
        guard ownership != nil else { return }
        ownership = deadlines
        for id in senders.keys { applyOwnership(id, into: &actions) }
    }

    /// Holds or releases `id` in the scheduler by its deadline (installing a sender too).
    mutating func applyOwnership(_ id: SenderID, into actions: inout [Action]) {
        guard let ownership, let was = scheduler.isOwned(sender: id) else { return }
        let owned = (ownership[id] ?? .zero) > now
        scheduler.setOwned(id, owned, now: now)
        senders[id]?.snapshot.owned = owned
        if was && !owned {
            for campaign in scheduler.stagedCampaigns(sender: id) { giveBack(CampaignKey(sender: id, campaign: campaign), into: &actions) }
            // Its connections may close while another node sends: warmed again on return.
            warmth.forget(id)
        } else if !was && owned, let record = senders[id]?.record {
            // Taken over: the connections its first second needs open now, not on its first sends.
            warm(record, into: &actions)
        }
    }

    /// Senders whose time ran out are held at once.
    mutating func expireOwnership(into actions: inout [Action]) {
        guard let ownership else { return }
        for (id, end) in ownership where end <= now && scheduler.isOwned(sender: id) == true {
            applyOwnership(id, into: &actions)
        }
    }

    /// What is staged of a campaign whose number this node no longer holds (with
    /// `arriving`, a page read meanwhile): out of the scheduler and back to the journal's
    /// queue. The campaign pages in again (from its start) if the number comes back.
    mutating func giveBack(_ key: CampaignKey, arriving: [MessageRecord] = [], into actions: inout [Action]) {
        var held = arriving
        scheduler.removeCampaign(sender: key.sender, campaign: key.campaign, into: &held)
        guard !held.isEmpty else { return }
        returnToQueue(held, of: key.campaign, into: &actions)
        if campaigns[key.campaign]?.status == .open { campaigns[key.campaign]!.availableAfterRestage = true }
    }

    /// The earliest deadline still ahead: the core must wake to hold that sender.
    func ownershipEnd(after now: Instant) -> Instant? {
        // Lazily: asked at every wake, it must not build an array.
        ownership?.values.lazy.filter { $0 > now }.min()
    }
}
