import Foundation
import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// The dispatcher as an embeddable service: journal, scheduler and transport wired
/// together. The HTTP server, the demo, the load test and the benchmarks all drive this.
///
///     let dispatcher = try Dispatcher(configuration: .init(dataDirectory: "/var/lib/sluice"))
///     try await dispatcher.putSender(phoneNumberID: "1065", tierMessagesPerSecond: 80, accessToken: token)
///     let receipt = try await dispatcher.submitCampaign(senderPhoneNumberID: "1065", messageObject: json, recipients: list)
///     await dispatcher.shutdown()
public final class Dispatcher: Sendable {
    public let configuration: EngineConfiguration
    public let recovery: RecoveryReport
    let journal: Journal
    let loop: DispatchLoop
    private let transport: CurlTransport
    let clock: any Clock
    private let logger: Logger
    private let shutdownState = ShutdownState()

    /// Opens (or creates) the journal under `dataDirectory`, turns what a crash left
    /// `in_flight` into `in_doubt`, and starts dispatching what is queued.
    public init(configuration: EngineConfiguration, clock: any Clock = SystemClock(), logger: Logger = Logger(label: "sluice.engine")) throws {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        let journal = try Journal(directory: configuration.dataDirectory + "/journal", configuration: configuration.journal)
        self.journal = journal
        do {
            recovery = try journal.recover(
                nowMilliseconds: clock.wallMilliseconds(),
                inDoubtSettleMilliseconds: configuration.outcome.inDoubtSettleMilliseconds)
            if recovery.inFlightToInDoubt > 0 {
                logger.warning("recovery: \(recovery.inFlightToInDoubt) message(s) were in flight at the last stop; they are in_doubt and wait \(configuration.outcome.inDoubtSettleMilliseconds / 1000) s for a status before any resend")
            }
            let loop = DispatchLoop(configuration: configuration, journal: journal, clock: clock, logger: logger)
            self.loop = loop
            transport = try CurlTransport(configuration: configuration.transport) { completions in
                loop.post(.completions(completions))
            }
            loop.transport = transport
            try loop.start(senders: journal.senders())
        } catch {
            journal.close()
            throw error
        }
    }

    // MARK: Senders

    /// Registers a sending number or changes its tier and token. The change reaches the
    /// running scheduler as soon as it is journaled. A PUT also lifts a pause. An app
    /// secret (for webhook signatures) that is not given keeps its previous value.
    @discardableResult
    public func putSender(phoneNumberID: String, tierMessagesPerSecond: Double, burst: Int = 1, accessToken: String, appSecret: String? = nil) async throws -> SenderRecord {
        if let problem = CampaignIntake.problem(phoneNumberID: phoneNumberID, tier: tierMessagesPerSecond, burst: burst, accessToken: accessToken) {
            throw IntakeError.invalidSender(problem)
        }
        if let appSecret, let problem = CampaignIntake.problem(appSecret: appSecret) { throw IntakeError.invalidSender(problem) }
        let existing = try journal.sender(phoneNumberID: phoneNumberID)
        var record = SenderRecord(
            id: existing?.id ?? SenderID(0), phoneNumberID: phoneNumberID, tierMessagesPerSecond: tierMessagesPerSecond,
            burst: UInt32(burst), accessToken: accessToken, paused: false, pauseReason: nil,
            appSecret: appSecret ?? existing?.appSecret)
        let receipt = try await journal.apply([.putSender(record)])
        guard case .sender(let id)? = receipt.results.first else {
            preconditionFailure("journal answered putSender with \(receipt.results)")
        }
        record.id = id
        loop.post(.sender(record))
        return record
    }

    public func sender(phoneNumberID: String) throws -> SenderRecord? {
        try journal.sender(phoneNumberID: phoneNumberID)
    }

    public func senders() throws -> [SenderRecord] { try journal.senders() }

    /// Live per-sender figures, refreshed a few times a second.
    public func senderSnapshots() -> [SenderSnapshot] { loop.snapshots() }

    // MARK: Campaigns

    /// Validates and durably journals a campaign; returns only after the commit.
    /// Recipients that fail validation are listed in the receipt and not journaled;
    /// input that fails as a whole throws `IntakeError` and journals nothing.
    public func submitCampaign(senderPhoneNumberID: String, messageObject: [UInt8], recipients: [RecipientInput]) async throws(IntakeError) -> CampaignReceipt {
        guard !recipients.isEmpty else { throw .noRecipients }
        guard recipients.count <= CampaignIntake.recipientsPerRequestMax else {
            throw .tooManyRecipients(count: recipients.count, max: CampaignIntake.recipientsPerRequestMax)
        }
        let sender: SenderRecord
        do {
            guard let found = try journal.sender(phoneNumberID: senderPhoneNumberID) else { throw IntakeError.unknownSender(senderPhoneNumberID) }
            sender = found
        } catch let error as IntakeError {
            throw error
        } catch {
            throw .journal("\(error)")
        }
        let template: MessageTemplate
        do {
            template = try MessageTemplate(messageObject: messageObject)
        } catch {
            throw .invalidMessage("\(error)")
        }
        var accepted: [NewMessage] = []
        accepted.reserveCapacity(recipients.count)
        var rejected: [CampaignRejection] = []
        var rejectedCount = 0
        for (index, recipient) in recipients.enumerated() {
            if let reason = CampaignIntake.problem(recipient: recipient, placeholderCount: template.placeholderCount) {
                rejectedCount += 1
                if rejected.count < CampaignIntake.rejectionsListedMax { rejected.append(CampaignRejection(index: index, reason: reason)) }
            } else {
                accepted.append(NewMessage(to: recipient.to, params: recipient.params))
            }
        }
        guard !accepted.isEmpty else { throw .noValidRecipients(rejectedCount: rejectedCount, rejected: rejected) }
        let receipt: JournalReceipt
        do {
            receipt = try await journal.apply([
                .createCampaign(sender: sender.id, message: messageObject, createdMilliseconds: clock.wallMilliseconds(), recipients: accepted)
            ])
        } catch {
            throw .journal("\(error)")
        }
        guard case .campaign(let id, _, let count)? = receipt.results.first else {
            preconditionFailure("journal answered createCampaign with \(receipt.results)")
        }
        loop.post(.campaignAvailable(sender.id, id))
        return CampaignReceipt(id: id, accepted: count, rejectedCount: rejectedCount, rejected: rejected)
    }

    public func campaignProgress(_ id: CampaignID) throws -> CampaignProgress? {
        guard let record = try journal.campaign(id) else { return nil }
        let phone = try journal.senders().first { $0.id == record.sender }?.phoneNumberID
        return CampaignProgress(record: record, senderPhoneNumberID: phone)
    }

    public func message(_ id: MessageID) throws -> MessageRecord? { try journal.message(id) }

    // MARK: Lifecycle

    /// Stops taking new send slots, lets requests on the wire finish (up to the drain
    /// timeout), journals their outcomes, returns unsent messages to the queue and closes
    /// the journal. Idempotent.
    public func shutdown() async {
        guard shutdownState.begin() else { return }
        loop.post(.stop)
        await loop.waitUntilFinished()
        transport.shutdown(drainTimeoutMilliseconds: 1_000)
        journal.close()
        logger.info("dispatcher stopped")
    }
}

private final class ShutdownState: @unchecked Sendable {
    private let lock = NSLock()
    private var begun = false
    func begin() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if begun { return false }
        begun = true
        return true
    }
}
