import Foundation
import Hummingbird
import NIOCore

/// A 4xx/5xx answer with a JSON body that names what was wrong:
/// `{"error":{"status":400,"code":"invalid_field","field":"recipients[3].to","message":"…"}}`.
public struct APIError: Error, HTTPResponseError, Sendable {
    /// Every `error.code` the API answers; the OpenAPI document's `Error.code` enum lists
    /// the same (a test compares them).
    public enum Code: String, CaseIterable, Sendable {
        case badSignature = "bad_signature"
        case bodyTooLarge = "body_too_large"
        case bodyTooSlow = "body_too_slow"
        case campaignState = "campaign_state"
        case clusterUnavailable = "cluster_unavailable"
        case forbidden = "forbidden"
        case idempotencyKeyConflict = "idempotency_key_conflict"
        case insufficientScope = "insufficient_scope"
        case insufficientStorage = "insufficient_storage"
        case invalidField = "invalid_field"
        case journalUnavailable = "journal_unavailable"
        case lineTooLong = "line_too_long"
        case malformedJSON = "malformed_json"
        case malformedWebhook = "malformed_webhook"
        case mediaFailed = "media_failed"
        case mediaPending = "media_pending"
        case methodNotAllowed = "method_not_allowed"
        case noSendSlot = "no_send_slot"
        case noAppSecret = "no_app_secret"
        case noValidRecipients = "no_valid_recipients"
        case notFound = "not_found"
        case senderBusy = "sender_busy"
        case senderUnavailable = "sender_unavailable"
        case shuttingDown = "shutting_down"
        case tooManyConnections = "too_many_connections"
        case tooManyKeys = "too_many_keys"
        case tooManyStreams = "too_many_streams"
        case tooManySubscriptions = "too_many_subscriptions"
        /// A mirrored subscription is deleted on the node that made it.
        case subscriptionMirror = "subscription_mirror"
        case unauthorized = "unauthorized"
        case unknownCampaign = "unknown_campaign"
        case unknownSender = "unknown_sender"
        case whatsappError = "whatsapp_error"
    }

    public var status: HTTPResponse.Status
    public var code: Code
    public var field: String?
    public var message: String

    public init(_ status: HTTPResponse.Status, code: Code, field: String? = nil, message: String) {
        self.status = status
        self.code = code
        self.field = field
        self.message = message
    }

    /// 404 for a sender id that names no registered sender.
    static func senderNotRegistered(_ phoneNumberID: String) -> APIError {
        APIError(.notFound, code: .notFound, field: "phone_number_id", message: "sender '\(phoneNumberID)' is not registered")
    }

    public static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: .invalidField, field: field, message: message)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONBody.response(status, body)
    }

    /// `{"error":{…}}`.
    var body: [String: Any] {
        var error: [String: Any] = ["status": Int(status.code), "code": code.rawValue, "message": message]
        if let field { error["field"] = field }
        return ["error": error]
    }
}

enum JSONBody {
    static func response(_ status: HTTPResponse.Status, _ object: Any) -> Response {
        let data = bytes(object)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func bytes(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    /// Reads the whole body (bounded) and parses it as a JSON object.
    static func object(_ request: Request, limitBytes: Int) async throws -> [String: Any] {
        try object(try await collect(request, limitBytes: limitBytes))
    }

    /// Reads the whole body, refusing more than `limitBytes` with a 413.
    static func collect(_ request: Request, limitBytes: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limitBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: .bodyTooLarge, message: "the request body is larger than \(limitBytes) bytes")
        }
    }

    /// Parses a collected body as a JSON object.
    static func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        guard buffer.readableBytes > 0 else { throw APIError(.badRequest, code: .malformedJSON, message: "the request body is empty; a JSON object is expected") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: [])
        } catch {
            throw APIError(.badRequest, code: .malformedJSON, message: "the request body is not valid JSON: \(JSONBody.reason(error))")
        }
        guard let object = parsed as? [String: Any] else {
            throw APIError(.badRequest, code: .malformedJSON, message: "the request body must be a JSON object")
        }
        return object
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        return (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
    }
}
