import SluiceCore
import SluiceJournal

/// The messaging limit as the dispatch loop applies it: one `RecipientWindow` per sender
/// group that has a limit. A group's cap is the smallest limit among its members (WhatsApp
/// caps the business portfolio, not the number); a sender without a group is a group of
/// its own. Groups without any limit are not tracked, so they cost nothing per message.
///
/// Owned by the dispatch loop's thread. A window that starts tracking (a limit set, a
/// sender joining a limited group) needs the sends of the last window from the journal
/// first: `configure` names the senders whose history must be merged (`merge`).
struct MessagingLimits {
    let windowMilliseconds: Int64
    /// Group key of every known sender: `"g:<name>"` or `"s:<id>"`.
    private var groupOf: [SenderID: String] = [:]
    private var limitOf: [SenderID: Int] = [:]
    private var members: [String: Set<SenderID>] = [:]
    /// Only groups with a cap.
    private var windows: [String: RecipientWindow] = [:]

    init(windowMilliseconds: Int64) {
        precondition(windowMilliseconds > 0, "messaging window must be > 0")
        self.windowMilliseconds = windowMilliseconds
    }

    /// Whether any sender is limited (the per-message check is skipped otherwise).
    var isActive: Bool { !windows.isEmpty }

    /// Applies the sender's limit and group. Returns the senders whose recent sends the
    /// (new or joined) window lacks: their history must be merged before they send.
    mutating func configure(_ record: SenderRecord) -> Set<SenderID> {
        let key = Self.groupKey(record)
        let previousKey = groupOf[record.id]
        let wasTracked = previousKey.map { windows[$0] != nil } ?? false
        if let previousKey, previousKey != key { leave(record.id, previousKey) }
        groupOf[record.id] = key
        members[key, default: []].insert(record.id)
        limitOf[record.id] = record.messagingLimit
        let hadWindow = windows[key] != nil
        updateCap(key)
        guard windows[key] != nil else { return [] }
        if !hadWindow { return members[key]! }
        return previousKey == key && wasTracked ? [] : [record.id]
    }

    /// Forgets a deleted sender; its recipients stay in a shared window (they were sent).
    mutating func remove(_ sender: SenderID) {
        guard let key = groupOf.removeValue(forKey: sender) else { return }
        limitOf[sender] = nil
        leave(sender, key)
    }

    /// nil when a message of `sender` to `recipient` may go now (and the send is
    /// recorded); otherwise the wall-clock time at which its window has room again.
    mutating func admit(sender: SenderID, recipient: String, nowMilliseconds now: Int64) -> Int64? {
        guard let key = groupOf[sender], windows[key] != nil else { return nil }
        if windows[key]!.admit(recipient, nowMilliseconds: now) { return nil }
        return windows[key]!.nextCapacityAt ?? now + windowMilliseconds
    }

    /// Records sends read from the journal (any order) in their senders' windows.
    mutating func merge(_ sends: [Journal.RecipientSend], nowMilliseconds now: Int64) {
        var byGroup: [String: [(recipient: String, at: Int64)]] = [:]
        for send in sends {
            guard let key = groupOf[send.sender], windows[key] != nil else { continue }
            byGroup[key, default: []].append((send.to, send.atMilliseconds))
        }
        for (key, list) in byGroup {
            // A window takes sends in time order: rebuild it from its entries and the history.
            var merged = windows[key]!.entries + list
            merged.sort { $0.at < $1.at }
            var window = RecipientWindow(cap: windows[key]!.cap, windowMilliseconds: windowMilliseconds)
            for entry in merged { window.record(entry.recipient, atMilliseconds: entry.at) }
            window.expire(nowMilliseconds: now)
            windows[key] = window
        }
    }

    /// The sender's effective cap, unique recipients in its window, and (while the cap is
    /// reached) when the window has room again, in wall-clock milliseconds.
    mutating func status(_ sender: SenderID, nowMilliseconds now: Int64) -> (limit: Int?, unique: Int, limitedUntil: Int64?) {
        guard let key = groupOf[sender], windows[key] != nil else { return (nil, 0, nil) }
        let unique = windows[key]!.count(nowMilliseconds: now)
        return (windows[key]!.cap, unique, windows[key]!.nextCapacityAt)
    }

    static func groupKey(_ record: SenderRecord) -> String {
        record.group.map { "g:" + $0 } ?? "s:\(record.id)"
    }

    private mutating func leave(_ sender: SenderID, _ key: String) {
        members[key]?.remove(sender)
        if members[key]?.isEmpty ?? false { members[key] = nil }
        updateCap(key)
    }

    /// The smallest limit among the group's members; no window when none has one.
    private mutating func updateCap(_ key: String) {
        let cap = (members[key] ?? []).compactMap { limitOf[$0] }.min()
        guard let cap else {
            windows[key] = nil
            return
        }
        if windows[key] == nil {
            windows[key] = RecipientWindow(cap: cap, windowMilliseconds: windowMilliseconds)
        } else {
            windows[key]!.cap = cap
        }
    }
}
