import SluiceCore
import SluiceJournal

/// A number's contacts: its suppression list and customer windows.
extension Dispatcher {
    /// Puts `waID` on the number's suppression list (`suppressed: true`) or takes it off.
    /// Nil when the number is not registered. Campaign messages to a suppressed contact
    /// end `suppressed` when their turn comes, without a request.
    public func setSuppression(phoneNumberID: String, waID: String, suppressed: Bool) async throws -> (contact: ContactRecord, changed: Bool)? {
        guard try journal.sender(phoneNumberID: phoneNumberID) != nil else { return nil }
        let receipt = try await journal.apply([
            .setSuppression(phoneNumberID: phoneNumberID, waID: waID, suppressed: suppressed, atMilliseconds: clock.wallMilliseconds(), source: .api)
        ])
        guard case .contact(let contact, let changed)? = receipt.results.first else {
            preconditionFailure("journal answered setSuppression with \(receipt.results)")
        }
        return (contact, changed)
    }

    /// A page of the number's suppression list; nil when the number is not registered.
    public func suppressions(phoneNumberID: String, after cursor: SuppressionCursor?, limit: Int) throws -> (contacts: [ContactRecord], next: SuppressionCursor?)? {
        guard try journal.sender(phoneNumberID: phoneNumberID) != nil else { return nil }
        return try journal.suppressions(phoneNumberID: phoneNumberID, after: cursor, limit: limit)
    }

    /// What the journal keeps of a contact of the number.
    public func contact(phoneNumberID: String, waID: String) throws -> ContactRecord? {
        try journal.contact(phoneNumberID: phoneNumberID, waID: waID)
    }
}
