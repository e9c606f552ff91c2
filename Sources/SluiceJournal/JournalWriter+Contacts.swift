import Foundation
import SluiceCore

extension Journal {
    /// Longest wa_id kept: WhatsApp's are phone numbers, 7–15 digits.
    public static let waIDBytesMax = 64
}

/// Contacts inside a write transaction: the last incoming message and the suppression
/// list, written with the incoming message that changes them, and the gate every send
/// passes when the journal moves it to `in_flight`.
extension JournalWriter {
    private func indexKey(_ s: WriterState) throws -> [UInt8] {
        guard let key = s.contactIndexKey else { throw JournalError.keyRequired(path: path) }
        return key
    }

    private func header(_ key: Key, _ txn: borrowing Transaction) throws -> (lastInbound: Int64?, suppressed: ContactRecord?)? {
        try key.withBytes { k -> (Int64?, ContactRecord?)? in
            guard let bytes = try txn.get(tables.contacts, k) else { return nil }
            do {
                let h = try ContactCodec.readHeader(bytes)
                // The full record (sealed strings) only when a suppression must be kept.
                return (h.lastInbound, h.suppressed ? try ContactCodec.read(bytes, key: k, cipher) : nil)
            } catch {
                throw JournalError(record: error, path: path, table: Schema.contacts, key: "(a contact)")
            }
        }
    }

    private func put(_ c: ContactRecord, _ key: Key, _ txn: borrowing Transaction, _ s: inout WriterState) throws {
        try key.withBytes { k in
            try txn.putReserving(tables.contacts, k, count: ContactCodec.size(c, cipher), append: false) { ContactCodec.write(c, cipher, key: k, to: $0) }
            if c.isSuppressed { try txn.put(tables.suppressed, k, emptyValue) } else { _ = try txn.delete(tables.suppressed, k) }
        }
        if let sender = s.senderIDs[c.phoneNumberID] { s.numbersWithSuppressions[sender] = nil }
    }

    /// After an incoming message is journaled: the contact's last inbound time, and an
    /// opt-out or opt-in it asked for.
    func noteInbound(_ m: InboundMessage, action: ContactAction?, _ txn: borrowing Transaction, _ s: inout WriterState) throws {
        guard let waID = m.from, !waID.isEmpty, waID.utf8.count <= Journal.waIDBytesMax else { return }
        let key = ContactCodec.key(phoneNumberID: m.senderPhoneNumberID, waID: waID, indexKey: try indexKey(s))
        let found = try header(key, txn)
        var contact = found?.suppressed ?? ContactRecord(phoneNumberID: m.senderPhoneNumberID, waID: waID)
        // WhatsApp's timestamp (when the customer sent it), unless it is later than its
        // arrival; redeliveries arrive late and out of order.
        let sent = Int64(m.timestamp).map { min($0 * 1000, m.receivedMilliseconds) } ?? m.receivedMilliseconds
        contact.lastInboundMilliseconds = max(found?.lastInbound ?? sent, sent)
        switch action {
        case .optOut? where !contact.isSuppressed:
            contact.suppressedMilliseconds = m.receivedMilliseconds
            contact.suppressionSource = .keyword
        case .optIn?:
            contact.suppressedMilliseconds = nil
            contact.suppressionSource = nil
        default: break
        }
        try put(contact, key, txn, &s)
    }

    /// `setSuppression`: puts the contact on the number's list (keeping an earlier time
    /// and source) or takes it off. Returns the contact as it now is and whether it changed.
    func setSuppression(
        phoneNumberID: String, waID: String, suppressed: Bool, atMilliseconds: Int64, source: SuppressionSource,
        _ txn: borrowing Transaction, _ s: inout WriterState
    ) throws -> MutationResult {
        try checkLength(phoneNumberID, "phoneNumberID")
        guard !waID.isEmpty, waID.utf8.count <= Journal.waIDBytesMax else {
            throw JournalError.invalidField(field: "waID", reason: "\(waID.utf8.count) bytes, expected 1…\(Journal.waIDBytesMax)")
        }
        let key = ContactCodec.key(phoneNumberID: phoneNumberID, waID: waID, indexKey: try indexKey(s))
        let found = try header(key, txn)
        var contact = found?.suppressed ?? ContactRecord(phoneNumberID: phoneNumberID, waID: waID, lastInboundMilliseconds: found?.lastInbound)
        guard contact.isSuppressed != suppressed else { return .contact(contact, changed: false) }
        contact.suppressedMilliseconds = suppressed ? atMilliseconds : nil
        contact.suppressionSource = suppressed ? source : nil
        try put(contact, key, txn, &s)
        return .contact(contact, changed: true)
    }

    /// The transition a message about to move to `in_flight` takes instead when its
    /// contact is on the number's suppression list (`suppressed`), or when the message is
    /// free-form, its sender enforces the customer window and the contact wrote nothing
    /// in the last 24 h (`failed`, 131047). Nil: it may go. Costs nothing for a number with
    /// no suppression and no enforced window.
    func gate(
        _ stored: UnsafeRawBufferPointer, _ t: MessageTransition, sender: SenderID, campaign: CampaignID,
        _ txn: borrowing Transaction, _ s: inout WriterState
    ) throws -> MessageTransition? {
        guard let phone = s.senderPhones[sender] else { return nil }
        let window = s.windowEnforced.contains(sender) ? try isFreeForm(campaign, txn, &s) : false
        let suppressions = window ? true : try hasSuppressions(sender, phone, txn, &s)
        guard suppressions else { return nil }
        let to: String
        do { to = try MessageCodec.read(id: t.id, stored, cipher).to } catch {
            throw JournalError(record: error, path: path, table: Schema.messages, key: t.id.description)
        }
        let found = try header(ContactCodec.key(phoneNumberID: phone, waID: to, indexKey: try indexKey(s)), txn)
        if found?.suppressed != nil {
            return MessageTransition(id: t.id, to: .suppressed, updatedMilliseconds: t.updatedMilliseconds)
        }
        if window, !ContactRecord(phoneNumberID: phone, waID: to, lastInboundMilliseconds: found?.lastInbound).windowIsOpen(atMilliseconds: t.updatedMilliseconds) {
            return MessageTransition(
                id: t.id, to: .failed, updatedMilliseconds: t.updatedMilliseconds, errorCode: CustomerWindow.errorCode, errorMessage: CustomerWindow.errorMessage)
        }
        return nil
    }

    private func hasSuppressions(_ sender: SenderID, _ phone: String, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> Bool {
        if let known = s.numbersWithSuppressions[sender] { return known }
        let prefix = ContactCodec.numberPrefix(phone, indexKey: try indexKey(s))
        let any = try txn.withCursor(tables.suppressed) { c in
            try Key.outbox(prefix, 0, 0).withBytes { try c.seek(atLeast: $0) }.map { ContactCodec.numberPart($0.key) == prefix } ?? false
        }
        s.numbersWithSuppressions[sender] = any
        return any
    }

    /// Whether the campaign's message is not a template: read once per campaign.
    private func isFreeForm(_ id: CampaignID, _ txn: borrowing Transaction, _ s: inout WriterState) throws -> Bool {
        if let known = s.freeForm[id] { return known }
        let message = try Key(id: id.rawValue).withBytes { key -> [UInt8] in
            guard let bytes = try txn.get(tables.campaigns, key) else { return [] }
            do { return try CampaignCodec.read(id: id, bytes, cipher).message } catch {
                throw JournalError(record: error, path: path, table: Schema.campaigns, key: id.description)
            }
        }
        let type = (try? JSONSerialization.jsonObject(with: Data(message)) as? [String: Any])?["type"] as? String
        let free = type != "template"
        s.freeForm[id] = free
        return free
    }
}
