import AsyncHTTPClient
import Foundation

/// `phone_number_quality_update` webhooks, sent when asked (`POST /__mock/account/{id}`),
/// as WhatsApp sends them: the number named by its display number only, signed with the
/// app secret of the status webhooks.
enum AccountUpdateSender {
    /// `limit` goes in both `current_limit` and `max_daily_conversations_per_business`,
    /// as WhatsApp sends them while it phases the first out.
    static func body(phoneNumberID: String, event: String, limit: String?, oldLimit: String?, time: Int) -> [UInt8] {
        var value: [String: Any] = ["display_phone_number": MockDisplayNumber.of(phoneNumberID), "event": event]
        if let limit {
            value["current_limit"] = limit
            value["max_daily_conversations_per_business"] = limit
        }
        if let oldLimit { value["old_limit"] = oldLimit }
        let root: [String: Any] = [
            "object": "whatsapp_business_account",
            "entry": [["id": "0", "time": time, "changes": [["field": "phone_number_quality_update", "value": value]]]],
        ]
        return Array((try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    /// Posts `body` signed to the configured receiver: its HTTP status, or nil when it could
    /// not be reached.
    static func post(_ body: [UInt8], configuration: WebhookConfiguration) async -> Int? {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let result = await configuration.post(body, client: client)
        try? await client.shutdown()
        return try? Int(result.get())
    }
}
