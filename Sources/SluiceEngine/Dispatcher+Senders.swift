import SluiceCore
import SluiceJournal

extension Dispatcher {
    /// Pauses (with an operator's reason) or resumes a sender. Journaled first, then the
    /// running scheduler applies it; queued messages wait and nothing is lost. Returns
    /// nil for an unknown sender.
    public func setSenderPaused(phoneNumberID: String, paused: Bool, reason: String?) async throws -> SenderRecord? {
        guard var record = try journal.sender(phoneNumberID: phoneNumberID) else { return nil }
        record.paused = paused
        record.pauseReason = paused ? (reason ?? "paused by an operator") : nil
        _ = try await journal.apply([.putSender(record)])
        loop.post(.sender(record))
        return record
    }
}
