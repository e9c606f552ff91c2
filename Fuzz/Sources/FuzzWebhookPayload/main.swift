import FuzzSupport
import SluiceEngine
@testable import SluiceServer

/// `POST /webhooks/whatsapp`: the body's statuses (`WebhookPayload`).
///
/// Input: a byte choosing a small status bound, then the body.
///
/// Invariants: a refusal is a `ParseError` naming a field; statuses never exceed the bound,
/// and a body parses under a small bound exactly when it holds at most that many statuses;
/// a matched status names a message id above 0; statuses come with the phone number id
/// whose app secret must verify them.
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
    let total = payload.updates.count + payload.unmatched
    invariant(total <= WebhookRoutes.statusesPerBodyMax, "\(total) statuses passed the bound")
    invariant(payload.updates.allSatisfy { $0.message.rawValue > 0 }, "a status for message id 0")
    invariant(total == 0 || !payload.phoneNumberIDs.isEmpty, "statuses without a phone number id to verify them with")
    do {
        let small = try WebhookPayload(body: body, statusesMax: smallMax)
        invariant(total <= smallMax, "\(total) statuses parsed under a bound of \(smallMax)")
        invariant(small.updates == payload.updates && small.unmatched == payload.unmatched, "the bound changed what was parsed")
    } catch {
        invariant(total > smallMax, "\(total) statuses refused under a bound of \(smallMax): \(error)")
    }
    return 0
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}
