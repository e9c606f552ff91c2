import Foundation
import FuzzSupport
import SluiceEngine
@testable import SluiceServer

/// `POST /webhooks/whatsapp`: the body's statuses and incoming messages (`WebhookPayload`).
///
/// Input: a byte choosing a small bound, then the body.
///
/// Invariants: a refusal is a `ParseError` naming a field; statuses and messages together
/// never exceed the bound, and a body parses under a small bound exactly when it holds at
/// most that many; a matched status names a message id above 0 or a wamid; an incoming
/// message has a wamid the journal can key by, a type and a JSON object; statuses and
/// messages come with the phone number id whose app secret must verify them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let smallMax = Int(input.byte() % 4)
    let body = input.rest()
    let payload: WebhookPayload
    do {
        payload = try WebhookPayload(body: body, statusesMax: WebhookRoutes.statusesPerBodyMax)
    } catch let error as WebhookPayload.ParseError {
        invariant(!error.field.isEmpty && !error.message.isEmpty, "a ParseError without a field or message")
        let small = try? WebhookPayload(body: body, statusesMax: smallMax)
        invariant(small == nil, "a body refused under the full bound parsed under \(smallMax)")
        return 0
    } catch {
        invariant(false, "WebhookPayload threw \(error), not a ParseError")
        return 0
    }
    let total = payload.updates.count + payload.unmatched + payload.messages.count + payload.accountChanges.count
    invariant(total <= WebhookRoutes.statusesPerBodyMax, "\(total) statuses, messages and account changes passed the bound")
    invariant(payload.updates.allSatisfy { $0.message.map { $0.rawValue > 0 } ?? ($0.wamid != nil) }, "a status for message id 0, or with nothing to match it by")
    invariant(total - payload.accountChanges.count == 0 || !payload.phoneNumberIDs.isEmpty, "statuses or messages without a phone number id to verify them with")
    for change in payload.accountChanges {
        invariant(!Dispatcher.displayDigits(change.displayPhoneNumber).isEmpty && !change.event.isEmpty, "an account change without a display number or an event")
    }
    for m in payload.messages {
        invariant(!m.wamid.isEmpty && m.wamid.utf8.count <= WebhookPayload.wamidBytesMax, "an incoming message whose wamid the journal cannot key by")
        invariant(!m.type.isEmpty && payload.phoneNumberIDs.contains(m.senderPhoneNumberID), "an incoming message without a type or a verified number")
        invariant((try? JSONSerialization.jsonObject(with: Data(m.object))) is [String: Any], "an incoming message whose object is not a JSON object")
        if let media = m.media {
            invariant(MediaRoutes.isMediaID(media.id) && media.kind.rawValue == m.type, "a media reference whose id cannot be a key and a path, or of another type")
        }
    }
    do {
        let small = try WebhookPayload(body: body, statusesMax: smallMax)
        invariant(total <= smallMax, "\(total) statuses and messages parsed under a bound of \(smallMax)")
        invariant(
            small.updates == payload.updates && small.unmatched == payload.unmatched && small.messages == payload.messages
                && small.accountChanges.count == payload.accountChanges.count, "the bound changed what was parsed")
    } catch {
        invariant(total > smallMax, "\(total) statuses and messages refused under a bound of \(smallMax): \(error)")
    }
    return 0
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}
