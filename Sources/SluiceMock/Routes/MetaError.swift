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

    /// 400, code 100: a request parameter is missing or malformed.
    static func invalidParameter(_ field: String, _ message: String) -> MetaError {
        MetaError(status: .badRequest, code: 100, type: "OAuthException", message: "(#100) " + message, field: field)
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
        if let field {
            bytes.append(contentsOf: #","error_data":{"messaging_product":"whatsapp","details":"#.utf8)
            JSONText.appendString("Invalid parameter: " + field, to: &bytes)
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
