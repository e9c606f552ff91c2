/// Which of a campaign's messages a page holds: empty sets take all.
public struct MessageFilter: Sendable, Equatable {
    public var states: Set<MessageState>
    /// Error codes (of any state: a message waiting to retry has its last one).
    public var codes: Set<Int32>

    public init(states: Set<MessageState> = [], codes: Set<Int32> = []) {
        self.states = states
        self.codes = codes
    }
}

/// One page of a campaign's messages.
public struct MessagePage: Sendable, Equatable {
    public var messages: [MessageRecord]
    /// Pass as `after` for the next page; nil when no message of the campaign is left.
    /// A page may hold fewer than asked (even none) and still have a next one: a scan
    /// stops after `scanMax` records so that a rare filter answers in bounded time.
    public var next: MessageID?

    public init(messages: [MessageRecord], next: MessageID?) {
        self.messages = messages
        self.next = next
    }
}

