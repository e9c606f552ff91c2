import Foundation
import Hummingbird
import SluiceCore
import SluiceEngine

/// `GET /v1/media/{id}`: a file of the media volume with its Content-Type (scope
/// `media:read`; admin keys too). 404 for an unknown id, 409 while it is being
/// downloaded, 404 `media_failed` (with the reason) when it was given up.
///
/// `POST /v1/media` (scope `submit`): the raw body, with its Content-Type, becomes a file
/// campaigns can send (`{"image": {"media": "<id>"}}`): 201 `{id, sha256, mime_type, size}`.
/// Streamed to the volume, within Meta's limit for its type's family.
enum MediaRoutes {
    /// Longest media id taken (Meta's are about 16 digits).
    static let idBytesMax = 128

    /// Letters, digits, '-' and '_': Meta's ids are digits.
    static func isMediaID(_ text: String) -> Bool {
        let bytes = text.utf8
        return (1...idBytesMax).contains(bytes.count)
            && bytes.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 }
    }

    /// The path an event names the file by.
    static func path(_ id: String) -> String { "/v1/media/\(id)" }

    static func addUpload(to group: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher) {
        group.post("media") { request, _ in
            try await upload(request, dispatcher: dispatcher)
        }
    }

    /// `id`, `sha256`: a file handed over by another node of the cluster keeps its id.
    static func upload(_ request: Request, dispatcher: Dispatcher, id: String? = nil, sha256: String? = nil) async throws -> Response {
        guard let contentType = request.headers[.contentType], !contentType.isEmpty else {
            throw APIError.invalid("Content-Type", "Content-Type is required: the file's MIME type, e.g. image/jpeg")
        }
        let mime = contentType.trimmingCharacters(in: .whitespaces)
        guard MIMEType.isValid(mime) else {
            throw APIError.invalid("Content-Type", "Content-Type '\(mime.prefix(80))' is not a MIME type (type/subtype)")
        }
        guard !mime.lowercased().hasPrefix("multipart/") else {
            throw APIError.invalid("Content-Type", "send the file itself as the body, with its own Content-Type, not a multipart form")
        }
        let kind = MediaKind(uploadedMIMEType: mime)
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > kind.bytesMax {
            throw APIError(.contentTooLarge, code: .bodyTooLarge, message: "\(length) bytes is over WhatsApp's \(kind.bytesMax)-byte limit for \(mime)")
        }
        let file = try dispatcher.mediaVolume.create()
        do {
            for try await buffer in request.body {
                guard file.size + Int64(buffer.readableBytes) <= kind.bytesMax else {
                    throw APIError(.contentTooLarge, code: .bodyTooLarge, message: "the file is over WhatsApp's \(kind.bytesMax)-byte limit for \(mime)")
                }
                try buffer.withUnsafeReadableBytes { try file.write($0) }
            }
            guard file.size > 0 else { throw APIError.invalid("body", "the body is empty: send the file's bytes") }
        } catch {
            file.discard()
            throw error
        }
        let record: MediaRecord
        do {
            record = try await dispatcher.storeUpload(file, mimeType: mime, id: id, sha256: sha256)
        } catch let error as MediaUploadError {
            throw APIError.invalid("body", error.description)
        }
        return JSONBody.response(.created, ["id": record.id, "sha256": record.sha256, "mime_type": record.mimeType, "size": record.size, "url": path(record.id)])
    }

    static func add(to group: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher) {
        let files = FileIO()
        group.get("media/:id") { _, context in
            let id = try context.parameters.require("id")
            guard isMediaID(id), let record = try dispatcher.media(id: id) else {
                throw APIError(.notFound, code: .notFound, field: "id", message: "no media '\(id)' is known")
            }
            switch record.state {
            case .pending:
                throw APIError(
                    .conflict, code: .mediaPending, field: "id",
                    message: "media \(id) is still being downloaded (\(record.attempts) attempt(s) so far\(record.error.map { "; last: \($0)" } ?? ""))")
            case .failed:
                throw APIError(.notFound, code: .mediaFailed, field: "id", message: "media \(id) was not stored: \(record.error ?? "download failed")")
            case .stored:
                let path = dispatcher.mediaVolume.path(sha256: record.sha256)
                guard dispatcher.mediaVolume.contains(sha256: record.sha256) else {
                    throw APIError(.notFound, code: .mediaFailed, field: "id", message: "media \(id)'s file is missing from the media volume")
                }
                let body = try await files.loadFile(path: path, context: context)
                var headers: HTTPFields = [
                    .contentType: record.mimeType, .contentLength: String(record.size), .eTag: "\"\(record.sha256)\"",
                    .cacheControl: "private, max-age=86400, immutable",
                ]
                headers[HTTPFields.Element.Name("X-Content-SHA256")!] = record.sha256
                return Response(status: .ok, headers: headers, body: body)
            }
        }
    }

    /// What a message event says of its media: where it is, or why it is not.
    static func eventJSON(_ reference: MediaReference, _ record: MediaRecord?) -> [String: Any] {
        guard let record else {
            return ["id": reference.id, "mime_type": reference.mimeType as Any? ?? NSNull(), "error": "no longer kept (retention)"]
        }
        switch record.state {
        case .stored:
            return ["id": record.id, "sha256": record.sha256, "mime_type": record.mimeType, "size": record.size, "url": path(record.id)]
        case .pending, .failed:
            return ["id": record.id, "mime_type": record.mimeType.isEmpty ? NSNull() : record.mimeType, "error": record.error ?? "download failed"]
        }
    }
}
