import Foundation
import Hummingbird
import NIOCore
import SluiceCluster
import SluiceCore
import SluiceCrypto
import SluiceEngine

/// Every recipient's fate, and a retry of the ones that did not get through:
///
/// | `GET /v1/campaigns/{id}/messages?state=failed,unknown&code=131026&limit=100&cursor=…` → `{"messages": […], "next_cursor": "…" | null}` | read |
/// | `GET /v1/campaigns/{id}/messages.csv?state=…&code=…` → the same as CSV, streamed | read |
/// | `POST /v1/campaigns/{id}/retry` `{"states": ["failed", "unknown"], "codes": [131026]}` → 202 like a campaign submission | submit |
enum CampaignMessageRoutes {
    static let limitDefault = 100
    static let limitMax = 1_000
    /// Messages per journal read while streaming CSV: memory stays bounded at any size.
    static let csvPageMessages = 1_000
    static let retryFields: Set<String> = ["states", "codes"]

    static func add(
        read: RouterGroup<BasicRequestContext>, submit: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher, keys: APIKeyStore, batchRecipients: Int,
        cluster: (any ClusterDirectorySource)? = nil
    ) {
        read.get("campaigns/:id/messages") { request, context in
            switch try ClusterCampaignRoutes.reference(context, nodeID: dispatcher.configuration.nodeID) {
            case .here(let id):
                return try messages(request, id: id, dispatcher: dispatcher)
            case .on(let node, let id):
                return try await ClusterCampaignRoutes.forward(ClusterCampaignRoutes.path("/cluster/campaigns/\(id)/messages", queryOf: request), to: node, source: cluster)
            }
        }
        read.get("campaigns/:id/messages.csv") { request, context in
            switch try ClusterCampaignRoutes.reference(context, nodeID: dispatcher.configuration.nodeID) {
            case .here(let id):
                return try csv(request, id: id, dispatcher: dispatcher)
            case .on(let node, let id):
                return try await ClusterCampaignRoutes.forwardStream(
                    ClusterCampaignRoutes.path("/cluster/campaigns/\(id)/messages.csv", queryOf: request), to: node, source: cluster)
            }
        }
        submit.post("campaigns/:id/retry") { request, context in
            let reference = try ClusterCampaignRoutes.reference(context, nodeID: dispatcher.configuration.nodeID)
            let key = try CampaignIntakeRoute.idempotencyKey(request.headers[CampaignIntakeRoute.idempotencyKeyHeader])
            // A key is kept per caller.
            let caller = try key.map { _ in try keys.authenticate(authorizationHeader: request.headers[.authorization]).id }
            switch reference {
            case .here(let id):
                return try await retry(request, source: id, key: key, scope: caller, dispatcher: dispatcher, batchRecipients: batchRecipients)
            case .on(let node, let id):
                // The retry is made where the campaign is; its key stays the caller's.
                var headers: [String: String] = [:]
                if let key, let caller {
                    headers[CampaignIntakeRoute.idempotencyKeyHeader.rawName] = key
                    headers[ClusterCampaignRoutes.callerHeader.rawName] = caller
                }
                let body = try await JSONBody.collect(request, limitBytes: retryBodyBytesMax)
                return try await ClusterCampaignRoutes.forward(
                    "/cluster/campaigns/\(id)/retry", post: true, body: Array(body.readableBytesView), headers: headers, to: node, source: cluster)
            }
        }
    }

    /// Every message of the campaign the query asks for, as CSV, streamed a page at a time.
    static func csv(_ request: Request, id: CampaignID, dispatcher: Dispatcher) throws -> Response {
        let filter = try filter(request.uri.queryParameters)
        // The first page before the 200: an unknown campaign is a 404, not an empty file.
        guard let first = try dispatcher.campaignMessages(id, after: nil, filter: filter, limit: csvPageMessages) else { throw unknown(id) }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"campaign-\(id)-messages.csv\""
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: csvHeader))
            var page = first
            while true {
                var text = ""
                for m in page.messages { text += csvRow(m) }
                if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
                guard let next = page.next, let following = try dispatcher.campaignMessages(id, after: next, filter: filter, limit: csvPageMessages) else { break }
                page = following
            }
            try await writer.finish(nil)
        })
    }

    /// A page of the campaign's messages, as the query asks.
    static func messages(_ request: Request, id: CampaignID, dispatcher: Dispatcher) throws -> Response {
        let query = request.uri.queryParameters
        let filter = try filter(query)
        let limit = try limit(query)
        let after = try cursor(query)
        guard let page = try dispatcher.campaignMessages(id, after: after, filter: filter, limit: limit) else { throw unknown(id) }
        return JSONBody.response(.ok, [
            "messages": page.messages.map(messageJSON),
            "next_cursor": page.next.map { $0.description as Any } ?? NSNull(),
        ])
    }

    static func unknown(_ id: CampaignID) -> APIError {
        APIError(.notFound, code: .notFound, field: "id", message: "campaign \(id) does not exist")
    }

    // MARK: Query

    static func filter(_ query: Parameters) throws -> MessageFilter {
        var filter = MessageFilter()
        if let text = query["state"] {
            for name in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let state = MessageState(name: String(name)) else {
                    throw APIError.invalid("state", "state must be a comma-separated list of \(MessageState.allCases.map(\.description).joined(separator: ", ")); got '\(name)'")
                }
                filter.states.insert(state)
            }
        }
        if let text = query["code"] {
            for item in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let code = Int32(item) else { throw APIError.invalid("code", "code must be a comma-separated list of error codes (integers); got '\(item)'") }
                filter.codes.insert(code)
            }
        }
        return filter
    }

    static func limit(_ query: Parameters) throws -> Int {
        guard let text = query["limit"] else { return limitDefault }
        guard let value = Int(String(text)), (1...limitMax).contains(value) else {
            throw APIError.invalid("limit", "limit must be a whole number from 1 to \(limitMax)")
        }
        return value
    }

    static func cursor(_ query: Parameters) throws -> MessageID? {
        guard let text = query["cursor"] else { return nil }
        guard let value = UInt64(String(text)) else { throw APIError.invalid("cursor", "cursor must be a next_cursor this API answered") }
        return MessageID(value)
    }

    // MARK: Answers

    static func time(_ milliseconds: Int64) -> Any {
        milliseconds == 0 ? NSNull() : CampaignOptionsInput.text(milliseconds)
    }

    static func messageJSON(_ m: MessageRecord) -> [String: Any] {
        [
            "id": m.id.description,
            "to": m.to,
            "params": m.params,
            "external_id": m.externalID.map { $0 as Any } ?? NSNull(),
            "state": m.state.description,
            "attempts": Int(m.attempts),
            "error": m.errorCode == 0 && m.errorMessage == nil
                ? NSNull() : ["code": Int(m.errorCode), "message": m.errorMessage.map { $0 as Any } ?? NSNull()] as [String: Any],
            "wamid": m.wamid.map { $0 as Any } ?? NSNull(),
            "accepted_at": time(m.times.accepted),
            "sent_at": time(m.times.sent),
            "delivered_at": time(m.times.delivered),
            "read_at": time(m.times.read),
            "ended_at": time(m.times.ended),
        ]
    }

    static let csvHeader = "id,to,external_id,state,attempts,error_code,error_message,wamid,accepted_at,sent_at,delivered_at,read_at,ended_at\r\n"

    static func csvRow(_ m: MessageRecord) -> String {
        func t(_ ms: Int64) -> String { ms == 0 ? "" : CampaignOptionsInput.text(ms) }
        let fields = [
            m.id.description, m.to, m.externalID ?? "", m.state.description, String(m.attempts),
            m.errorCode == 0 ? "" : String(m.errorCode), m.errorMessage ?? "", m.wamid ?? "",
            t(m.times.accepted), t(m.times.sent), t(m.times.delivered), t(m.times.read), t(m.times.ended),
        ]
        return fields.map(csvField).joined(separator: ",") + "\r\n"
    }

    /// RFC 4180 quoting; a leading `=`, `+`, `-` or `@` is prefixed with `'` so that a
    /// spreadsheet does not run an error message as a formula.
    static func csvField(_ value: String) -> String {
        var v = value
        if let first = v.first, "=+-@".contains(first) { v = "'" + v }
        guard v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return v }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: Retry

    /// `POST /v1/campaigns/{id}/retry`: a new campaign of the source's messages in
    /// `states` (default failed and unknown) with one of `codes` (default any), answered
    /// like a submission (202 `{id, accepted, …}`), idempotent with `Idempotency-Key`.
    static let retryBodyBytesMax = 64 * 1024

    /// `key` is the request's `Idempotency-Key`, kept under `scope` (the caller's key id).
    static func retry(
        _ request: Request, source: CampaignID, key: String?, scope: String?, dispatcher: Dispatcher, batchRecipients: Int
    ) async throws -> Response {
        let buffer = try await JSONBody.collect(request, limitBytes: retryBodyBytesMax)
        // No body: the defaults.
        let body = buffer.readableBytes == 0 ? [:] : try JSONBody.object(buffer)
        try KnownFields.check(body, retryFields)
        var filter = MessageFilter(states: [.failed, .unknown])
        if let value = body["states"] {
            guard let list = value as? [Any], !list.isEmpty else { throw APIError.invalid("states", "states must be a non-empty array of \(retryStatesText)") }
            filter.states = []
            for item in list {
                guard let name = item as? String, let state = MessageState(name: name), Dispatcher.retryableStates.contains(state) else {
                    throw APIError.invalid("states", "states must hold only \(retryStatesText): sent ones would be sent twice, suppressed ones opted out")
                }
                filter.states.insert(state)
            }
        }
        if let value = body["codes"] {
            guard let list = value as? [Any] else { throw APIError.invalid("codes", "codes must be an array of error codes (integers)") }
            for item in list {
                guard let n = APIRoutes.number(item), n == n.rounded(), let code = Int32(exactly: n) else {
                    throw APIError.invalid("codes", "codes must be an array of error codes (integers)")
                }
                filter.codes.insert(code)
            }
        }
        let hasher = key.map { _ in SHA256Hasher() }
        hasher?.update(Array("retry \(source)\n".utf8))
        hasher?.update(Array(buffer.readableBytesView))
        let digest = hasher?.finish() ?? []
        var claim: CampaignIntakeRoute.Claim?
        if let key, let caller = scope {
            claim = CampaignIntakeRoute.Claim(scope: caller, key: key)
            if let stored = try dispatcher.idempotencyRecord(scope: caller, key: key) { return try CampaignIntakeRoute.answer(stored, digest: digest) }
        }
        var upload: CampaignUpload
        do {
            upload = try await dispatcher.retryCampaign(source, filter: filter, batchRecipients: batchRecipients)
        } catch {
            switch error {
            case .unknownCampaign: throw unknown(source)
            case .notRetryable: throw APIError(.conflict, code: .campaignState, field: "id", message: error.description)
            case .nothingToRetry: throw APIError(.unprocessableContent, code: .noValidRecipients, field: "states", message: error.description)
            case .intake(let intake): throw CampaignIntakeRoute.apiError(intake)
            }
        }
        do {
            return try await CampaignIntakeRoute.complete(&upload, dispatcher: dispatcher, digest: digest, claim: claim, position: "index")
        } catch {
            await upload.cancel()
            throw CampaignIntakeRoute.apiError(error)
        }
    }

    static let retryStatesText = Dispatcher.retryableStates.map(\.description).sorted().joined(separator: ", ")
}
