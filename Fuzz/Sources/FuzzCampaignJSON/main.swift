import FuzzSupport
import NIOCore
import SluiceCore
import SluiceEngine
@testable import SluiceServer
import SluiceTransport

/// `POST /v1/campaigns` with a JSON body, up to the bytes the transport would send:
/// the route's streamed parse (`JSONCampaignScanner` fed in chunks whose size the first
/// input byte picks, then `JSONIntake`'s member and recipient parsers), the message
/// template, intake's recipient check, and rendering.
///
/// Invariants: a refusal is an `APIError` with status 400 (never a trap, never another
/// error that would answer 500); an accepted sender is a phone_number_id; an accepted
/// message object compiles or is refused with a reason; every recipient intake accepts
/// renders to one JSON object with Sluice's envelope.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput(start, count)
    let campaign: (sender: String, message: [UInt8], recipients: [RecipientInput], options: CampaignOptions)
    do {
        let bytes = Array(input.bytes)
        let chunk = bytes.isEmpty ? 1 : Int(bytes[0]) + 1
        campaign = try JSONIntake.parse(bytes, chunkBytes: chunk)
    } catch let error as APIError {
        invariant(error.status == .badRequest || error.status == .contentTooLarge, "a JSON body was refused with \(error.status): \(error.message)")
        return 0
    } catch {
        invariant(false, "a JSON body was refused with \(error) (not an APIError: the API would answer 500)")
        return 0
    }
    invariant(APIRoutes.isPhoneNumberID(campaign.sender), "sender \(campaign.sender.debugDescription) passed the parse")
    let template: MessageTemplate
    do {
        template = try MessageTemplate(messageObject: campaign.message)
    } catch {
        invariant(!error.field.isEmpty && !error.description.isEmpty, "a template error without a field or reason")
        return 0
    }
    for recipient in campaign.recipients.prefix(16) {
        guard CampaignIntake.problem(recipient: recipient, placeholderCount: template.placeholderCount) == nil else { continue }
        checkRender(template, to: recipient.to, params: recipient.params)
    }
    return 0
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}
