import SluiceCore
import SluiceJournal

/// What came of marking an incoming message read.
public enum ReadReceiptAnswer: Sendable, Equatable {
    /// No sender with that phone number id.
    case unknownSender
    /// No incoming message with that wamid for the number (never received, or removed
    /// by retention).
    case unknownMessage
    /// The request went to WhatsApp (or could not): its outcome.
    case outcome(ReadReceiptOutcome)
}

extension Dispatcher {
    /// Marks the number's incoming message `wamid` read at WhatsApp. The request waits for
    /// one of the number's pacing slots, ahead of its campaigns, and returns WhatsApp's
    /// answer (within `ReadReceiptOutcome.waitSecondsMax` plus the request's own time).
    public func markRead(phoneNumberID: String, wamid: String) async throws -> ReadReceiptAnswer {
        guard let sender = try journal.sender(phoneNumberID: phoneNumberID) else { return .unknownSender }
        guard let message = try journal.inboundMessage(wamid: wamid), message.senderPhoneNumberID == phoneNumberID else { return .unknownMessage }
        return .outcome(await loop.markRead(sender: sender.id, wamid: message.wamid))
    }
}
