import ArgumentParser
import Foundation
import NIOCore

struct MediaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media",
        abstract: "Files campaigns send: upload one to the media volume and get the id a message names (\"image\": {\"media\": \"<id>\"}).",
        subcommands: [Upload.self]
    )

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload a file (POST /v1/media); prints its id.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The file (at most WhatsApp's limit for its type: image 5 MB, audio and video 16 MB, document 100 MB).") var file: String
        @Option(help: "Its MIME type; by default from the file name's extension (png, jpg, webp, mp4, 3gp, ogg, mp3, aac, amr, pdf, txt).") var type: String?

        func run() async throws {
            guard let mime = type ?? MediaCommand.mimeType(fileName: file) else {
                throw ValidationError("cannot tell the type of \(file) from its name: give --type, e.g. --type application/pdf")
            }
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                throw ValidationError("cannot read \(file): \(error.localizedDescription)")
            }
            let (_, answer) = try await client.client().exchange(.POST, "/v1/media", body: ByteBuffer(bytes: data), contentType: mime)
            if client.json { return APIClient.printJSON(answer) }
            let stored = answer as? [String: Any] ?? [:]
            say("\(cell(stored["id"]))  \(cell(stored["mime_type"]))  \(cell(stored["size"])) bytes  sha256 \(cell(stored["sha256"]))")
        }
    }

    static let types: [String: String] = [
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "mp4": "video/mp4", "3gp": "video/3gpp",
        "ogg": "audio/ogg", "opus": "audio/ogg", "mp3": "audio/mpeg", "aac": "audio/aac", "amr": "audio/amr", "m4a": "audio/mp4",
        "pdf": "application/pdf", "txt": "text/plain",
    ]

    static func mimeType(fileName: String) -> String? {
        types[URL(fileURLWithPath: fileName).pathExtension.lowercased()]
    }
}
