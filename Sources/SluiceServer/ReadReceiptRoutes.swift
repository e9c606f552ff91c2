import Foundation
import Hummingbird
import SluiceCore
import SluiceEngine

/// `POST /v1/senders/{id}/messages/{wamid}/read` (submit): marks an incoming message read
/// at WhatsApp (the blue ticks), in one of the number's pacing slots, and answers with
/// WhatsApp's verdict.
enum ReadReceiptRoutes {
    /// Longest wamid taken (WhatsApp's are about 60 characters).
    static let wamidBytesMax = 256

    static func add(submit: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher) {
        submit.post("senders/:phone_number_id/messages/:wamid/read") { _, context in
            let phone = try context.parameters.require("phone_number_id")
            let wamid = try context.parameters.require("wamid")
            guard APIRoutes.isPhoneNumberID(phone) else { throw APIError.senderNotRegistered(phone) }
            guard !wamid.isEmpty, wamid.utf8.count <= wamidBytesMax else {
                throw APIError.invalid("wamid", "wamid must be 1 to \(wamidBytesMax) bytes")
            }
            switch try await dispatcher.markRead(phoneNumberID: phone, wamid: wamid) {
            case .unknownSender:
                throw APIError.senderNotRegistered(phone)
            case .unknownMessage:
                throw APIError(.notFound, code: .notFound, field: "wamid", message: "sender '\(phone)' has no incoming message '\(wamid)' (never received, or removed by retention)")
            case .outcome(let outcome):
                return try answer(outcome, phone: phone, wamid: wamid)
            }
        }
    }

    static func answer(_ outcome: ReadReceiptOutcome, phone: String, wamid: String) throws -> Response {
        switch outcome {
        case .read:
            return JSONBody.response(.ok, ["success": true, "sender": phone, "wamid": wamid])
        case .refused(let code, let message):
            throw APIError(.badGateway, code: .whatsappError, message: "WhatsApp refused the read receipt: (#\(code)) \(message)")
        case .failed(let reason):
            throw APIError(.badGateway, code: .whatsappError, message: "WhatsApp did not answer the read receipt: \(reason)")
        case .senderUnavailable(let reason):
            throw APIError(.conflict, code: .senderUnavailable, field: "phone_number_id", message: reason)
        case .timedOut:
            throw APIError(.serviceUnavailable, code: .noSendSlot,
                           message: "no send slot of sender '\(phone)' within \(ReadReceiptOutcome.waitSecondsMax) s: its tier is taken; try again")
        case .stopping:
            throw APIError(.serviceUnavailable, code: .shuttingDown, message: "the dispatcher is stopping; try again once it is back")
        }
    }
}
