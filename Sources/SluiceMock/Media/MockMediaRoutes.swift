import Foundation
import Hummingbird
import NIOCore

/// The Graph API's media endpoints, as the mock plays them:
/// - `POST /{version}/{phone-number-id}/media` (multipart: `messaging_product`, `type`,
///   `file`) stores a file and answers `{"id":"…"}`;
/// - `GET /{version}/{media-id}` (in `PhoneNumberRoute`, which shares the path) describes it
///   to a token of its number: `{messaging_product, url, mime_type, sha256, file_size, id}`;
/// - `GET /mock-media/{id}?expires=…&signature=…` is that url: it needs the same token and
///   expires after five minutes.
struct MockMediaRoutes: Sendable {
    static let uploadPath: RouterPath = "/:version/:phoneNumberID/media"
    static let downloadPath: RouterPath = "/mock-media/:id"
    /// Meta's largest (documents).
    static let uploadBytesMax = 100 << 20

    let store: MockMediaStore
    let book: SenderBook
    let tls: Bool

    func register(on router: Router<MockRequestContext>) {
        router.post(Self.uploadPath) { request, context in
            try await upload(request, rawID: context.parameters.get("phoneNumberID") ?? "")
        }
        router.get(Self.downloadPath) { request, context in
            download(request, id: context.parameters.get("id") ?? "")
        }
    }

    /// The token's number when it may act for `phoneNumberID`, else the error to answer.
    func authorize(_ request: Request, phoneNumberID: String) -> MetaError? {
        guard let authorization = request.headers[.authorization], let token = SendRoute.bearerToken(authorization) else {
            return .invalidAccessToken()
        }
        return book.authorizes(phoneNumberID: phoneNumberID, token: token) ? nil : .accessTokenRejected(phoneNumberID: phoneNumberID)
    }

    func upload(_ request: Request, rawID: String) async throws -> Response {
        guard SendRequestValidator.isPhoneNumberID(rawID[...]) else {
            return MetaError.invalidParameter("phone_number_id", "Unsupported post request. Object with ID '\(rawID.prefix(64))' does not exist.").response
        }
        if let error = authorize(request, phoneNumberID: rawID) { return error.response }
        guard let contentType = request.headers[.contentType], let boundary = Multipart.boundary(contentType: contentType) else {
            return MetaError.invalidParameter("file", "the upload must be multipart/form-data with a boundary").response
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.uploadBytesMax + 64 * 1024)
        } catch {
            return MetaError.parameterValueInvalid("file", "the file is larger than \(Self.uploadBytesMax) bytes").response
        }
        let parts = Multipart.parts(Array(body.readableBytesView), boundary: boundary)
        guard parts.first(where: { $0.name == "messaging_product" }).map({ String(decoding: $0.body, as: UTF8.self) }) == "whatsapp" else {
            return MetaError.requiredParameterMissing("messaging_product", "messaging_product must be whatsapp").response
        }
        guard let file = parts.first(where: { $0.name == "file" }), !file.body.isEmpty else {
            return MetaError.requiredParameterMissing("file", "file is required").response
        }
        let declared = parts.first(where: { $0.name == "type" }).map { String(decoding: $0.body, as: UTF8.self) }
        guard let mime = declared ?? file.contentType, !mime.isEmpty else {
            return MetaError.requiredParameterMissing("type", "type (the file's MIME type) is required").response
        }
        if let limit = Self.limit(mimeType: mime), file.body.count > limit {
            return MetaError.parameterValueInvalid("file", "\(file.body.count) bytes is over the \(limit)-byte limit for \(mime)").response
        }
        guard let item = store.put(phoneNumberID: rawID, mimeType: mime, bytes: file.body) else {
            return MetaError.unknownServerError().response
        }
        var bytes = Array(#"{"id":"#.utf8)
        JSONText.appendString(item.id, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return JSONResponse.make(status: .ok, bytes: bytes)
    }

    /// Meta's upload limits by type: image 5 MB, audio and video 16 MB, documents 100 MB.
    static func limit(mimeType: String) -> Int? {
        if mimeType.hasPrefix("image/") { return mimeType == "image/webp" ? 500 << 10 : 5 << 20 }
        if mimeType.hasPrefix("audio/") || mimeType.hasPrefix("video/") { return 16 << 20 }
        return 100 << 20
    }

    /// `GET /{version}/{media-id}` for an id the store holds.
    func describe(_ request: Request, item: MockMediaStore.Item) -> Response {
        if let error = authorize(request, phoneNumberID: item.phoneNumberID) { return error.response }
        if let asked = request.uri.queryParameters["phone_number_id"], String(asked) != item.phoneNumberID {
            return MetaError.invalidParameter("phone_number_id", "media \(item.id) does not belong to phone number \(asked.prefix(64))").response
        }
        let host = request.head.authority ?? "127.0.0.1"
        let expires = WallClock.nowNanoseconds() + MockMediaStore.urlLifetimeNanoseconds
        let url = "\(tls ? "https" : "http")://\(host)/mock-media/\(item.id)?expires=\(expires)&signature=\(store.signature(item.id, expires: expires))"
        var bytes = Array(#"{"messaging_product":"whatsapp","url":"#.utf8)
        JSONText.appendString(url, to: &bytes)
        bytes.append(contentsOf: #","mime_type":"#.utf8)
        JSONText.appendString(item.mimeType, to: &bytes)
        bytes.append(contentsOf: #","sha256":"#.utf8)
        JSONText.appendString(item.sha256, to: &bytes)
        bytes.append(contentsOf: #","file_size":"#.utf8)
        JSONText.appendString(String(item.bytes.count), to: &bytes)
        bytes.append(contentsOf: #","id":"#.utf8)
        JSONText.appendString(item.id, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return JSONResponse.make(status: .ok, bytes: bytes)
    }

    func download(_ request: Request, id: String) -> Response {
        let query = request.uri.queryParameters
        guard let item = store.item(id), let expires = query["expires"].flatMap({ Int64(String($0)) }), let signature = query["signature"],
            store.isValid(id, expires: expires, signature: String(signature), now: WallClock.nowNanoseconds())
        else {
            // Meta's expired or made-up urls answer 404.
            return Response(status: .notFound)
        }
        if let error = authorize(request, phoneNumberID: item.phoneNumberID) { return error.response }
        return Response(
            status: .ok, headers: [.contentType: item.mimeType, .contentLength: String(item.bytes.count)],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: item.bytes)))
    }
}

/// Just enough of multipart/form-data (RFC 7578) for uploads.
enum Multipart {
    struct Part {
        var name: String?
        var filename: String?
        var contentType: String?
        var body: [UInt8]
    }

    static func boundary(contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty || value.utf8.count > 200 ? nil : value
            }
        }
        return nil
    }

    static func parts(_ body: [UInt8], boundary: String) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Part] = []
        guard var start = find(delimiter, in: body, from: 0) else { return [] }
        start += delimiter.count
        while true {
            // "--" after a delimiter closes the body.
            if start + 2 <= body.count, body[start] == 45, body[start + 1] == 45 { break }
            guard let headStart = find([13, 10], in: body, from: start).map({ $0 + 2 }),
                let headEnd = find([13, 10, 13, 10], in: body, from: headStart),
                let next = find([13, 10] + delimiter, in: body, from: headEnd + 4)
            else { break }
            var part = Part(body: Array(body[(headEnd + 4)..<next]))
            let head = String(decoding: body[headStart..<headEnd], as: UTF8.self)
            for line in head.components(separatedBy: "\r\n") {
                let lower = line.lowercased()
                if lower.hasPrefix("content-disposition:") {
                    part.name = value(of: "name", in: line)
                    part.filename = value(of: "filename", in: line)
                } else if lower.hasPrefix("content-type:") {
                    part.contentType = line.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces)
                }
            }
            parts.append(part)
            start = next + 2 + delimiter.count
        }
        return parts
    }

    private static func value(of key: String, in line: String) -> String? {
        for item in line.split(separator: ";").dropFirst() {
            let pair = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0] == key { return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
