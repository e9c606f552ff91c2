import Foundation
import Hummingbird
import SluiceCore
import SluiceEngine

/// A number's suppression list: `GET /v1/senders/{id}/suppressions` (read), `PUT` and
/// `DELETE /v1/senders/{id}/suppressions/{wa_id}` (admin). Contacts also join it by
/// writing an opt-out keyword, and leave it with `START`.
enum SuppressionRoutes {
    static let pageMax = 1_000

    static func add(read: RouterGroup<BasicRequestContext>, admin: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher) {
        read.get("senders/:phone_number_id/suppressions") { request, context in
            let phone = try phoneNumberID(context)
            let query = request.uri.queryParameters
            var limit = 100
            if let text = query["limit"] {
                guard let value = Int(String(text)), (1...pageMax).contains(value) else {
                    throw APIError.invalid("limit", "limit must be a whole number from 1 to \(pageMax)")
                }
                limit = value
            }
            var cursor: SuppressionCursor?
            if let text = query["cursor"] {
                guard let value = SuppressionCursor(text: String(text)) else {
                    throw APIError.invalid("cursor", "cursor must be the next_cursor of an earlier page (32 hex digits)")
                }
                cursor = value
            }
            guard let page = try dispatcher.suppressions(phoneNumberID: phone, after: cursor, limit: limit) else { throw APIError.senderNotRegistered(phone) }
            return JSONBody.response(.ok, [
                "suppressions": page.contacts.map(json),
                "next_cursor": page.next.map { $0.text as Any } ?? NSNull(),
            ])
        }
        admin.put("senders/:phone_number_id/suppressions/:wa_id") { _, context in
            let phone = try phoneNumberID(context)
            let waID = try self.waID(context)
            guard let (contact, changed) = try await dispatcher.setSuppression(phoneNumberID: phone, waID: waID, suppressed: true) else {
                throw APIError.senderNotRegistered(phone)
            }
            return JSONBody.response(changed ? .created : .ok, json(contact))
        }
        admin.delete("senders/:phone_number_id/suppressions/:wa_id") { _, context in
            let phone = try phoneNumberID(context)
            let waID = try self.waID(context)
            guard let (_, changed) = try await dispatcher.setSuppression(phoneNumberID: phone, waID: waID, suppressed: false) else {
                throw APIError.senderNotRegistered(phone)
            }
            guard changed else {
                throw APIError(.notFound, code: .notFound, field: "wa_id", message: "'\(waID)' is not on the suppression list of sender '\(phone)'")
            }
            return Response(status: .noContent)
        }
    }

    static func json(_ c: ContactRecord) -> [String: Any] {
        [
            "wa_id": c.waID,
            "since": c.suppressedMilliseconds.map { APIKeyRoutes.timestamp($0) as Any } ?? NSNull(),
            "source": c.suppressionSource?.description ?? NSNull(),
            "last_inbound_at": c.lastInboundMilliseconds.map { APIKeyRoutes.timestamp($0) as Any } ?? NSNull(),
        ]
    }

    private static func phoneNumberID(_ context: BasicRequestContext) throws -> String {
        let id = try context.parameters.require("phone_number_id")
        guard APIRoutes.isPhoneNumberID(id) else { throw APIError.senderNotRegistered(id) }
        return id
    }

    /// A WhatsApp id: the contact's number, as a campaign's `to` names it.
    private static func waID(_ context: BasicRequestContext) throws -> String {
        let id = try context.parameters.require("wa_id")
        if let problem = CampaignIntake.problem(to: id) {
            throw APIError.invalid("wa_id", "wa_id is the contact's number: " + problem.replacingOccurrences(of: "to must", with: "it must"))
        }
        return id
    }
}
