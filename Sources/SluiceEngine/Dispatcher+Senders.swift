import SluiceCore
import SluiceJournal

/// A sender setting in a change: left as stored, or set (nil clears it).
public enum SenderSetting<Value: Sendable & Equatable>: Sendable, Equatable {
    case keep
    case set(Value?)

    func value(keeping stored: Value?) -> Value? {
        switch self {
        case .keep: stored
        case .set(let value): value
        }
    }
}

/// Why a sender could not be deleted.
public enum SenderDeletionError: Error, Equatable, CustomStringConvertible {
    /// Messages of it are queued, in flight, waiting to retry or in doubt, or an upload
    /// for it is still arriving.
    case busy(phoneNumberID: String, reason: String)

    public var description: String {
        switch self {
        case let .busy(phone, reason): "sender '\(phone)' still has \(reason); it can be deleted once that work has ended"
        }
    }
}

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

    /// Sets a sender's tier and nothing else (in a cluster: the tier set on another node).
    /// Journaled, then paced at from the next slot. Nil for an unknown sender.
    public func setSenderTier(phoneNumberID: String, tierMessagesPerSecond: Double) async throws -> SenderRecord? {
        guard var record = try journal.sender(phoneNumberID: phoneNumberID) else { return nil }
        if let problem = CampaignIntake.problem(phoneNumberID: phoneNumberID, tier: tierMessagesPerSecond, burst: Int(record.burst), accessToken: record.accessToken) {
            throw IntakeError.invalidSender(problem)
        }
        guard record.tierMessagesPerSecond != tierMessagesPerSecond else { return record }
        record.tierMessagesPerSecond = tierMessagesPerSecond
        _ = try await journal.apply([.putSender(record)])
        loop.post(.sender(record))
        return record
    }

    /// Deletes a sender that has no live work, and returns it as it was (nil for an
    /// unknown sender). The journal checks in the deleting transaction that none of its
    /// messages is queued, in flight, waiting to retry or in doubt and that no upload for
    /// it is arriving (`SenderDeletionError.busy` otherwise, nothing changed), so a
    /// campaign submitted at the same moment either lands first (and the deletion is
    /// refused) or finds no sender. The dispatch loop then forgets it. The same number
    /// registered again gets a new id; its finished campaigns stay readable.
    public func deleteSender(phoneNumberID: String) async throws -> SenderRecord? {
        let receipt: JournalReceipt
        do {
            receipt = try await journal.apply([.deleteSender(phoneNumberID: phoneNumberID)])
        } catch {
            if case let .senderBusy(phone, what) = error { throw SenderDeletionError.busy(phoneNumberID: phone, reason: what) }
            throw error
        }
        guard case .deletedSender(let record)? = receipt.results.first else {
            preconditionFailure("journal answered deleteSender with \(receipt.results)")
        }
        if let record { loop.post(.senderDeleted(record.id)) }
        return record
    }
}
