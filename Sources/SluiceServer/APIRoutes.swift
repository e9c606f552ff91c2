import Foundation
import Hummingbird
import SluiceCore
import SluiceEngine

/// The HTTP API over a `Dispatcher`. Every route but `/healthz` and the webhook path needs
/// `Authorization: Bearer <key>` — an API key (`sk_<id>_<secret>`) or the bootstrap admin
/// key (`SLUICE_ADMIN_KEY` or `<data-dir>/admin.key`, every scope) — holding the route's
/// scope: 401 without a valid key, 403 without the scope.
///
/// | route | scope |
/// |---|---|
/// | `POST /v1/keys` `{"name": "…", "scopes": ["submit", "read"]}` → 201 with the secret, once | admin |
/// | `GET /v1/keys`, `DELETE /v1/keys/{id}` (revoke, 204) | admin |
/// | `PUT /v1/senders/{phone_number_id}` `{"tier_mps": 80, "burst": 1, "access_token": "…"}` | admin |
/// | `GET /v1/senders`, `GET /v1/senders/{phone_number_id}` | read |
/// | `POST /v1/senders/{phone_number_id}/pause` `{"reason": "…"}`, `…/resume` | admin |
/// | `POST /v1/campaigns` `{"sender": "…", "message": {…}, "recipients": [{"to": "…", "params": ["…"]}]}` → 202 | submit |
/// | `GET /v1/campaigns/{id}` | read |
/// | `GET /metrics` (Prometheus text format) | read |
/// | `GET /healthz`, `GET /readyz`; `GET`, `POST /webhooks/whatsapp` (Meta signs them) | none |
///
/// Scopes are independent: an `admin` key without `read` cannot read campaigns.
public enum APIRoutes {
    public static let senderBodyBytesMax = 16 * 1024
    public static let campaignBodyBytesMax = 64 * 1024 * 1024

    /// Builds the router; reads the API keys from the journal once, to start the cache.
    public static func router(dispatcher: Dispatcher, credential: AdminCredential, webhookVerifyToken: String? = nil) throws -> Router<BasicRequestContext> {
        let keys = APIKeyStore(bootstrap: credential, records: try dispatcher.apiKeys())
        let router = Router()
        let metrics = ServerMetrics(dispatcher: dispatcher)
        // Request counts and latency histograms per route, through swift-metrics.
        router.add(middleware: MetricsMiddleware())
        router.get("healthz") { _, _ in JSONBody.response(.ok, ["status": "ok"]) }
        router.get("readyz") { _, _ in
            // Ready when the dispatch loop runs and the journal answers a read.
            guard dispatcher.isDispatching, (try? dispatcher.journalStatistics()) != nil else {
                return JSONBody.response(.serviceUnavailable, ["status": "not_ready"])
            }
            return JSONBody.response(.ok, ["status": "ready"])
        }
        router.group().add(middleware: APIKeyMiddleware(keys: keys, scope: .read)).get("metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: try metrics.render())))
        }
        WebhookRoutes.add(to: router, dispatcher: dispatcher, verifyToken: webhookVerifyToken)
        // One group per scope over the same `/v1` prefix: each route sits in its scope's.
        let admin = router.group("v1").add(middleware: APIKeyMiddleware(keys: keys, scope: .admin))
        let submit = router.group("v1").add(middleware: APIKeyMiddleware(keys: keys, scope: .submit))
        let read = router.group("v1").add(middleware: APIKeyMiddleware(keys: keys, scope: .read))
        APIKeyRoutes.add(to: admin, keys: keys, dispatcher: dispatcher)
        SenderRoutes.add(read: read, admin: admin, dispatcher: dispatcher)
        admin.put("senders/:phone_number_id") { request, context in
            try await putSender(request, context: context, dispatcher: dispatcher)
        }
        read.get("senders/:phone_number_id") { _, context in
            let id = try context.parameters.require("phone_number_id")
            guard let record = try dispatcher.sender(phoneNumberID: id) else {
                throw APIError(.notFound, code: "not_found", field: "phone_number_id", message: "sender '\(id)' is not registered")
            }
            return JSONBody.response(.ok, senderJSON(record))
        }
        submit.post("campaigns") { request, _ in
            try await postCampaign(request, dispatcher: dispatcher)
        }
        read.get("campaigns/:id") { _, context in
            let text = try context.parameters.require("id")
            guard let raw = UInt64(text), raw > 0 else {
                throw APIError(.notFound, code: "not_found", field: "id", message: "campaign '\(text)' does not exist (ids are positive integers)")
            }
            guard let progress = try dispatcher.campaignProgress(CampaignID(raw)) else {
                throw APIError(.notFound, code: "not_found", field: "id", message: "campaign \(raw) does not exist")
            }
            return JSONBody.response(.ok, campaignJSON(progress))
        }
        return router
    }

    static func putSender(_ request: Request, context: BasicRequestContext, dispatcher: Dispatcher) async throws -> Response {
        let id = try context.parameters.require("phone_number_id")
        let body = try await JSONBody.object(request, limitBytes: senderBodyBytesMax)
        guard let tierValue = body["tier_mps"] else { throw APIError.invalid("tier_mps", "tier_mps is required (messages per second, 1–1000)") }
        guard let tier = number(tierValue) else { throw APIError.invalid("tier_mps", "tier_mps must be a number") }
        var burst = 1
        if let b = body["burst"] {
            guard let value = number(b), value == value.rounded() else { throw APIError.invalid("burst", "burst must be an integer") }
            burst = Int(value)
        }
        guard let tokenValue = body["access_token"] else { throw APIError.invalid("access_token", "access_token is required") }
        guard let token = tokenValue as? String else { throw APIError.invalid("access_token", "access_token must be a string") }
        var appSecret: String?
        if let secretValue = body["app_secret"] {
            guard let secret = secretValue as? String else { throw APIError.invalid("app_secret", "app_secret must be a string") }
            if let problem = CampaignIntake.problem(appSecret: secret) { throw APIError.invalid("app_secret", problem) }
            appSecret = secret
        }
        if let problem = CampaignIntake.problem(phoneNumberID: id, tier: tier, burst: burst, accessToken: token) {
            let field = problem.hasPrefix("phone_number_id") ? "phone_number_id" : problem.hasPrefix("tier_mps") ? "tier_mps" : problem.hasPrefix("burst") ? "burst" : "access_token"
            throw APIError.invalid(field, problem)
        }
        let record = try await dispatcher.putSender(phoneNumberID: id, tierMessagesPerSecond: tier, burst: burst, accessToken: token, appSecret: appSecret)
        return JSONBody.response(.ok, senderJSON(record))
    }

    static func postCampaign(_ request: Request, dispatcher: Dispatcher) async throws -> Response {
        let body = try await JSONBody.object(request, limitBytes: campaignBodyBytesMax)
        guard let senderValue = body["sender"] else { throw APIError.invalid("sender", "sender is required (a registered phone_number_id)") }
        guard let sender = senderValue as? String else { throw APIError.invalid("sender", "sender must be a string") }
        guard let messageValue = body["message"] else { throw APIError.invalid("message", "message is required (a Cloud API message object)") }
        guard let message = messageValue as? [String: Any] else { throw APIError.invalid("message", "message must be a JSON object") }
        guard let recipientsValue = body["recipients"] else { throw APIError.invalid("recipients", "recipients is required") }
        guard let list = recipientsValue as? [Any] else { throw APIError.invalid("recipients", "recipients must be an array") }
        var recipients: [RecipientInput] = []
        recipients.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            guard let entry = item as? [String: Any] else { throw APIError.invalid("recipients[\(i)]", "recipients[\(i)] must be an object") }
            guard let to = entry["to"] as? String else { throw APIError.invalid("recipients[\(i)].to", "recipients[\(i)].to is required and must be a string") }
            var params: [String] = []
            if let p = entry["params"] {
                guard let array = p as? [Any] else { throw APIError.invalid("recipients[\(i)].params", "recipients[\(i)].params must be an array of strings") }
                params.reserveCapacity(array.count)
                for (j, value) in array.enumerated() {
                    guard let s = value as? String else { throw APIError.invalid("recipients[\(i)].params[\(j)]", "recipients[\(i)].params[\(j)] must be a string") }
                    params.append(s)
                }
            }
            recipients.append(RecipientInput(to: to, params: params))
        }
        let messageBytes = try Array(JSONSerialization.data(withJSONObject: message, options: [.sortedKeys, .withoutEscapingSlashes]))
        let receipt: CampaignReceipt
        do {
            receipt = try await dispatcher.submitCampaign(senderPhoneNumberID: sender, messageObject: messageBytes, recipients: recipients)
        } catch {
            switch error {
            case .unknownSender: throw APIError(.unprocessableContent, code: "unknown_sender", field: "sender", message: error.description)
            case .invalidMessage(let why): throw APIError.invalid("message", why.hasPrefix("message") ? why : "message: \(why)")
            case .invalidSender(let why): throw APIError.invalid("sender", why)
            case .noRecipients, .tooManyRecipients: throw APIError.invalid("recipients", error.description)
            case .noValidRecipients(let count, let rejected):
                var answer = APIError(.unprocessableContent, code: "no_valid_recipients", field: "recipients", message: error.description)
                if let first = rejected.first { answer.message += "; first: recipients[\(first.index)]: \(first.reason)" }
                _ = count
                throw answer
            case .journal(let why): throw APIError(.serviceUnavailable, code: "journal_unavailable", message: why)
            }
        }
        return JSONBody.response(.accepted, [
            "id": receipt.id.description,
            "accepted": receipt.accepted,
            "rejected_count": receipt.rejectedCount,
            "rejected": receipt.rejected.map { ["index": $0.index, "reason": $0.reason] as [String: Any] },
        ])
    }

    static func senderJSON(_ record: SenderRecord) -> [String: Any] {
        var json: [String: Any] = [
            "phone_number_id": record.phoneNumberID,
            "tier_mps": record.tierMessagesPerSecond,
            "burst": Int(record.burst),
            "paused": record.paused,
            "has_app_secret": record.appSecret != nil,
        ]
        if let reason = record.pauseReason { json["pause_reason"] = reason }
        return json
    }

    static func campaignJSON(_ p: CampaignProgress) -> [String: Any] {
        var json: [String: Any] = [
            "id": p.id.description,
            "state": p.state,
            "total": p.total,
            "counts": [
                "queued": p.queued, "in_flight": p.inFlight, "sent": p.sent, "failed": p.failed,
                "in_doubt": p.inDoubt, "delivered": p.delivered, "read": p.read,
            ],
        ]
        if let sender = p.senderPhoneNumberID { json["sender"] = sender }
        return json
    }

    /// A JSON number (not a boolean) as a Double. On Linux `true` parses as an NSNumber
    /// whose `objCType` is "c", and `is Bool` also holds for the numbers 0 and 1.
    static func number(_ value: Any) -> Double? {
        guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
        return n.doubleValue
    }
}
