import Foundation
import FuzzSupport
import SluiceCore
@testable import SluiceServer

/// Meta's description of a media file (`GET /{media-id}`), as the media fetcher judges it
/// before downloading anything (`MediaFetcher.description`).
///
/// Input: a byte choosing the HTTP status and whether the Graph API is reached over http,
/// then the body.
///
/// Invariants: judging is total (a description or a `Problem` with a reason); a
/// description comes only from a 200 and has a url with a host, https unless http is
/// allowed; its SHA-256 is 64 lowercase hex digits; its size is not negative; its MIME
/// type is safe as a `Content-Type` header (no control character). A refusal is permanent
/// only for 400 and 404 (the id is unknown or expired).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let statuses: [UInt] = [200, 200, 200, 200, 400, 401, 404, 429, 500, 503]
    let choice = input.byte()
    let status = statuses[Int(choice & 0x7f) % statuses.count]
    let allowsHTTP = choice & 0x80 != 0
    let body = input.rest()
    do {
        let d = try MediaFetcher.description(status: status, body: body, allowsHTTP: allowsHTTP)
        invariant(status == 200, "a description from HTTP \(status)")
        let url = URL(string: d.url)
        let scheme = url?.scheme?.lowercased()
        invariant(url?.host?.isEmpty == false, "a url without a host: \(d.url)")
        invariant(scheme == "https" || (scheme == "http" && allowsHTTP), "a \(scheme ?? "schemeless") url: \(d.url)")
        if let sha = d.sha256 {
            invariant(sha.utf8.count == 64 && sha.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }, "a SHA-256 that is not lowercase hex: \(sha)")
        }
        if let size = d.size { invariant(size >= 0, "a negative size \(size)") }
        if let mime = d.mimeType {
            invariant(mime.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f } && MIMEType.isValid(mime), "a MIME type unsafe as a header: \(mime.debugDescription)")
        }
    } catch {
        invariant(!error.reason.isEmpty, "a refusal without a reason")
        invariant(!error.permanent || status == 400 || status == 404, "a permanent refusal for HTTP \(status)")
    }
    return 0
}

@main enum Main {
    static func main() { runLibFuzzer(fuzz) }
}
