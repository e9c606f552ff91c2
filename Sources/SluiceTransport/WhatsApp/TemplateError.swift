/// Why a campaign's message object cannot be compiled. The description names the field,
/// so that the HTTP API can return it as is.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The offending field as a path, e.g. `message.template.name`; `message` for the whole object.
    public var field: String
    /// A sentence naming the field, e.g. `message.type is required`.
    public var description: String

    public init(field: String, description: String) {
        self.field = field
        self.description = description
    }

    static func required(_ field: String) -> TemplateError {
        TemplateError(field: field, description: "\(field) is required")
    }

    static func mustBe(_ field: String, _ kind: String) -> TemplateError {
        TemplateError(field: field, description: "\(field) must be \(kind)")
    }
}
