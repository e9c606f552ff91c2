import SluiceCore
import Logging
import SluiceJournal

/// What WhatsApp says about the numbers themselves: `phone_number_quality_update`
/// webhooks, which name a number by its display number only.
extension Dispatcher {
    /// Digits only: "+1 555-078-3881" and "15550783881" are one number.
    /// (ASCII digits: every webhook's metadata goes through here.)
    public static func displayDigits(_ text: String) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(text.utf8.count)
        for b in text.utf8 where b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { digits.append(b) }
        return String(decoding: digits, as: UTF8.self)
    }

    /// The sender whose display number is `display`; nil when none has it.
    public func sender(displayPhoneNumber display: String) throws -> SenderRecord? {
        let digits = Self.displayDigits(display)
        guard !digits.isEmpty else { return nil }
        return try journal.senders().first { $0.displayPhoneNumber.map(Self.displayDigits) == digits }
    }

    /// Remembers each number's display number as webhook metadata gives it (a write only
    /// when it is new or changed), so that account webhooks find the number.
    public func learnDisplayPhoneNumbers(_ numbers: [String: String]) async throws {
        for (phone, display) in numbers {
            let digits = Self.displayDigits(display)
            guard !digits.isEmpty, digits.utf8.count <= 32, var record = try journal.sender(phoneNumberID: phone), record.displayPhoneNumber != digits else { continue }
            record.displayPhoneNumber = digits
            _ = try await journal.apply([.putSender(record)])
            loop.post(.sender(record))
        }
    }

    /// Applies one announced change: `THROUGHPUT_UPGRADE` raises the number's tier to
    /// 1 000 msg/s; another event naming a messaging limit (`limit`) sets the number's cap.
    /// Journaled with an `account` event for the subscribers that ask; the running loop
    /// takes the new settings at once. Nil when no sender has the display number.
    public func applyAccountUpdate(displayPhoneNumber display: String, event: String, limit: String?, oldLimit: String?) async throws -> AccountUpdate? {
        guard var record = try sender(displayPhoneNumber: display) else { return nil }
        if event == AccountUpdate.throughputUpgrade {
            // Its limit field names the throughput level, not a messaging limit.
            record.tierMessagesPerSecond = max(record.tierMessagesPerSecond, AccountUpdate.upgradedTierMessagesPerSecond)
        } else if let limit, let cap = AccountUpdate.messagingLimit(named: limit) {
            record.messagingLimit = cap
        }
        let update = AccountUpdate(
            senderPhoneNumberID: record.phoneNumberID, displayPhoneNumber: Self.displayDigits(display), event: event, limit: limit,
            oldLimit: oldLimit, tierMessagesPerSecond: record.tierMessagesPerSecond, messagingLimit: record.messagingLimit,
            receivedMilliseconds: clock.wallMilliseconds())
        _ = try await journal.apply([.recordAccountUpdate(update, sender: record)])
        loop.post(.sender(record))
        logger.notice("WhatsApp announced \(event) for sender \(record.phoneNumberID): tier \(record.tierMessagesPerSecond) msg/s, messaging limit \(record.messagingLimit.map(String.init) ?? "unlimited")")
        return update
    }
}
