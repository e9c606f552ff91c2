import Hummingbird

/// An error answered in the Graph API's shape:
/// `{"error":{"message","type","code","error_data":{"messaging_product","details"},"fbtrace_id"}}`.
struct MetaError: Error, Sendable, Equatable {
    var status: HTTPResponse.Status
    var code: Int
    var type: String
    var message: String
    /// The request field at fault, if any; named in `message` and `error_data.details`.
    var field: String?
    /// `error_data.details` when no field is at fault.
    var details: String? = nil

    /// 401, code 190: missing or empty bearer token.
    static func invalidAccessToken() -> MetaError {
        MetaError(
            status: .unauthorized,
            code: 190,
            type: "OAuthException",
            message: "Invalid OAuth access token - Cannot parse access token",
            field: nil
        )
    }

    /// 401, code 190: the token is not the one registered for this number, or the number is
    /// not registered while registration is required.
    static func accessTokenRejected(phoneNumberID: String) -> MetaError {
        MetaError(
            status: .unauthorized,
            code: 190,
            type: "OAuthException",
            message: "Invalid OAuth access token - Cannot parse access token",
            field: nil,
            details: "The access token is not valid for phone number \(phoneNumberID.prefix(64))."
        )
    }

    /// 400, code 130429: the number is over its throughput tier.
    static func rateLimitHit() -> MetaError {
        MetaError(
            status: .badRequest,
            code: 130_429,
            type: "OAuthException",
            message: "(#130429) Rate limit hit",
            field: nil,
            details: "Cloud API message throughput has been reached."
        )
    }

    /// 400, code 131056: too many messages from this number to this recipient.
    static func pairRateLimitHit() -> MetaError {
        MetaError(
            status: .badRequest,
            code: 131_056,
            type: "OAuthException",
            message: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            field: nil,
            details: "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time."
        )
    }

    /// 400, code 131047: a free-form message to a contact that has not written to the number
    /// in the last 24 h (only a template may open the conversation).
    static func reEngagementMessage() -> MetaError {
        MetaError(
            status: .badRequest,
            code: 131_047,
            type: "OAuthException",
            message: "(#131047) Re-engagement message",
            field: nil,
            details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
        )
    }

    /// 400, code 131053: the message names a media id the number did not upload, or one
    /// past its 30 days.
    static func mediaNotUsable(_ id: String) -> MetaError {
        MetaError(
            status: .badRequest,
            code: 131_053,
            type: "OAuthException",
            message: "(#131053) Media upload error",
            field: nil,
            details: "Media id \(id.prefix(64)) is not an upload of this phone number, or it expired."
        )
    }

    /// 400, code 132001: the template is not registered.
    static func templateDoesNotExist(_ name: String) -> MetaError {
        MetaError(
            status: .badRequest,
            code: 132_001,
            type: "OAuthException",
            message: "(#132001) Template name does not exist in the translation",
            field: nil,
            details: "template name (\(name.prefix(128))) does not exist in the translation"
        )
    }

    /// 400, code 132000: the body parameter count differs from the template's.
    static func templateParameterMismatch(expected: Int, got: Int) -> MetaError {
        MetaError(
            status: .badRequest,
            code: 132_000,
            type: "OAuthException",
            message: "(#132000) Number of parameters does not match the expected number of params",
            field: nil,
            details: "body: number of localizable_params (\(got)) does not match the expected number of params (\(expected))"
        )
    }

    /// 500, code 1: Meta's generic server failure.
    static func unknownServerError() -> MetaError {
        MetaError(status: .internalServerError, code: 1, type: "OAuthException", message: "An unknown error occurred", field: nil)
    }

    /// 503, code 2: Meta's temporary unavailability.
    static func serviceUnavailable() -> MetaError {
        MetaError(status: .serviceUnavailable, code: 2, type: "OAuthException", message: "Service temporarily unavailable", field: nil)
    }

    /// An injected error: known codes get Meta's status and message, others a generic 400.
    static func injected(code: Int) -> MetaError {
        switch code {
        case 1: return unknownServerError()
        case 2: return serviceUnavailable()
        case 190: return invalidAccessToken()
        case 130_429: return rateLimitHit()
        case 131_056: return pairRateLimitHit()
        case 131_047: return reEngagementMessage()
        case 131_000:
            return MetaError(
                status: .internalServerError, code: code, type: "OAuthException",
                message: "(#131000) Something went wrong", field: nil, details: "Something went wrong."
            )
        case 131_026:
            return MetaError(
                status: .badRequest, code: code, type: "OAuthException",
                message: "(#131026) Message undeliverable", field: nil, details: "Message Undeliverable."
            )
        default:
            return MetaError(
                status: .badRequest, code: code, type: "OAuthException",
                message: "(#\(code)) Injected error", field: nil, details: "Injected by the mock's fault profile."
            )
        }
    }

    /// 400, code 100: a request parameter is missing or malformed.
    static func invalidParameter(_ field: String, _ message: String) -> MetaError {
        MetaError(status: .badRequest, code: 100, type: "OAuthException", message: "(#100) " + message, field: field)
    }

    /// 400, code 131008: a required parameter is absent.
    static func requiredParameterMissing(_ field: String, _ details: String) -> MetaError {
        MetaError(
            status: .badRequest, code: 131_008, type: "OAuthException",
            message: "(#131008) Required parameter is missing", field: field, details: details)
    }

    /// 400, code 131009: a parameter is present but its value is not valid.
    static func parameterValueInvalid(_ field: String, _ details: String) -> MetaError {
        MetaError(
            status: .badRequest, code: 131_009, type: "OAuthException",
            message: "(#131009) Parameter value is not valid", field: field, details: details)
    }

    var response: Response {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes.append(contentsOf: #"{"error":{"message":"#.utf8)
        JSONText.appendString(message, to: &bytes)
        bytes.append(contentsOf: #","type":"#.utf8)
        JSONText.appendString(type, to: &bytes)
        bytes.append(contentsOf: #","code":"#.utf8)
        bytes.append(contentsOf: String(code).utf8)
        if let text = details ?? field.map({ "Invalid parameter: " + $0 }) {
            bytes.append(contentsOf: #","error_data":{"messaging_product":"whatsapp","details":"#.utf8)
            JSONText.appendString(text, to: &bytes)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(contentsOf: #","fbtrace_id":"#.utf8)
        JSONText.appendString(Self.traceID(), to: &bytes)
        bytes.append(contentsOf: "}}".utf8)
        return JSONResponse.make(status: status, bytes: bytes)
    }

    private static let traceAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".utf8)

    /// Meta's trace ids look like `AbC1dEf2GhI3`: random, opaque.
    private static func traceID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<23).map { _ in traceAlphabet[Int(generator.next() % UInt64(traceAlphabet.count))] }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// JSON responses built from bytes the routes wrote themselves.
enum JSONResponse {
    static func make(status: HTTPResponse.Status, bytes: [UInt8]) -> Response {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=UTF-8"],
            body: ResponseBody(byteBuffer: buffer)
        )
    }
}
