import Foundation
import Hummingbird
import SluiceCore
import SluiceCrypto
import SluiceEngine

/// `POST /v1/subscriptions` (admin) registers a URL for events (`events`: `status`, the
/// default, `message` for incoming messages, `account`); `GET
/// /v1/subscriptions` and `GET /v1/subscriptions/{id}` (read) list them with their delivery
/// counters, never the secret; `DELETE /v1/subscriptions/{id}` (admin) removes one and the
/// events still waiting for it.
///
///     POST {"url": "https://hooks.example.com/sluice", "secret": "…", "campaign": "42",
///           "states": ["delivered", "failed"], "events": ["status", "message"]}
///           → 201 with "secret" (generated when
///           not given): the only time it is shown
enum SubscriptionRoutes {
    static let bodyBytesMax = 8 * 1024
    static let urlBytesMax = 2048
    static let secretBytesMin = 16
    static let secretBytesMax = 512
    static let reportedStates = MessageState.allCases.filter(\.isReported)

    static func add(read: RouterGroup<BasicRequestContext>, admin: RouterGroup<BasicRequestContext>, dispatcher: Dispatcher) {
        admin.post("subscriptions") { request, _ in
            try await create(request, dispatcher: dispatcher)
        }
        read.get("subscriptions") { _, _ in
            let records = try journaled { try dispatcher.subscriptions() }
            return JSONBody.response(.ok, ["subscriptions": records.map { json($0) }])
        }
        read.get("subscriptions/:id") { _, context in
            let id = try subscriptionID(context)
            guard let record = try journaled({ try dispatcher.subscription(id: id) }) else { throw notFound(id) }
            return JSONBody.response(.ok, json(record))
        }
        admin.delete("subscriptions/:id") { _, context in
            let id = try subscriptionID(context)
            // A mirror lives as long as the subscription it mirrors: that one is deleted where it was made.
            if let mirror = try journaled({ try dispatcher.subscription(id: id) })?.mirrorOf {
                throw APIError(
                    .conflict, code: .subscriptionMirror, field: "id",
                    message: "sub_\(id) mirrors node \(mirror.node)'s sub_\(mirror.id); delete that one on node \(mirror.node), and every node drops its mirror")
            }
            guard try await journaled({ try await dispatcher.deleteSubscription(id: id) }) else { throw notFound(id) }
            return Response(status: .noContent)
        }
    }

    static func create(_ request: Request, dispatcher: Dispatcher) async throws -> Response {
        let body = try await JSONBody.object(request, limitBytes: bodyBytesMax)
        try KnownFields.check(body, ["url", "secret", "campaign", "states", "events", "batch"])
        let input = try validate(body)
        if let campaign = input.campaign {
            guard try journaled({ try dispatcher.campaignProgress(campaign) }) != nil else {
                throw APIError(.unprocessableContent, code: .unknownCampaign, field: "campaign", message: "campaign \(campaign) does not exist")
            }
        }
        let secret = input.secret ?? "whsec_" + SecureRandom.hexToken(byteCount: 32)
        let record: SubscriptionRecord
        do {
            record = try await dispatcher.createSubscription(
                url: input.url, secret: secret, campaign: input.campaign, states: input.states, events: input.events, batchMax: input.batch)
        } catch is SubscriptionLimitError {
            throw APIError(.conflict, code: .tooManySubscriptions, message: "\(Dispatcher.subscriptionsMax) subscriptions exist; delete one first")
        } catch {
            throw APIError(.serviceUnavailable, code: .journalUnavailable, message: "the subscriptions could not be read or written: \(error)")
        }
        var answer = json(record)
        answer["secret"] = secret
        var response = JSONBody.response(.created, answer)
        response.headers[.cacheControl] = "no-store"
        response.headers[.location] = "/v1/subscriptions/\(record.publicID)"
        return response
    }

    struct Input {
        var url: String
        var secret: String?
        var campaign: CampaignID?
        var states: Set<MessageState>?
        var events: Set<SubscriberEventKind> = [.status]
        var batch = 1
    }

    /// The fields of a creation body; a 400 naming the field otherwise.
    static func validate(_ body: [String: Any]) throws(APIError) -> Input {
        guard let urlValue = body["url"] else { throw APIError.invalid("url", "url is required (an http:// or https:// URL that receives the events)") }
        guard let url = urlValue as? String else { throw APIError.invalid("url", "url must be a string") }
        if let problem = problem(url: url) { throw APIError.invalid("url", problem) }
        var input = Input(url: url)
        if let secretValue = body["secret"], !(secretValue is NSNull) {
            guard let secret = secretValue as? String else { throw APIError.invalid("secret", "secret must be a string") }
            let n = secret.utf8.count
            guard n >= secretBytesMin, n <= secretBytesMax else {
                throw APIError.invalid("secret", "secret is \(n) bytes, expected \(secretBytesMin)–\(secretBytesMax) (leave it out to get a generated one)")
            }
            guard secret.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw APIError.invalid("secret", "secret must be printable ASCII without spaces")
            }
            input.secret = secret
        }
        if let campaignValue = body["campaign"], !(campaignValue is NSNull) {
            let text = (campaignValue as? String) ?? APIRoutes.number(campaignValue).flatMap { $0 == $0.rounded() && $0 >= 1 && $0 < 1e18 ? String(Int64($0)) : nil }
            guard let text, let raw = UInt64(text), raw > 0 else { throw APIError.invalid("campaign", "campaign must be a campaign id (a positive integer)") }
            input.campaign = CampaignID(raw)
        }
        if let statesValue = body["states"], !(statesValue is NSNull) {
            let known = reportedStates.map(\.description).joined(separator: ", ")
            guard let list = statesValue as? [Any], !list.isEmpty else { throw APIError.invalid("states", "states must be a non-empty array of \(known)") }
            var states = Set<MessageState>()
            for (i, item) in list.enumerated() {
                guard let text = item as? String, let state = MessageState(name: text), state.isReported else {
                    throw APIError.invalid("states[\(i)]", "states[\(i)] must be one of \(known)")
                }
                states.insert(state)
            }
            input.states = states
        }
        if let eventsValue = body["events"], !(eventsValue is NSNull) {
            let known = SubscriberEventKind.allCases.map(\.rawValue).joined(separator: ", ")
            guard let list = eventsValue as? [Any], !list.isEmpty else { throw APIError.invalid("events", "events must be a non-empty array of \(known)") }
            var events = Set<SubscriberEventKind>()
            for (i, item) in list.enumerated() {
                guard let text = item as? String, let kind = SubscriberEventKind(rawValue: text) else {
                    throw APIError.invalid("events[\(i)]", "events[\(i)] must be one of \(known)")
                }
                events.insert(kind)
            }
            input.events = events
        }
        if let batchValue = body["batch"], !(batchValue is NSNull) {
            guard let n = APIRoutes.number(batchValue), n == n.rounded(), n >= 1, n <= Double(SubscriptionRecord.batchMaxLimit) else {
                throw APIError.invalid("batch", "batch must be an integer from 1 to \(SubscriptionRecord.batchMaxLimit): events per POST")
            }
            input.batch = Int(n)
        }
        return input
    }

    /// Why `url` cannot receive events; nil when it can.
    static func problem(url: String) -> String? {
        guard !url.isEmpty else { return "url must not be empty" }
        guard url.utf8.count <= urlBytesMax else { return "url is \(url.utf8.count) bytes, more than \(urlBytesMax)" }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            return "url must be an absolute http:// or https:// URL"
        }
        guard scheme == "http" || scheme == "https" else { return "url must use http or https, not \(scheme)" }
        guard let host = components.host, !host.isEmpty else { return "url must name a host" }
        guard components.user == nil && components.password == nil else {
            return "url must not carry credentials: the subscriber authenticates events with the X-Sluice-Signature-256 header"
        }
        guard components.fragment == nil else { return "url must not have a #fragment" }
        return nil
    }

    static func json(_ record: SubscriptionRecord) -> [String: Any] {
        [
            "id": record.publicID,
            "url": record.url,
            "filter": [
                "campaign": record.campaign.map { $0.description as Any } ?? NSNull(),
                "states": record.states.map { states in reportedStates.filter(states.contains).map(\.description) as Any } ?? NSNull(),
                "origin": record.origin.map { ["node": $0.node, "campaign": $0.campaign.description] as Any } ?? NSNull(),
            ],
            "mirror_of": record.mirrorOf.map { ["node": $0.node, "id": "sub_\($0.id)"] as Any } ?? NSNull(),
            "events": record.events.sorted().map(\.rawValue),
            "batch": record.batchMax,
            "created_at": APIKeyRoutes.timestamp(record.createdMilliseconds),
            "deliveries": [
                "pending": record.counters.pending,
                "delivered": record.counters.delivered,
                "failed_attempts": record.counters.failedAttempts,
                "dead": record.counters.dead,
            ],
        ]
    }

    static func subscriptionID(_ context: BasicRequestContext) throws -> UInt64 {
        let text = try context.parameters.require("id")
        guard let id = SubscriptionRecord.id(publicID: text) else {
            throw APIError(.notFound, code: .notFound, field: "id", message: "subscription '\(text)' does not exist (ids look like sub_1)")
        }
        return id
    }

    static func notFound(_ id: UInt64) -> APIError {
        APIError(.notFound, code: .notFound, field: "id", message: "subscription sub_\(id) does not exist")
    }

    /// Runs a journal call; its failure is a 503 that says why.
    static func journaled<T>(_ body: () async throws -> T) async throws(APIError) -> T {
        do { return try await body() } catch {
            throw APIError(.serviceUnavailable, code: .journalUnavailable, message: "the subscriptions could not be read or written: \(error)")
        }
    }

    static func journaled<T>(_ body: () throws -> T) throws(APIError) -> T {
        do { return try body() } catch {
            throw APIError(.serviceUnavailable, code: .journalUnavailable, message: "the subscriptions could not be read or written: \(error)")
        }
    }
}
