import Foundation

/// The parts of a valid send request the mock keeps.
struct ValidatedSend: Sendable, Equatable {
    var to: String
    var callbackData: String?
    /// `template.name` of a template message.
    var templateName: String? = nil
    /// Parameters of the template's `body` components (0 when it has none).
    var templateBodyParameters: Int = 0
    /// Media ids the message sends (`image.id`, a template header's `image.id`, …).
    var mediaIDs: [String] = []
}

/// Checks a send body the way the Cloud API does (minimal subset), naming the first bad field
/// with the Cloud API's code: 100 for a body or enum value it cannot interpret at all,
/// 131008 for a required parameter that is absent, 131009 for a value that is not valid.
///
/// Pure: no I/O, testable without a server.
enum SendRequestValidator {
    /// Cloud API limit on `biz_opaque_callback_data`.
    static let callbackDataBytesMax = 512
    /// E.164 allows 15 digits; a little slack for formatting the API tolerates.
    static let recipientDigitsMax = 20
    static let messageTypes: Set<String> = [
        "text", "template", "image", "audio", "video", "document", "sticker",
        "location", "contacts", "interactive", "reaction",
    ]

    static let mediaTypes: Set<String> = ["image", "audio", "video", "document", "sticker"]

    static func validate(_ body: Data) -> Result<ValidatedSend, MetaError> {
        guard let object = try? JSONSerialization.jsonObject(with: body), let fields = object as? [String: Any] else {
            return .failure(.invalidParameter("body", "The request body must be a JSON object."))
        }
        guard let product = fields["messaging_product"] else {
            return .failure(.requiredParameterMissing("messaging_product", "The parameter messaging_product is required."))
        }
        guard let productName = product as? String, productName == "whatsapp" else {
            return .failure(
                .invalidParameter("messaging_product", "Param messaging_product must be one of {WHATSAPP} - got \(describe(product)).")
            )
        }
        guard let toValue = fields["to"] else {
            return .failure(.requiredParameterMissing("to", "The parameter to is required."))
        }
        guard let to = toValue as? String, isRecipient(to) else {
            return .failure(.parameterValueInvalid("to", "Param to must be a phone number of digits - got \(describe(toValue))."))
        }
        guard let typeValue = fields["type"] else {
            return .failure(.requiredParameterMissing("type", "The parameter type is required."))
        }
        guard let type = typeValue as? String, messageTypes.contains(type) else {
            return .failure(
                .invalidParameter(
                    "type",
                    "Param type must be one of {\(messageTypes.sorted().joined(separator: ", "))} - got \(describe(typeValue))."
                )
            )
        }
        guard let objectValue = fields[type] else {
            return .failure(.requiredParameterMissing(type, "The parameter \(type) is required."))
        }
        guard let object = objectValue as? [String: Any] else {
            return .failure(.parameterValueInvalid(type, "Param \(type) must be an object - got \(describe(objectValue))."))
        }
        var templateName: String?
        var templateBodyParameters = 0
        if type == "template" {
            guard let nameValue = object["name"] else {
                return .failure(.requiredParameterMissing("template.name", "The parameter template.name is required."))
            }
            guard let name = nameValue as? String, !name.isEmpty else {
                return .failure(.parameterValueInvalid("template.name", "Param template.name must be a non-empty string."))
            }
            templateName = name
            if let components = object["components"] {
                guard let list = components as? [[String: Any]] else {
                    return .failure(.parameterValueInvalid("template.components", "Param template.components must be an array of objects."))
                }
                for component in list where (component["type"] as? String)?.lowercased() == "body" {
                    guard let parameters = component["parameters"] as? [Any] else {
                        if component["parameters"] == nil { continue }
                        return .failure(
                            .parameterValueInvalid("template.components.parameters", "Param template.components.parameters must be an array.")
                        )
                    }
                    templateBodyParameters += parameters.count
                }
            }
        }
        var mediaIDs: [String] = []
        if mediaTypes.contains(type), let id = object["id"] as? String { mediaIDs.append(id) }
        if type == "template", let components = object["components"] as? [[String: Any]] {
            for component in components {
                for case let parameter as [String: Any] in component["parameters"] as? [Any] ?? [] {
                    if let ptype = parameter["type"] as? String, mediaTypes.contains(ptype), let media = parameter[ptype] as? [String: Any],
                        let id = media["id"] as? String
                    {
                        mediaIDs.append(id)
                    }
                }
            }
        }
        var callbackData: String?
        if let callbackValue = fields["biz_opaque_callback_data"], !(callbackValue is NSNull) {
            guard let callback = callbackValue as? String, callback.utf8.count <= callbackDataBytesMax else {
                return .failure(
                    .parameterValueInvalid(
                        "biz_opaque_callback_data",
                        "Param biz_opaque_callback_data must be a string of at most \(callbackDataBytesMax) bytes."
                    )
                )
            }
            callbackData = callback
        }
        return .success(
            ValidatedSend(
                to: to, callbackData: callbackData, templateName: templateName, templateBodyParameters: templateBodyParameters, mediaIDs: mediaIDs)
        )
    }

    /// A read receipt — `{"messaging_product":"whatsapp","status":"read","message_id":"wamid…"}`,
    /// as clients such as pywa send it (a `typing_indicator` may come with it) — with the
    /// message id it marks; nil when `body` is not one (it has no `status`).
    static func readReceipt(_ body: Data) -> Result<String, MetaError>? {
        guard let object = try? JSONSerialization.jsonObject(with: body), let fields = object as? [String: Any], let status = fields["status"] else {
            return nil
        }
        guard fields["messaging_product"] as? String == "whatsapp" else {
            return .failure(.requiredParameterMissing("messaging_product", "The parameter messaging_product is required."))
        }
        guard status as? String == "read" else {
            return .failure(.invalidParameter("status", "Param status must be one of {READ} - got \(describe(status))."))
        }
        guard let messageValue = fields["message_id"] else {
            return .failure(.requiredParameterMissing("message_id", "The parameter message_id is required."))
        }
        guard let id = messageValue as? String, !id.isEmpty, id.utf8.count <= 512 else {
            return .failure(.parameterValueInvalid("message_id", "Param message_id must be a message id - got \(describe(messageValue))."))
        }
        return .success(id)
    }

    /// Digits with an optional leading `+`.
    static func isRecipient(_ value: String) -> Bool {
        var digits = value.utf8[...]
        if digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.count <= recipientDigitsMax
            && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// Digits only.
    static func isPhoneNumberID(_ value: Substring) -> Bool {
        !value.isEmpty && value.utf8.count <= 32
            && value.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// Checks a template send against the registered templates (none registered: anything goes).
    static func checkTemplate(_ send: ValidatedSend, templates: [String: Int]) -> MetaError? {
        guard !templates.isEmpty, let name = send.templateName else { return nil }
        guard let expected = templates[name] else { return .templateDoesNotExist(name) }
        guard expected == send.templateBodyParameters else {
            return .templateParameterMismatch(expected: expected, got: send.templateBodyParameters)
        }
        return nil
    }

    private static func describe(_ value: Any) -> String {
        if let string = value as? String { return "\"\(string.prefix(64))\"" }
        if value is NSNull { return "null" }
        return String(String(describing: value).prefix(64))
    }
}
