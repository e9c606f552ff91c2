import SluiceCore
import SluiceJournal

/// A delivery status from a WhatsApp webhook, matched to a journaled message.
public struct StatusUpdate: Sendable, Equatable {
    public enum Status: String, Sendable {
        case sent, delivered, read, failed

        var state: MessageState {
            switch self {
            case .sent: .sent
            case .delivered: .delivered
            case .read: .read
            case .failed: .failed
            }
        }
    }

    /// The message named by Sluice's callback data; nil: find it by `wamid`.
    public var message: MessageID?
    public var status: Status
    public var wamid: String?
    /// `errors[0].code` of a `failed` status; 0 otherwise.
    public var errorCode: Int32
    public var errorMessage: String?

    public init(message: MessageID, status: Status, wamid: String? = nil, errorCode: Int32 = 0, errorMessage: String? = nil) {
        self.message = message
        self.status = status
        self.wamid = wamid
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    /// A status without Sluice's callback data: matched by the wamid its send was answered with.
    public init(wamid: String, status: Status, errorCode: Int32 = 0, errorMessage: String? = nil) {
        self.message = nil
        self.status = status
        self.wamid = wamid
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }
}

extension Dispatcher {
    /// Records webhook statuses. Status only moves forward (`sent < delivered < read`,
    /// `failed` final): the message state machine refuses anything else, so duplicates and
    /// late, out-of-order deliveries are ignored. A status for an `in_doubt` or `retry_at`
    /// message proves it was sent and settles it: it will not be resent. A status without
    /// callback data is matched by its wamid (ignored when no message has it).
    /// Returns how many changed a message and how many were ignored.
    public func applyStatuses(_ updates: [StatusUpdate]) async throws -> (applied: Int, ignored: Int) {
        guard !updates.isEmpty else { return (0, 0) }
        let wall = clock.wallMilliseconds()
        var unmatched = 0
        var transitions: [MessageTransition] = []
        transitions.reserveCapacity(updates.count)
        for update in updates {
            guard let id = try update.message ?? update.wamid.flatMap({ try journal.messageID(wamid: $0) }) else {
                unmatched += 1
                continue
            }
            transitions.append(MessageTransition(
                id: id, to: update.status.state, attempts: nil, notBeforeMilliseconds: 0, updatedMilliseconds: wall,
                wamid: update.wamid, errorCode: update.errorCode, errorMessage: update.errorMessage))
        }
        guard !transitions.isEmpty else { return (0, unmatched) }
        let receipt = try await journal.apply([.transition(transitions)])
        guard case .transitions(let applied, let rejected)? = receipt.results.first else {
            preconditionFailure("journal answered a transition with \(receipt.results)")
        }
        return (applied, rejected.count + unmatched)
    }
}

extension Dispatcher {
    /// Journals incoming messages from a webhook (before it is answered): each wamid once,
    /// with an event for every subscriber that asks for messages.
    /// A text or a tapped reply equal to one of the number's opt-out keywords puts the
    /// contact on its suppression list, `START` takes it off, in the same commit.
    public func recordInbound(_ messages: [InboundMessage]) async throws -> (recorded: Int, duplicates: Int) {
        guard !messages.isEmpty else { return (0, 0) }
        var numbers: [String: SenderRecord?] = [:]
        var actions: [ContactAction?] = []
        actions.reserveCapacity(messages.count)
        var counts: [SenderID: Int] = [:]
        for m in messages {
            if numbers[m.senderPhoneNumberID] == nil {
                numbers[m.senderPhoneNumberID] = .some(try journal.sender(phoneNumberID: m.senderPhoneNumberID))
            }
            let record = numbers[m.senderPhoneNumberID]!
            if let id = record?.id { counts[id, default: 0] += 1 }
            actions.append(ContactKeywords.action(type: m.type, object: m.object, optOut: record?.effectiveOptOutKeywords ?? ContactKeywords.standardOptOut))
        }
        let receipt = try await journal.apply([.recordInbound(messages, actions: actions)])
        guard case .inbound(let recorded, let duplicates)? = receipt.results.first else {
            preconditionFailure("journal answered recordInbound with \(receipt.results)")
        }
        // WhatsApp counts each message once: a redelivered batch leaves the reserve alone.
        if recorded > 0 { loop.post(.inbound(counts)) }
        return (recorded, duplicates)
    }
}
