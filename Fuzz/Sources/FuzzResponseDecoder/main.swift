import Foundation
import FuzzSupport
import SluiceCore
import SluiceTransport

/// The Cloud API response decoder (`ResponseDecoder`) and the outcome policy behind it.
///
/// Input: a byte choosing the HTTP status, then the body.
///
/// Invariants: decoding never traps and is total — it answers `accepted`, `rejected` or
/// `httpError`, with the status it was given; `accepted` only for 2xx with a non-empty
/// wamid; on a well-formed body (JSON, no escapes) it agrees with `JSONSerialization`
/// (`messages[0].id` on 2xx, else `error.code`); the outcome policy decides every result.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let statuses = [200, 201, 202, 204, 299, 400, 401, 403, 404, 429, 500, 502, 503, 100, 302, 0]
    let choice = input.byte()
    let status = choice < 128 ? statuses[Int(choice) % statuses.count] : Int(choice) * 4 - 400
    let body = input.rest()
    let result = ResponseDecoder.decode(httpStatus: status, body: body)

    switch result {
    case .accepted(let wamid):
        invariant((200..<300).contains(status), "accepted with HTTP \(status)")
        invariant(!wamid.isEmpty, "accepted without a wamid")
    case .rejected(let s, _, _):
        invariant(s == status, "rejected with HTTP \(s), given \(status)")
    case .httpError(let s):
        invariant(s == status, "httpError \(s), given \(status)")
    case .notSent, .inDoubt, .untrusted:
        invariant(false, "the decoder answered \(result), which only the transport may")
    }

    // Against JSONSerialization, on bodies a server would write (no escapes, no repeated
    // key: Foundation keeps the last of a repeated key, the decoder the first).
    if !body.contains(UInt8(ascii: "\\")), body.count <= ResponseDecoder.errorBodyBytesMax, !hasRepeatedKey(body),
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    {
        let id = ((object["messages"] as? [Any])?.first as? [String: Any])?["id"] as? String
        let error = object["error"] as? [String: Any]
        let code = (error?["code"] as? NSNumber).flatMap { error?["code"] is Bool ? nil : Int(exactly: $0.doubleValue) }
        if (200..<300).contains(status), let id, !id.isEmpty {
            invariant(result == .accepted(wamid: id), "\(result) for a 2xx body with messages[0].id \(id.debugDescription): \(show(body))")
        } else if (200..<300).contains(status), id == nil, let code {
            invariant(result == .rejected(httpStatus: status, code: code, message: error?["message"] as? String ?? ""), "\(result) for an error body with code \(code): \(show(body))")
        } else if !(200..<300).contains(status), let code {
            invariant(result == .rejected(httpStatus: status, code: code, message: error?["message"] as? String ?? ""), "\(result) for an error body with code \(code): \(show(body))")
        } else if id == nil, code == nil {
            invariant(result == .httpError(httpStatus: status), "\(result) for a body with neither messages[0].id nor error.code: \(show(body))")
        }
    }

    // The outcome policy decides whatever the decoder answered.
    var rng = SplitMix(seed: UInt64(count))
    for attempts: UInt16 in [1, 2, 100, UInt16.max] {
        _ = OutcomePolicy().decide(result, attempts: attempts, using: &rng)
    }
    if case .rejected(_, let code, _) = result { _ = ErrorClass.classify(code: code) }
    _ = ErrorClass.classify(httpStatus: status)
    return 0
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}

/// Whether a member name that the comparison reads (`messages`, `id`, `error`, `code`,
/// `message`) appears more than once in the body.
func hasRepeatedKey(_ body: [UInt8]) -> Bool {
    let text = String(decoding: body, as: UTF8.self)
    for key in ["\"messages\"", "\"id\"", "\"error\"", "\"code\"", "\"message\""] {
        if text.components(separatedBy: key).count > 2 { return true }
    }
    return false
}
