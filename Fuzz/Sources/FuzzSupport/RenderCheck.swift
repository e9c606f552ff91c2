import Foundation
import SluiceTransport

/// Renders one body with `template` and checks what the transport would send: one JSON
/// object whose envelope is Sluice's (`messaging_product`, `recipient_type`, `to`,
/// `biz_opaque_callback_data`), whatever the message object and the parameters held.
public func checkRender(_ template: MessageTemplate, to: String, params: [String], callbackData: String = "4711") {
    var body: [UInt8] = []
    template.render(to: to, params: params, callbackData: callbackData, into: &body)
    let parsed = try? JSONSerialization.jsonObject(with: Data(body))
    guard let object = parsed as? [String: Any] else {
        invariant(false, "a rendered body is not a JSON object: \(String(decoding: body, as: UTF8.self))")
        return
    }
    invariant(object["messaging_product"] as? String == "whatsapp", "messaging_product is not whatsapp")
    invariant(object["recipient_type"] as? String == "individual", "recipient_type is not individual")
    invariant(object["to"] as? String == to, "to is not the recipient")
    invariant(object["biz_opaque_callback_data"] as? String == callbackData, "biz_opaque_callback_data is not Sluice's")
    invariant(object["type"] is String, "type is missing from a rendered body")
}

/// The UTF-8 of a string, for messages.
public func show(_ bytes: some Collection<UInt8>) -> String {
    String(decoding: bytes.prefix(300), as: UTF8.self).debugDescription
}
