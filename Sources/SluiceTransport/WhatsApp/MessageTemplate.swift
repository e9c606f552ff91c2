import Foundation
import SluiceCore

/// A campaign's Cloud API message object compiled once into literal byte segments and
/// parameter slots, so that each message's body is rendered by splicing bytes.
///
/// ```swift
/// let template = try MessageTemplate(messageObject: Array(#"{"type":"text","text":{"body":"Hi {{1}}"}}"#.utf8))
/// var body: [UInt8] = []
/// template.render(to: "15551234567", params: ["Ann"], callbackData: "42", into: &body)
/// ```
public struct MessageTemplate: Sendable {
    /// The largest `{{n}}` accepted; WhatsApp templates use far fewer.
    public static let placeholderNumberMax = 100
    /// The largest message object accepted, in bytes.
    public static let messageObjectBytesMax = 64 * 1024

    /// Highest `{{n}}` used in the message object; `params` should have this many values.
    public let placeholderCount: Int

    /// A file of the media volume the message names (`"image": {"media": "<id>"}`), sent
    /// by the Meta media id it has for the campaign's number.
    public struct MediaUse: Sendable, Equatable {
        /// Sluice's media id.
        public var id: String
        /// How the message sends it.
        public var kind: MediaKind
        /// Where it is named, for errors: `message.image.media`.
        public var field: String
    }

    /// The files the message names, in order of appearance (an id may repeat).
    public let media: [MediaUse]
    /// Whether each `media` reference was replaced by a Meta media id: only such a
    /// template is sent.
    public let mediaResolved: Bool

    /// All literal bytes, in order; `parts` say where to splice values between them.
    private let literal: [UInt8]
    private let parts: [Part]

    private enum Slot: Sendable {
        case recipient
        case callbackData
        case param(Int)  // zero-based index into `params`
    }

    /// `literal[literalStart..<literalEnd]`, then the slot's value (if any).
    private struct Part: Sendable {
        var literalStart: Int
        var literalEnd: Int
        var slot: Slot?
    }

    /// Keys that Sluice writes itself: the client's values are dropped.
    private static let envelopeKeys: Set<String> = ["to", "messaging_product", "recipient_type", "biz_opaque_callback_data"]

    /// Compiles a Cloud API message object (a JSON object, UTF-8), e.g.
    /// `{"type":"text","text":{"body":"Hi {{1}}"}}` or
    /// `{"type":"template","template":{"name":"x","language":{"code":"en"},"components":[…]}}`.
    ///
    /// Validates the fields Sluice depends on, drops `to`, `messaging_product`,
    /// `recipient_type` and `biz_opaque_callback_data`, and finds the `{{n}}` placeholders
    /// in string values.
    ///
    /// A media object may name a file of the media volume instead of an `id` or `link`:
    /// `{"type":"image","image":{"media":"<id>","caption":"…"}}`, likewise a template
    /// header parameter. With `mediaIDs` (Sluice id → the number's Meta media id) each is
    /// written as `"id":"<meta id>"`; without, the template only validates (`mediaResolved`
    /// is false when it names any).
    public init(messageObject: [UInt8], mediaIDs: [String: String]? = nil) throws(TemplateError) {
        guard messageObject.count <= Self.messageObjectBytesMax else {
            throw TemplateError(field: "message", description: "message is larger than \(Self.messageObjectBytesMax) bytes")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(messageObject), options: [])
        } catch {
            throw TemplateError(field: "message", description: "message is not valid JSON")
        }
        guard var object = parsed as? [String: Any] else {
            throw TemplateError(field: "message", description: "message must be a JSON object")
        }
        try Self.validate(object)
        for key in Self.envelopeKeys { object.removeValue(forKey: key) }
        var uses: [MediaUse] = []
        try Self.resolveMedia(&object, mediaIDs: mediaIDs, into: &uses)
        self.media = uses
        self.mediaResolved = uses.isEmpty || mediaIDs != nil

        let serialized: Data
        do {
            serialized = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw TemplateError(field: "message", description: "message cannot be serialized as JSON")
        }
        var text = [UInt8](serialized)
        // `{…}` with at least `type`: splice the body after our envelope's trailing comma.
        precondition(text.count >= 2 && text.first == UInt8(ascii: "{"), "JSONSerialization wrote an object")
        text.removeFirst()

        var literal: [UInt8] = []
        literal.reserveCapacity(text.count + 96)
        var parts: [Part] = []
        func appendLiteral(_ s: String) { literal.append(contentsOf: s.utf8) }
        func close(_ start: inout Int, slot: Slot?) {
            parts.append(Part(literalStart: start, literalEnd: literal.count, slot: slot))
            start = literal.count
        }
        var start = 0
        appendLiteral(#"{"messaging_product":"whatsapp","recipient_type":"individual","to":""#)
        close(&start, slot: .recipient)
        appendLiteral(#"","biz_opaque_callback_data":""#)
        close(&start, slot: .callbackData)
        appendLiteral(#"","#)

        var highest = 0
        var index = 0
        while index < text.count {
            if let (number, length) = Self.placeholder(in: text, at: index) {
                guard number >= 1 else {
                    throw TemplateError(field: "message", description: "placeholder {{\(number)}} is not valid (they start at {{1}})")
                }
                guard number <= Self.placeholderNumberMax else {
                    throw TemplateError(field: "message", description: "placeholder {{\(number)}} is not valid (at most {{\(Self.placeholderNumberMax)}})")
                }
                // In a key, a value could rename it to an envelope key (`to`,
                // `biz_opaque_callback_data`) and override what Sluice writes.
                guard !Self.isInKey(text, at: index) else {
                    throw TemplateError(field: "message", description: "placeholder {{\(number)}} is in a key; placeholders may only be in string values")
                }
                close(&start, slot: .param(number - 1))
                highest = max(highest, number)
                index += length
            } else {
                literal.append(text[index])
                index += 1
            }
        }
        close(&start, slot: nil)
        self.literal = literal
        self.parts = parts
        self.placeholderCount = highest
    }

    /// Appends the request body for one recipient to `body` (it is not cleared: reuse
    /// one buffer with `removeAll(keepingCapacity: true)` to render without allocating).
    ///
    /// Every `{{n}}` is replaced by `params[n-1]`, JSON-string-escaped; a missing value
    /// renders as an empty string (intake checks the count against `placeholderCount`).
    public func render(to: String, params: [String], callbackData: String, into body: inout [UInt8]) {
        literal.withUnsafeBufferPointer { literal in
            for part in parts {
                if part.literalStart < part.literalEnd {
                    body.append(contentsOf: UnsafeBufferPointer(rebasing: literal[part.literalStart..<part.literalEnd]))
                }
                switch part.slot {
                case .none: break
                case .recipient: JSONEscaping.appendStringContents(to, into: &body)
                case .callbackData: JSONEscaping.appendStringContents(callbackData, into: &body)
                case .param(let i):
                    if i < params.count { JSONEscaping.appendStringContents(params[i], into: &body) }
                }
            }
        }
    }

    /// `{{digits}}` at `index`: its number and length. Braces only occur doubled inside
    /// JSON strings, so a match is always inside a string value (or key).
    private static func placeholder(in text: [UInt8], at index: Int) -> (Int, Int)? {
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        guard index + 4 < text.count, text[index] == open, text[index + 1] == open else { return nil }
        var i = index + 2
        var number = 0
        while i < text.count, text[i] >= UInt8(ascii: "0"), text[i] <= UInt8(ascii: "9"), i - index < 8 {
            number = number * 10 + Int(text[i] - UInt8(ascii: "0"))
            i += 1
        }
        guard i > index + 2, i + 1 < text.count, text[i] == close, text[i + 1] == close else { return nil }
        return (number, i + 2 - index)
    }

    /// Whether `index`, inside a string of serialized JSON, is inside an object key: the
    /// string's closing quote is followed by `:` (the serializer writes no spaces).
    private static func isInKey(_ text: [UInt8], at index: Int) -> Bool {
        var i = index
        while i < text.count {
            switch text[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1 < text.count && text[i + 1] == UInt8(ascii: ":")
            default: i += 1
            }
        }
        return false
    }

    // MARK: Media

    /// Finds the `media` references of the message's own media object and of its template
    /// components' parameters, checking each names one source, and with `mediaIDs`
    /// replaces each by `id`.
    private static func resolveMedia(_ object: inout [String: Any], mediaIDs: [String: String]?, into uses: inout [MediaUse]) throws(TemplateError) {
        guard let type = object["type"] as? String else { return }
        if let kind = MediaKind(rawValue: type), var payload = object[type] as? [String: Any] {
            try resolve(&payload, kind: kind, field: "message.\(type)", mediaIDs: mediaIDs, into: &uses)
            object[type] = payload
        }
        guard type == "template", var template = object["template"] as? [String: Any], var components = template["components"] as? [Any] else { return }
        for (i, value) in components.enumerated() {
            guard var component = value as? [String: Any], var parameters = component["parameters"] as? [Any] else { continue }
            for (j, parameterValue) in parameters.enumerated() {
                guard var parameter = parameterValue as? [String: Any], let ptype = parameter["type"] as? String, let kind = MediaKind(rawValue: ptype),
                    var payload = parameter[ptype] as? [String: Any]
                else { continue }
                try resolve(&payload, kind: kind, field: "message.template.components[\(i)].parameters[\(j)].\(ptype)", mediaIDs: mediaIDs, into: &uses)
                parameter[ptype] = payload
                parameters[j] = parameter
            }
            component["parameters"] = parameters
            components[i] = component
        }
        template["components"] = components
        object["template"] = template
    }

    private static func resolve(
        _ payload: inout [String: Any], kind: MediaKind, field: String, mediaIDs: [String: String]?, into uses: inout [MediaUse]
    ) throws(TemplateError) {
        guard let value = payload["media"] else { return }
        guard let id = value as? String, !id.isEmpty, id.utf8.count <= 200 else {
            throw .mustBe("\(field).media", "a media id from POST /v1/media")
        }
        for other in ["id", "link"] where payload[other] != nil {
            throw TemplateError(field: "\(field).media", description: "\(field) names both media and \(other); give one")
        }
        uses.append(MediaUse(id: id, kind: kind, field: "\(field).media"))
        guard let mediaIDs else { return }
        guard let metaID = mediaIDs[id] else {
            throw TemplateError(field: "\(field).media", description: "media \(id) has no WhatsApp media id for this number")
        }
        payload.removeValue(forKey: "media")
        payload["id"] = metaID
    }

    // MARK: Validation

    private static func validate(_ object: [String: Any]) throws(TemplateError) {
        guard let typeValue = object["type"] else { throw .required("message.type") }
        guard let type = typeValue as? String, !type.isEmpty else { throw .mustBe("message.type", "a non-empty string") }
        guard let payloadValue = object[type] else { throw .required("message.\(type)") }
        guard let payload = payloadValue as? [String: Any] else { throw .mustBe("message.\(type)", "an object") }
        switch type {
        case "text":
            guard let body = payload["body"] else { throw .required("message.text.body") }
            guard body is String else { throw .mustBe("message.text.body", "a string") }
        case "template":
            guard let name = payload["name"] else { throw .required("message.template.name") }
            guard let nameString = name as? String else { throw .mustBe("message.template.name", "a string") }
            guard !nameString.isEmpty else { throw .mustBe("message.template.name", "a non-empty string") }
            guard let languageValue = payload["language"] else { throw .required("message.template.language") }
            guard let language = languageValue as? [String: Any] else { throw .mustBe("message.template.language", "an object") }
            guard let code = language["code"] else { throw .required("message.template.language.code") }
            guard code is String else { throw .mustBe("message.template.language.code", "a string") }
            if let components = payload["components"] {
                guard let list = components as? [Any] else { throw .mustBe("message.template.components", "an array") }
                for (i, component) in list.enumerated() {
                    guard let component = component as? [String: Any] else {
                        throw .mustBe("message.template.components[\(i)]", "an object")
                    }
                    guard let ctype = component["type"] else { throw .required("message.template.components[\(i)].type") }
                    guard ctype is String else { throw .mustBe("message.template.components[\(i)].type", "a string") }
                    if let parameters = component["parameters"], !(parameters is [Any]) {
                        throw .mustBe("message.template.components[\(i)].parameters", "an array")
                    }
                }
            }
        default:
            break  // media, interactive, …: WhatsApp validates their contents.
        }
    }
}
