import DequeModule

/// WhatsApp's messaging limit, kept ahead of time: at most `cap` unique recipients per
/// rolling window (24 h) for a sender group. Holds the recipients first sent to within the
/// window with the time of that first send, oldest first. A recipient already in the
/// window is free; a new one is admitted only while fewer than `cap` are. A recipient
/// leaves one window after its first send (its conversation ends) and counts anew after.
///
/// Memory stays bounded by the cap: entries are added only below it (a window rebuilt
/// from history may start above it, and then admits nothing new until enough expire).
///
/// ```swift
/// var window = RecipientWindow(cap: 2, windowMilliseconds: 86_400_000)
/// window.admit("4915112345678", nowMilliseconds: t)      // true: recorded
/// window.admit("4915187654321", nowMilliseconds: t)      // true: recorded, now full
/// window.admit("4915112345678", nowMilliseconds: t + 1)  // true: already in the window
/// window.admit("4917600000000", nowMilliseconds: t + 1)  // false: wait
/// window.nextCapacityAt                                  // t + 86_400_000
/// ```
public struct RecipientWindow: Sendable {
    /// The messaging limits WhatsApp grants (business-initiated conversations per 24 h).
    public static let tiers: [Int] = [250, 2_000, 10_000, 100_000]
    public static let dayMilliseconds: Int64 = 86_400_000

    /// Unique recipients allowed per window; nil: unlimited (nothing is refused).
    public var cap: Int?
    public let windowMilliseconds: Int64
    private var firstSent: [String: Int64] = [:]
    private var order: Deque<(recipient: String, at: Int64)> = []

    public init(cap: Int?, windowMilliseconds: Int64 = RecipientWindow.dayMilliseconds) {
        precondition(cap.map { $0 >= 0 } ?? true, "cap must be ≥ 0")
        precondition(windowMilliseconds > 0, "window must be > 0")
        self.cap = cap
        self.windowMilliseconds = windowMilliseconds
    }

    /// Whether a send to `recipient` at `now` stays within the cap. Records nothing.
    public mutating func admits(_ recipient: String, nowMilliseconds now: Int64) -> Bool {
        expire(nowMilliseconds: now)
        guard let cap else { return true }
        return firstSent[recipient] != nil || order.count < cap
    }

    /// `admits`, and when it does, records the send (the first one in the window counts).
    public mutating func admit(_ recipient: String, nowMilliseconds now: Int64) -> Bool {
        guard admits(recipient, nowMilliseconds: now) else { return false }
        record(recipient, atMilliseconds: now)
        return true
    }

    /// Records a send made at `at` whatever the cap (history, or a send already made).
    /// Times must not go backwards: feed history sorted by time.
    public mutating func record(_ recipient: String, atMilliseconds at: Int64) {
        expire(nowMilliseconds: at)
        guard firstSent[recipient] == nil else { return }
        assert(order.last.map { $0.at <= at } ?? true, "sends recorded out of time order")
        firstSent[recipient] = at
        order.append((recipient, at))
    }

    /// Unique recipients in the window at `now`.
    public mutating func count(nowMilliseconds now: Int64) -> Int {
        expire(nowMilliseconds: now)
        return order.count
    }

    /// While the cap is reached: when the window next has room for a new recipient (the
    /// oldest entry that must leave for it leaves). nil when there is room or no cap.
    /// Call after `count`, `admits` or `admit` for the same `now`.
    public var nextCapacityAt: Int64? {
        guard let cap, order.count >= cap else { return nil }
        // `order.count - cap + 1` entries must leave; the last of them is at this index.
        guard !order.isEmpty else { return nil }
        return order[order.count - cap].at + windowMilliseconds
    }

    /// The recipients in the window with their first send, oldest first.
    public var entries: [(recipient: String, at: Int64)] { Array(order) }

    /// Drops recipients first sent one window or more before `now`.
    public mutating func expire(nowMilliseconds now: Int64) {
        let cutoff = now - windowMilliseconds
        while let first = order.first, first.at <= cutoff {
            order.removeFirst()
            firstSent.removeValue(forKey: first.recipient)
        }
    }
}
