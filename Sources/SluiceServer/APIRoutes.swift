import Foundation
import Hummingbird
import SluiceCluster
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
/// | `PUT /v1/senders/{phone_number_id}` `{"tier_mps": 80, "burst": 1, "access_token": "…", "messaging_limit": 2000, "group": "acme"}` | admin |
/// | `PATCH /v1/senders/{phone_number_id}` `{"tier_mps": 250}`: only the fields given; a pause stays unless `access_token` is one | admin |
/// | `DELETE /v1/senders/{phone_number_id}` (204; 409 `sender_busy` while it has live work) | admin |
/// | `GET /v1/senders`, `GET /v1/senders/{phone_number_id}` | read |
/// | `POST /v1/senders/{phone_number_id}/pause` `{"reason": "…"}`, `…/resume` | admin |
/// | `POST /v1/campaigns` `{"sender": "…", "message": {…}, "recipients": [{"to": "…", "params": ["…"]}]}` → 202; also NDJSON and CSV, streamed, and `Idempotency-Key` (see `CampaignIntakeRoute`) | submit |
/// | `POST /v1/campaigns/{id}/pause`, `…/resume`, `…/cancel` → 200 with the campaign | submit |
/// | `POST /v1/senders/{phone_number_id}/messages/{wamid}/read` → 200 once WhatsApp marked it read | submit |
/// | `POST /v1/media` (the file as the body, its type as Content-Type) → 201 `{id, sha256, mime_type, size}` | submit |
/// | `GET /v1/media/{id}` (a received or uploaded file) | media:read or admin |
/// | `GET /v1/campaigns?state=&limit=&after=` (paged), `GET /v1/campaigns/{id}` (with rate and ETA) | read |
/// | `POST /v1/subscriptions` `{"url": "https://…", "secret": "…", "campaign": "42", "states": ["delivered"]}` → 201 with the secret, once; `DELETE /v1/subscriptions/{id}` (204) | admin |
/// | `GET /v1/subscriptions`, `GET /v1/subscriptions/{id}` (with delivery counters, no secret) | read |
/// | `GET /metrics` (Prometheus text format) | read |
/// | `GET /healthz`, `GET /readyz`; `GET`, `POST /webhooks/whatsapp` (Meta signs them) | none |
/// | `GET /openapi.yaml` (this API as OpenAPI 3.1, `OpenAPIDocument`) | none |
/// | `GET /v1/keys/current` → `{"id", "scopes"}` of the key presented | any key |
/// | `GET /v1/stream`: the dashboard's state as server-sent events (`DashboardStream`) | read |
/// | `GET /` → `/ui/`, `GET /ui/`, `GET /ui/{file}`: the dashboard's page (`DashboardRoutes`) | none |
///
/// Scopes are independent: an `admin` key without `read` cannot read campaigns.
public enum APIRoutes {
    public static let senderBodyBytesMax = 16 * 1024
    /// What `PUT /v1/senders/{id}` takes.
    static let senderFields: Set<String> = [
        "tier_mps", "burst", "access_token", "app_secret", "display_phone_number", "messaging_limit", "group", "customer_window", "opt_out_keywords",
    ]
    public static let campaignBodyBytesMax = 64 * 1024 * 1024

    /// Builds the router; reads the API keys from the journal once, to start the cache.
    /// `campaignBatchRecipients`: messages per journal commit while a campaign streams in.
    /// `senderHistory`: the sampler the dashboard's stream reads, run as a service beside
    /// the API; without one the stream's histories stay empty.
    public static func router(
        dispatcher: Dispatcher, credential: AdminCredential, webhookVerifyToken: String? = nil,
        campaignBatchRecipients: Int = CampaignUpload.batchRecipientsDefault,
        slowClients: SlowClientGuard = .default, senderHistory: SenderHistorySampler? = nil, cluster: ClusterAgent? = nil,
        clusterDirectory: (any ClusterDirectorySource)? = nil
    ) throws -> Router<BasicRequestContext> {
        let keys = APIKeyStore(bootstrap: credential, records: try dispatcher.apiKeys())
        let router = Router()
        let metrics = ServerMetrics(dispatcher: dispatcher)
        // Request counts and latency histograms per route, through swift-metrics.
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: BodyRateMiddleware(guardrail: slowClients))
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
        // Webhooks reach any node of a cluster: each part goes to the node it concerns.
        let directory: (any ClusterDirectorySource)? = clusterDirectory ?? cluster
        WebhookRoutes.add(to: router, dispatcher: dispatcher, verifyToken: webhookVerifyToken, cluster: directory.map { WebhookClusterRouting(source: $0) })
        OpenAPIRoutes.add(to: router)
        DashboardRoutes.add(to: router)
        if let cluster { ClusterHandoverRoute.add(to: router, dispatcher: dispatcher, cluster: cluster, batchRecipients: campaignBatchRecipients) }
        if let directory { ClusterCampaignRoutes.add(to: router, dispatcher: dispatcher, source: directory, batchRecipients: campaignBatchRecipients) }
        // One group per scope over the same `/v1` prefix: each route sits in its scope's.
        let admin = router.group("v1").add(middleware: APIKeyMiddleware(keys: keys, scope: .admin))
        let submit = router.group("v1").add(middleware: APIKeyMiddleware(keys: keys, scope: .submit))
        let read = router.group("v1").add(middleware: APIKeyMiddleware(keys: keys, scope: .read))
        let media = router.group("v1").add(middleware: APIKeyMiddleware(keys: keys, scope: .mediaRead, alternatives: [.admin]))
        let anyKey = router.group("v1").add(middleware: APIKeyMiddleware(keys: keys, scope: nil))
        APIKeyRoutes.addCurrent(to: anyKey, keys: keys)
        DashboardStream.add(to: read, dispatcher: dispatcher, history: senderHistory ?? SenderHistorySampler(dispatcher: dispatcher))
        MediaRoutes.add(to: media, dispatcher: dispatcher)
        MediaRoutes.addUpload(to: submit, dispatcher: dispatcher)
        APIKeyRoutes.add(to: admin, keys: keys, dispatcher: dispatcher)
        SenderRoutes.add(read: read, admin: admin, dispatcher: dispatcher)
        SuppressionRoutes.add(read: read, admin: admin, dispatcher: dispatcher)
        ReadReceiptRoutes.add(submit: submit, dispatcher: dispatcher)
        SubscriptionRoutes.add(read: read, admin: admin, dispatcher: dispatcher)
        admin.put("senders/:phone_number_id") { request, context in
            try await putSender(request, context: context, dispatcher: dispatcher)
        }
        admin.patch("senders/:phone_number_id") { request, context in
            try await patchSender(request, context: context, dispatcher: dispatcher)
        }
        read.get("senders/:phone_number_id") { _, context in
            let id = try context.parameters.require("phone_number_id")
            guard isPhoneNumberID(id), let record = try dispatcher.sender(phoneNumberID: id) else {
                throw APIError.senderNotRegistered(id)
            }
            let live = dispatcher.senderSnapshots().first { $0.id == record.id }
            return JSONBody.response(.ok, SenderRoutes.liveJSON(record, live))
        }
        submit.post("campaigns") { request, _ in
            try await CampaignIntakeRoute.post(request, dispatcher: dispatcher, keys: keys, batchRecipients: campaignBatchRecipients)
        }
        read.get("campaigns") { request, _ in
            try listCampaigns(request, dispatcher: dispatcher)
        }
        read.get("campaigns/:id") { _, context in
            switch try ClusterCampaignRoutes.reference(context, nodeID: dispatcher.configuration.nodeID) {
            case .here(let id): return try await campaignDetail(id, dispatcher: dispatcher, cluster: directory)
            case .on(let node, let id): return try await ClusterCampaignRoutes.forward("/cluster/campaigns/\(id)", to: node, source: directory)
            }
        }
        CampaignMessageRoutes.add(read: read, submit: submit, dispatcher: dispatcher, keys: keys, batchRecipients: campaignBatchRecipients, cluster: directory)
        read.get("cluster") { _, _ in
            guard let cluster else {
                throw APIError(.notFound, code: .notFound, message: "this node is not in a cluster (serve --cluster-etcd URL --node-id ID)")
            }
            let view = await cluster.current()
            return JSONBody.response(.ok, [
                "node": view.nodeID,
                "lease_alive": view.leaseAlive,
                "error": view.lastError.map { $0 as Any } ?? NSNull(),
                "nodes": view.nodes.map { ["id": $0.id, "url": $0.url.map { $0 as Any } ?? NSNull(), "alive": $0.alive] as [String: Any] },
                "owners": view.owners,
                "handed_over": view.handedOver,
            ])
        }
        for (action, state) in [("pause", CampaignState.paused), ("resume", .active), ("cancel", .withdrawn)] {
            submit.post("campaigns/:id/\(action)") { _, context in
                switch try ClusterCampaignRoutes.reference(context, nodeID: dispatcher.configuration.nodeID) {
                case .here(let id): return try await changeCampaign(id, to: state, action: action, dispatcher: dispatcher, cluster: directory)
                case .on(let node, let id): return try await ClusterCampaignRoutes.forward("/cluster/campaigns/\(id)/\(action)", post: true, to: node, source: directory)
                }
            }
        }
        // Last, so that it wraps only the not-found answer: a path routed for other
        // methods gets 405 with `Allow`.
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes.map { ($0.path.description, $0.method) }))
        return router
    }

    /// A phone_number_id that `PUT /v1/senders/{id}` could register (1–64 digits). Others
    /// are never looked up: the journal refuses an empty key or one over 511 bytes.
    static func isPhoneNumberID(_ text: String) -> Bool {
        let bytes = text.utf8
        return (1...CampaignIntake.phoneNumberIDBytesMax).contains(bytes.count) && bytes.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    static func putSender(_ request: Request, context: BasicRequestContext, dispatcher: Dispatcher) async throws -> Response {
        let id = try context.parameters.require("phone_number_id")
        let body = try await JSONBody.object(request, limitBytes: senderBodyBytesMax)
        try KnownFields.check(body, senderFields)
        return try await applySender(id, body, dispatcher: dispatcher, keepingPause: false)
    }

    /// `PATCH /v1/senders/{id}`: changes only the fields given (a tier without the token);
    /// a pause stays unless the token is among them (a new token is what lifts one).
    static func patchSender(_ request: Request, context: BasicRequestContext, dispatcher: Dispatcher) async throws -> Response {
        let id = try context.parameters.require("phone_number_id")
        guard isPhoneNumberID(id), let existing = try dispatcher.sender(phoneNumberID: id) else { throw APIError.senderNotRegistered(id) }
        var body = try await JSONBody.object(request, limitBytes: senderBodyBytesMax)
        try KnownFields.check(body, senderFields)
        guard !body.isEmpty else { throw APIError.invalid("body", "the body names no field to change; known: \(senderFields.sorted().joined(separator: ", "))") }
        let keepingPause = body["access_token"] == nil
        if body["tier_mps"] == nil { body["tier_mps"] = existing.tierMessagesPerSecond }
        if body["burst"] == nil { body["burst"] = Int(existing.burst) }
        if body["access_token"] == nil { body["access_token"] = existing.accessToken }
        return try await applySender(id, body, dispatcher: dispatcher, keepingPause: keepingPause)
    }

    /// A sender body as PUT takes it (required members present), checked and stored.
    static func applySender(_ id: String, _ body: [String: Any], dispatcher: Dispatcher, keepingPause: Bool) async throws -> Response {
        guard let tierValue = body["tier_mps"] else { throw APIError.invalid("tier_mps", "tier_mps is required (messages per second, 1–1000)") }
        guard let tier = number(tierValue) else { throw APIError.invalid("tier_mps", "tier_mps must be a number") }
        var burst = 1
        if let b = body["burst"] {
            guard let value = number(b), value == value.rounded() else { throw APIError.invalid("burst", "burst must be an integer") }
            // Int(_:) traps past Int's range (1e300); such a value is out of 1…1000 anyway.
            burst = Int(exactly: value) ?? 0
        }
        guard let tokenValue = body["access_token"] else { throw APIError.invalid("access_token", "access_token is required") }
        guard let token = tokenValue as? String else { throw APIError.invalid("access_token", "access_token must be a string") }
        var appSecret: String?
        if let secretValue = body["app_secret"] {
            guard let secret = secretValue as? String else { throw APIError.invalid("app_secret", "app_secret must be a string") }
            if let problem = CampaignIntake.problem(appSecret: secret) { throw APIError.invalid(problem.field, problem.reason) }
            appSecret = secret
        }
        if let problem = CampaignIntake.problem(phoneNumberID: id, tier: tier, burst: burst, accessToken: token) {
            throw APIError.invalid(problem.field, problem.reason)
        }
        let (messagingLimit, group) = try SenderRoutes.limitSettings(body)
        let (window, keywords) = try SenderRoutes.contactSettings(body)
        var display = SenderSetting<String>.keep
        if let value = body["display_phone_number"] {
            if value is NSNull {
                display = .set(nil)
            } else if let text = value as? String, (1...32).contains(text.utf8.count), !Dispatcher.displayDigits(text).isEmpty,
                text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "+" || $0 == " " || $0 == "-") })
            {
                display = .set(text)
            } else {
                throw APIError.invalid("display_phone_number", "display_phone_number must be the number as dialled (digits, with '+', spaces or '-' at most), or null")
            }
        }
        let record = try await dispatcher.putSender(
            phoneNumberID: id, tierMessagesPerSecond: tier, burst: burst, accessToken: token, appSecret: appSecret,
            messagingLimit: messagingLimit, group: group, customerWindow: window, optOutKeywords: keywords, displayPhoneNumber: display,
            keepingPause: keepingPause)
        return JSONBody.response(.ok, senderJSON(record))
    }

    static let campaignStates = Set(CampaignProgress.State.allCases.map(\.rawValue))

    /// The `{id}` of a campaign route; 404 for anything but a positive integer.
    static func campaignID(_ context: BasicRequestContext) throws -> CampaignID {
        let text = try context.parameters.require("id")
        // Digits only, no leading zero: one id has one spelling (`+1`, `01` are not 1).
        guard let first = text.utf8.first, first != UInt8(ascii: "0"), text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let raw = UInt64(text), raw > 0 else {
            throw APIError(.notFound, code: .notFound, field: "id", message: "campaign '\(text)' does not exist (ids are positive integers)")
        }
        return CampaignID(raw)
    }

    /// `GET /v1/campaigns/{id}`: the campaign; in a cluster with its node, and what the
    /// nodes it was handed to made of it.
    static func campaignDetail(_ id: CampaignID, dispatcher: Dispatcher, cluster: (any ClusterDirectorySource)?) async throws -> Response {
        guard let progress = try dispatcher.campaignProgress(id) else {
            throw APIError(.notFound, code: .notFound, field: "id", message: "campaign \(id) does not exist")
        }
        var json = campaignJSON(progress, node: dispatcher.configuration.nodeID)
        if let cluster, progress.handedOver > 0 {
            json["handed_over_to"] = await ClusterCampaignRoutes.handedOver(id, action: nil, source: cluster)
        }
        return JSONBody.response(.ok, json)
    }

    /// `POST /v1/campaigns/{id}/pause|resume|cancel`: 200 with the campaign; 409 when its
    /// state does not allow it (a streamed upload still arriving, an ended campaign).
    ///
    /// In a cluster the change reaches what other nodes send of it (listed in `handed_over_to`).
    static func changeCampaign(
        _ id: CampaignID, to state: CampaignState, action: String, dispatcher: Dispatcher, cluster: (any ClusterDirectorySource)? = nil
    ) async throws -> Response {
        let progress: CampaignProgress?
        do {
            progress = try await dispatcher.setCampaignState(id, state)
        } catch let conflict as CampaignStateConflict {
            // Handed over whole, it has nothing left here: the change is for the nodes that send it.
            if let cluster, let here = try dispatcher.campaignProgress(id), here.handedOver > 0 {
                let there = await ClusterCampaignRoutes.handedOver(id, action: action, source: cluster)
                // Done there too (everything sent): as much a conflict as here.
                let changed = there.contains { ($0["campaigns"] as? [[String: Any]] ?? []).contains { $0["state"] as? String == state.description } }
                if changed {
                    var json = campaignJSON(here, node: dispatcher.configuration.nodeID)
                    json["handed_over_to"] = there
                    return JSONBody.response(.ok, json)
                }
            }
            throw APIError(
                .conflict, code: .campaignState, field: "id",
                message: "campaign \(id) is \(conflict.current) and cannot \(action) (it must be \(conflict.expected))")
        }
        guard let progress else { throw APIError(.notFound, code: .notFound, field: "id", message: "campaign \(id) does not exist") }
        var json = campaignJSON(progress, node: dispatcher.configuration.nodeID)
        // Asked even with nothing handed over yet: a batch may be on its way.
        if let cluster { json["handed_over_to"] = await ClusterCampaignRoutes.handedOver(id, action: action, source: cluster) }
        return JSONBody.response(.ok, json)
    }

    /// `GET /v1/campaigns?state=active&limit=50&after=ID` → `{"campaigns": […], "next": "ID" | null}`.
    static func listCampaigns(_ request: Request, dispatcher: Dispatcher) throws -> Response {
        let query = request.uri.queryParameters
        var limit = 50
        if let text = query["limit"] {
            guard let value = Int(String(text)), (1...500).contains(value) else { throw APIError.invalid("limit", "limit must be a whole number from 1 to 500") }
            limit = value
        }
        var after: CampaignID?
        if let text = query["after"] {
            guard let value = UInt64(String(text)), value > 0 else { throw APIError.invalid("after", "after must be a campaign id (a positive integer)") }
            after = CampaignID(value)
        }
        var state: String?
        if let text = query["state"] {
            guard campaignStates.contains(String(text)) else {
                throw APIError.invalid("state", "state must be one of \(campaignStates.sorted().joined(separator: ", "))")
            }
            state = String(text)
        }
        var label: String?
        if let text = query["label"] {
            guard CampaignIntake.isLabel(String(text)) else { throw APIError.invalid("label", "label must be 1–\(CampaignIntake.labelBytesMax) letters, digits, '.', '_', ':', '/' or '-'") }
            label = String(text)
        }
        var name: String?
        if let text = query["name"] {
            guard (1...CampaignIntake.nameBytesMax).contains(text.utf8.count) else { throw APIError.invalid("name", "name must be 1–\(CampaignIntake.nameBytesMax) bytes (matched as a case-insensitive part of the name)") }
            name = String(text)
        }
        var origin: CampaignOrigin?
        if let text = query["origin"] {
            guard let value = CampaignOrigin(text) else {
                throw APIError.invalid("origin", "origin must be <node id>:<campaign id>, the campaign another node of the cluster handed over")
            }
            origin = value
        }
        let page = try dispatcher.campaignPage(after: after, limit: limit, state: state, label: label, nameContains: name, origin: origin)
        var json: [String: Any] = [
            "campaigns": page.campaigns.map(campaignJSON),
            "next": page.next.map { $0.description as Any } ?? NSNull(),
        ]
        // In a cluster each node lists the campaigns in its own journal: say whose.
        if let node = dispatcher.configuration.nodeID { json["node"] = node }
        return JSONBody.response(.ok, json)
    }

    static func senderJSON(_ record: SenderRecord) -> [String: Any] {
        var json: [String: Any] = [
            "phone_number_id": record.phoneNumberID,
            "tier_mps": record.tierMessagesPerSecond,
            "burst": Int(record.burst),
            "paused": record.paused,
            "has_app_secret": record.appSecret != nil,
            "messaging_limit": record.messagingLimit.map { $0 as Any } ?? NSNull(),
            "customer_window": record.customerWindow.description,
            "opt_out_keywords": record.effectiveOptOutKeywords,
        ]
        if let reason = record.pauseReason { json["pause_reason"] = reason }
        if let group = record.group { json["group"] = group }
        json["display_phone_number"] = record.displayPhoneNumber.map { $0 as Any } ?? NSNull()
        // In a cluster: the ownership this node last sent for it under.
        if let f = record.fencing { json["fencing"] = ["token": f.token, "since": APIKeyRoutes.timestamp(f.sinceMilliseconds)] as [String: Any] }
        return json
    }

    /// In a cluster (`node`) the campaign's answers name their node: ids are per node.
    static func campaignJSON(_ p: CampaignProgress, node: String?) -> [String: Any] {
        var json = campaignJSON(p)
        if let node { json["node"] = node }
        return json
    }

    static func campaignJSON(_ p: CampaignProgress) -> [String: Any] {
        var json: [String: Any] = [
            "id": p.id.description,
            "state": p.state,
            "total": p.total,
            "counts": [
                "queued": p.queued, "in_flight": p.inFlight, "sent": p.sent, "failed": p.failed,
                "in_doubt": p.inDoubt, "delivered": p.delivered, "read": p.read, "unknown": p.unknown,
                "expired": p.expired, "cancelled": p.cancelled, "suppressed": p.suppressed, "handed_over": p.handedOver,
            ],
            "created_at": CampaignOptionsInput.text(p.createdMilliseconds),
            "priority": p.options.priority.description,
            "delivery": p.options.delivery.description,
            "schedule_at": p.options.scheduleAtMilliseconds.map { CampaignOptionsInput.text($0) as Any } ?? NSNull(),
            "expires_at": p.options.expiresAtMilliseconds.map { CampaignOptionsInput.text($0) as Any } ?? NSNull(),
            "unsent": p.unsent,
            "send_rate": (p.sendRate * 10).rounded() / 10,
            "eta_seconds": p.etaSeconds.map { $0.rounded(.up) as Any } ?? NSNull(),
            "waiting_for": p.waitingFor.map { $0 as Any } ?? NSNull(),
        ]
        if let sender = p.senderPhoneNumberID { json["sender"] = sender }
        if let reason = p.pauseReason { json["pause_reason"] = reason }
        json["name"] = p.options.name.map { $0 as Any } ?? NSNull()
        json["labels"] = p.options.labels
        json["retry_of"] = p.options.retryOf.map { $0.description as Any } ?? NSNull()
        json["origin"] = p.options.origin.map { ["node": $0.node, "campaign": $0.campaign.description] as Any } ?? NSNull()
        json["retries"] = p.retries.map(\.description)
        json["failures"] = p.failures.entries.sorted { $0.count > $1.count }.map { e -> [String: Any] in
            ["code": e.code == FailureCounts.otherCode ? NSNull() : Int(e.code) as Any, "count": e.count]
        }
        return json
    }

    /// A JSON number (not a boolean) as a Double. On Linux `true` parses as an NSNumber
    /// whose `objCType` is "c", and `is Bool` also holds for the numbers 0 and 1.
    static func number(_ value: Any) -> Double? {
        guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
        return n.doubleValue
    }
}
