import SluiceCore
import SluiceJournal

/// What `retryCampaign` refuses.
public enum RetryProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownCampaign(CampaignID)
    /// A streamed upload still arriving or one that never completed: nothing to retry.
    case notRetryable(CampaignID, state: CampaignState)
    /// No message of the campaign is in the states and codes asked.
    case nothingToRetry(CampaignID)
    case intake(IntakeError)

    public var description: String {
        switch self {
        case .unknownCampaign(let id): "campaign \(id) does not exist"
        case .notRetryable(let id, let state): "campaign \(id) is \(state): only a campaign whose upload completed can be retried"
        case .nothingToRetry(let id): "no message of campaign \(id) is in the states and codes asked; nothing was created"
        case .intake(let error): error.description
        }
    }
}

extension Dispatcher {
    /// States a retry may take: ended without reaching the contact. Sent ones would be
    /// sent twice; suppressed ones opted out.
    public static let retryableStates: Set<MessageState> = [.failed, .unknown, .expired, .cancelled]

    /// A page of `campaign`'s messages (`Journal.messages(of:…)`); nil for an unknown campaign.
    public func campaignMessages(_ campaign: CampaignID, after: MessageID?, filter: MessageFilter, limit: Int) throws -> MessagePage? {
        try journal.messages(of: campaign, after: after, filter: filter, limit: limit)
    }

    /// A new campaign, not yet complete, of `source`'s messages that `filter` accepts —
    /// the same sender, message, priority and delivery, each recipient with its params and
    /// external id — linked both ways (`retryOf`, `retries`). The caller completes it (with
    /// its idempotency answer) or cancels it.
    public func retryCampaign(_ source: CampaignID, filter: MessageFilter, batchRecipients: Int = CampaignUpload.batchRecipientsDefault) async throws(RetryProblem) -> CampaignUpload {
        precondition(!filter.states.isEmpty && filter.states.isSubset(of: Self.retryableStates), "retry states are checked by the caller")
        let record: CampaignRecord?
        let phone: String?
        do {
            record = try journal.campaign(source)
            phone = try record.flatMap { r in try journal.senders().first { $0.id == r.sender }?.phoneNumberID }
        } catch {
            throw .intake(.journal("\(error)"))
        }
        guard let record else { throw .unknownCampaign(source) }
        guard record.state != .receiving, record.state != .cancelled else { throw .notRetryable(source, state: record.state) }
        guard let phone else { throw .intake(.unknownSender("of campaign \(source)")) }
        var options = CampaignOptions(priority: record.options.priority, delivery: record.options.delivery, labels: record.options.labels, retryOf: source)
        options.name = "retry of " + (record.options.name ?? "campaign \(source)")
        if options.name!.utf8.count > CampaignIntake.nameBytesMax { options.name = "retry of campaign \(source)" }
        var upload: CampaignUpload
        do {
            upload = try await beginCampaign(senderPhoneNumberID: phone, messageObject: record.message, options: options, batchRecipients: batchRecipients)
        } catch {
            throw .intake(error)
        }
        // Exactly those recipients: a campaign sent with `dedupe: false` is retried as it was.
        upload.dedupe = false
        do {
            var after: MessageID?
            repeat {
                guard let page = try journal.messages(of: source, after: after, filter: filter, limit: 1_000) else { throw RetryProblem.unknownCampaign(source) }
                for m in page.messages {
                    try await upload.add(RecipientInput(to: m.to, params: m.params, externalID: m.externalID), position: Int(m.id.rawValue))
                }
                after = page.next
            } while after != nil
        } catch {
            await upload.cancel(removing: true)
            if let problem = error as? RetryProblem { throw problem }
            if let intake = error as? IntakeError { throw .intake(intake) }
            throw .intake(.journal("\(error)"))
        }
        guard upload.receipt.accepted > 0 else {
            await upload.cancel(removing: true)
            throw .nothingToRetry(source)
        }
        return upload
    }
}
