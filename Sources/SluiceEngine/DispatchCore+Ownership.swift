import SluiceCore

/// In a cluster, a sender's number is paced by one node at a time: this node sends for a
/// number only until the instant its lease was last known to be alive allows. Past it,
/// the sender is held (no slot, no page) even if no further word comes.
extension DispatchCore {
    mutating func setOwnership(_ deadlines: [SenderID: Instant]) {
        guard ownership != nil else { return }
        ownership = deadlines
        for id in senders.keys { applyOwnership(id) }
    }

    /// Holds or releases `id` in the scheduler by its deadline (installing a sender too).
    mutating func applyOwnership(_ id: SenderID) {
        guard let ownership, scheduler.isOwned(sender: id) != nil else { return }
        let owned = (ownership[id] ?? .zero) > now
        scheduler.setOwned(id, owned, now: now)
        senders[id]?.snapshot.owned = owned
    }

    /// Senders whose time ran out are held at once.
    mutating func expireOwnership() {
        guard let ownership else { return }
        for (id, end) in ownership where end <= now && scheduler.isOwned(sender: id) == true {
            applyOwnership(id)
        }
    }

    /// The earliest deadline still ahead: the core must wake to hold that sender.
    func ownershipEnd(after now: Instant) -> Instant? {
        // Lazily: asked at every wake, it must not build an array.
        ownership?.values.lazy.filter { $0 > now }.min()
    }
}
