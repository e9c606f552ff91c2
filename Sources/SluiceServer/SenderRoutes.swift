import Foundation
import Hummingbird
import NIOCore
import SluiceCore
import SluiceEngine

/// `GET /v1/senders` (read) and `POST /v1/senders/{id}/pause|resume` (admin).
enum SenderRoutes {
    static let pauseBodyBytesMax = 4 * 1024
    static let reasonBytesMax = 512

    static func add(read: RouterGroup<BasicRequestContext>, admin: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher) {
        read.get("senders") { _, _ in
            let live = Dictionary(dispatcher.senderSnapshots().map { ($0.phoneNumberID, $0) }, uniquingKeysWith: { a, _ in a })
            let list = try dispatcher.senders().map { record -> [String: Any] in
                var json = APIRoutes.senderJSON(record)
                if let s = live[record.phoneNumberID] {
                    json["effective_mps"] = s.effectiveMessagesPerSecond
                    json["staged"] = s.staged
                    json["in_flight"] = s.inFlight
                }
                return json
            }
            return JSONBody.response(.ok, ["senders": list])
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
                throw APIError(.contentTooLarge, code: "body_too_large", message: "the request body is larger than \(pauseBodyBytesMax) bytes")
            }
            if buffer.readableBytes > 0 {
                guard let body = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] else {
                    throw APIError(.badRequest, code: "malformed_json", message: "the request body must be a JSON object such as {\"reason\": \"…\"}")
                }
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

    private static func answer(_ record: SenderRecord?, _ id: String) throws -> Response {
        guard let record else {
            throw APIError(.notFound, code: "not_found", field: "phone_number_id", message: "sender '\(id)' is not registered")
        }
        return JSONBody.response(.ok, APIRoutes.senderJSON(record))
    }
}
