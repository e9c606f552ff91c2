import Foundation
import Hummingbird
import NIOCore
import SluiceCore
import SluiceEngine

/// `GET /v1/senders` (read), `POST /v1/senders/{id}/pause|resume` and
/// `DELETE /v1/senders/{id}` (admin), and the messaging-limit members of a `PUT`.
enum SenderRoutes {
    static let pauseBodyBytesMax = 4 * 1024
    static let reasonBytesMax = 512

    static func add(read: RouterGroup<BasicRequestContext>, admin: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher) {
        read.get("senders") { _, _ in
            let live = Dictionary(dispatcher.senderSnapshots().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let list = try dispatcher.senders().map { liveJSON($0, live[$0.id]) }
            return JSONBody.response(.ok, ["senders": list])
        }
        admin.delete("senders/:phone_number_id") { _, context in
            let id = try context.parameters.require("phone_number_id")
            guard APIRoutes.isPhoneNumberID(id) else {
                throw APIError.invalid("phone_number_id", "phone_number_id must be 1–\(CampaignIntake.phoneNumberIDBytesMax) digits")
            }
            let deleted: SenderRecord?
            do {
                deleted = try await dispatcher.deleteSender(phoneNumberID: id)
            } catch let error as SenderDeletionError {
                throw APIError(.conflict, code: .senderBusy, field: "phone_number_id", message: error.description)
            }
            guard deleted != nil else { return try answer(nil, id) }
            return Response(status: .noContent)
        }
        admin.post("senders/:phone_number_id/pause") { request, context in
            let id = try context.parameters.require("phone_number_id")
            guard APIRoutes.isPhoneNumberID(id) else { return try answer(nil, id) }
            var reason: String?
            // The body is optional: `{"reason": "…"}`.
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: pauseBodyBytesMax)
            } catch is NIOTooManyBytesError {
                throw APIError(.contentTooLarge, code: .bodyTooLarge, message: "the request body is larger than \(pauseBodyBytesMax) bytes")
            }
            if buffer.readableBytes > 0 {
                guard let body = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] else {
                    throw APIError(.badRequest, code: .malformedJSON, message: "the request body must be a JSON object such as {\"reason\": \"…\"}")
                }
                try KnownFields.check(body, ["reason"])
                if let value = body["reason"] {
                    guard let text = value as? String, !text.isEmpty, text.utf8.count <= reasonBytesMax else {
                        throw APIError.invalid("reason", "reason must be a non-empty string of at most \(reasonBytesMax) bytes")
                    }
                    reason = text
                }
            }
            return try await answer(dispatcher.setSenderPaused(phoneNumberID: id, paused: true, reason: reason), id)
        }
        admin.post("senders/:phone_number_id/resume") { _, context in
            let id = try context.parameters.require("phone_number_id")
            guard APIRoutes.isPhoneNumberID(id) else { return try answer(nil, id) }
            return try await answer(dispatcher.setSenderPaused(phoneNumberID: id, paused: false, reason: nil), id)
        }
    }

    /// A sender with the dispatch loop's live figures, when it has them.
    static func liveJSON(_ record: SenderRecord, _ live: SenderSnapshot?) -> [String: Any] {
        var json = APIRoutes.senderJSON(record)
        guard let s = live else { return json }
        json["effective_mps"] = s.effectiveMessagesPerSecond
        json["inbound_reserve_mps"] = s.inboundReserveMessagesPerSecond
        json["staged"] = s.staged
        json["in_flight"] = s.inFlight
        json["in_flight_limit"] = s.inFlightLimit
        json["unique_recipients_24h"] = s.uniqueRecipients24h
        json["limited_until"] = s.limitedUntilMilliseconds.map { APIKeyRoutes.timestamp($0) as Any } ?? NSNull()
        json["send_rate"] = (s.sendRate * 10).rounded() / 10
        json["endpoint_error"] = s.endpointError.map { $0 as Any } ?? NSNull()
        json["owned"] = s.owned
        return json
    }

    /// `messaging_limit` (250, 2000, 10000, 100000, `"unlimited"` or null) and `group` (a
    /// name, or null for the sender alone) of a `PUT` body; absent members keep what is stored.
    static func limitSettings(_ body: [String: Any]) throws(APIError) -> (SenderSetting<Int>, SenderSetting<String>) {
        var limit = SenderSetting<Int>.keep
        if let value = body["messaging_limit"] {
            let allowed = RecipientWindow.tiers.map(String.init).joined(separator: ", ")
            if value is NSNull || (value as? String) == "unlimited" {
                limit = .set(nil)
            } else if let n = APIRoutes.number(value), n == n.rounded(), let exact = Int(exactly: n), CampaignIntake.problem(messagingLimit: exact) == nil {
                limit = .set(exact)
            } else {
                throw APIError.invalid("messaging_limit", "messaging_limit must be one of \(allowed), \"unlimited\" or null")
            }
        }
        var group = SenderSetting<String>.keep
        if let value = body["group"] {
            if value is NSNull {
                group = .set(nil)
            } else if let name = value as? String, CampaignIntake.problem(group: name) == nil {
                group = .set(name)
            } else {
                throw APIError.invalid("group", "group must be null or 1–\(CampaignIntake.groupBytesMax) letters, digits, '.', '_' or '-'")
            }
        }
        return (limit, group)
    }

    /// `customer_window` (`"enforce"` or `"off"`) and `opt_out_keywords` (a list of
    /// texts, or null for the standard ones) of a `PUT` body; absent members keep what is stored.
    static func contactSettings(_ body: [String: Any]) throws(APIError) -> (CustomerWindowPolicy?, SenderSetting<[String]>) {
        var window: CustomerWindowPolicy?
        if let value = body["customer_window"] {
            guard let name = value as? String, let policy = CustomerWindowPolicy(name: name) else {
                throw APIError.invalid("customer_window", "customer_window must be \"enforce\" or \"off\"")
            }
            window = policy
        }
        var keywords = SenderSetting<[String]>.keep
        if let value = body["opt_out_keywords"] {
            if value is NSNull {
                keywords = .set(nil)
            } else if let list = value as? [Any], let texts = list as? [String], list.count == texts.count {
                if let problem = ContactKeywords.problem(texts) { throw APIError.invalid("opt_out_keywords", problem) }
                keywords = .set(texts)
            } else {
                throw APIError.invalid("opt_out_keywords", "opt_out_keywords must be a list of texts, or null for the standard ones")
            }
        }
        return (window, keywords)
    }

    private static func answer(_ record: SenderRecord?, _ id: String) throws -> Response {
        guard let record else {
            throw APIError.senderNotRegistered(id)
        }
        return JSONBody.response(.ok, APIRoutes.senderJSON(record))
    }
}
