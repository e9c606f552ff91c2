/// The kinds of WhatsApp media and Meta's size limit for each.
public enum MediaKind: String, CaseIterable, Sendable {
    case image, video, audio, document, sticker

    /// Meta's limit: image 5 MB, audio and video 16 MB, document 100 MB, sticker 500 KB
    /// (animated; static ones are 100 KB, but a webhook does not say which).
    public var bytesMax: Int64 {
        switch self {
        case .image: 5 << 20
        case .audio, .video: 16 << 20
        case .document: 100 << 20
        case .sticker: 500 << 10
        }
    }
}

/// Media types as Meta gives them (`image/jpeg`, `audio/ogg; codecs=opus`).
public enum MIMEType {
    public static let bytesMax = 255

    /// A type/subtype with optional parameters, in printable ASCII without quotes or
    /// backslashes: safe as a stored `Content-Type` header (no CR, LF or other control).
    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard (3...bytesMax).contains(bytes.count), let slash = bytes.firstIndex(of: UInt8(ascii: "/")),
            slash != bytes.startIndex, bytes.first != UInt8(ascii: " ")
        else { return false }
        return bytes.allSatisfy { $0 >= 0x20 && $0 <= 0x7e && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }
}

/// What an incoming media message says of its media (`image: {id, mime_type, sha256}`).
public struct MediaReference: Sendable, Equatable {
    /// Meta's media id: `GET /{media-id}` with the number's token gives its download url.
    public var id: String
    public var kind: MediaKind
    public var mimeType: String?
    /// As the webhook gave it (base64 in webhooks; hex from `GET /{media-id}`).
    public var sha256: String?

    public init(id: String, kind: MediaKind, mimeType: String? = nil, sha256: String? = nil) {
        self.id = id
        self.kind = kind
        self.mimeType = mimeType
        self.sha256 = sha256
    }
}

/// One piece of media in the media volume, as the journal tracks it: downloaded from
/// Meta (`pending` until then), stored under its SHA-256, or given up on.
public struct MediaRecord: Sendable, Equatable {
    public enum State: UInt8, Sendable, CustomStringConvertible {
        case pending = 0
        case stored = 1
        case failed = 2

        public var description: String {
            switch self {
            case .pending: "pending"
            case .stored: "stored"
            case .failed: "failed"
            }
        }
    }

    /// Meta's media id; also Sluice's (`GET /v1/media/{id}`).
    public var id: String
    /// The number whose token fetches it.
    public var senderPhoneNumberID: String
    public var kind: MediaKind
    public var state: State
    /// The webhook's until the download says otherwise.
    public var mimeType: String
    /// Lowercase hex of the stored bytes; empty until stored.
    public var sha256: String
    public var size: Int64
    public var attempts: UInt32
    /// When a pending download is tried next (wall-clock ms).
    public var nextAttemptMilliseconds: Int64
    /// Why the last attempt failed (pending) or why it was given up (failed).
    public var error: String?
    public var receivedMilliseconds: Int64
    /// When it was stored or given up; 0 while pending.
    public var settledMilliseconds: Int64

    public init(
        id: String, senderPhoneNumberID: String, kind: MediaKind, state: State = .pending, mimeType: String, sha256: String = "",
        size: Int64 = 0, attempts: UInt32 = 0, nextAttemptMilliseconds: Int64, error: String? = nil, receivedMilliseconds: Int64,
        settledMilliseconds: Int64 = 0
    ) {
        self.id = id
        self.senderPhoneNumberID = senderPhoneNumberID
        self.kind = kind
        self.state = state
        self.mimeType = mimeType
        self.sha256 = sha256
        self.size = size
        self.attempts = attempts
        self.nextAttemptMilliseconds = nextAttemptMilliseconds
        self.error = error
        self.receivedMilliseconds = receivedMilliseconds
        self.settledMilliseconds = settledMilliseconds
    }
}

/// The outcome of one download attempt.
public enum MediaSettlement: Sendable, Equatable {
    /// In the volume under `sha256` (lowercase hex).
    case stored(id: String, sha256: String, mimeType: String, size: Int64, atMilliseconds: Int64)
    /// Failed, tried again at `nextAttemptMilliseconds`.
    case retry(id: String, attempts: UInt32, nextAttemptMilliseconds: Int64, error: String)
    /// Given up: refused (too large, not what Meta described) or out of attempts.
    case failed(id: String, attempts: UInt32, error: String, atMilliseconds: Int64)

    public var id: String {
        switch self {
        case .stored(let id, _, _, _, _), .retry(let id, _, _, _), .failed(let id, _, _, _): id
        }
    }
}

extension MediaKind {
    /// The kind a file uploaded through `POST /v1/media` is kept as, by its type's family:
    /// its size limit at upload (any other use is checked when a campaign names it).
    public init(uploadedMIMEType mime: String) {
        let family = mime.lowercased()
        if family.hasPrefix("image/") {
            self = .image
        } else if family.hasPrefix("video/") {
            self = .video
        } else if family.hasPrefix("audio/") {
            self = .audio
        } else {
            self = .document
        }
    }

    /// Why a stored file cannot be sent as this kind (Meta would refuse it), or nil.
    public func problem(mimeType: String, size: Int64) -> String? {
        let mime = mimeType.lowercased()
        let family: String? = switch self {
        case .image, .sticker: "image/"
        case .video: "video/"
        case .audio: "audio/"
        case .document: nil
        }
        if let family, !mime.hasPrefix(family) { return "a \(rawValue) must be \(family)*, not \(mimeType)" }
        if self == .sticker, !mime.hasPrefix("image/webp") { return "a sticker must be image/webp, not \(mimeType)" }
        if size > bytesMax { return "\(size) bytes is over WhatsApp's \(bytesMax)-byte limit for a \(rawValue)" }
        return nil
    }
}

extension MediaRecord {
    /// Uploaded through `POST /v1/media` (to be sent), not received from a customer.
    public var isUpload: Bool { senderPhoneNumberID.isEmpty }

    /// Prefix of the ids Sluice gives uploads: Meta's ids are digits, so they never meet.
    public static let uploadIDPrefix = "up_"
}

/// An uploaded file as one number's Meta media id: `POST /{phone-number-id}/media` gives
/// an id that number may send for 30 days.
public struct MediaUpload: Sendable, Equatable {
    /// Sluice's media id (`MediaRecord.id`).
    public var media: String
    public var sender: SenderID
    /// What WhatsApp calls it for this number.
    public var metaID: String
    public var uploadedMilliseconds: Int64
    /// After this Meta no longer knows `metaID`.
    public var expiresMilliseconds: Int64

    public init(media: String, sender: SenderID, metaID: String, uploadedMilliseconds: Int64, expiresMilliseconds: Int64) {
        self.media = media
        self.sender = sender
        self.metaID = metaID
        self.uploadedMilliseconds = uploadedMilliseconds
        self.expiresMilliseconds = expiresMilliseconds
    }
}
