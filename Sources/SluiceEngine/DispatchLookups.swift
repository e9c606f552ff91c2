import SluiceCore
import SluiceJournal

/// Point reads the core makes while it decides: a campaign it has not seen yet, and the
/// journaled state of a message a status webhook may have settled meanwhile.
protocol DispatchLookups {
    func campaign(_ id: CampaignID) throws(JournalError) -> CampaignRecord?
    func messageState(_ id: MessageID) throws(JournalError) -> MessageState?
    func mediaUpload(media: String, sender: SenderID) throws(JournalError) -> MediaUpload?
}

extension Journal: DispatchLookups {
    func messageState(_ id: MessageID) throws(JournalError) -> MessageState? { try message(id)?.state }
}

extension DispatchCore {
    /// The journaled state of a message; nil (logged) when the journal cannot be read.
    func journaledState(_ id: MessageID) -> MessageState? {
        do {
            return try lookups.messageState(id)
        } catch {
            logger.error("reading message \(id) failed: \(error)")
            return nil
        }
    }
}
