import Foundation
import Hummingbird

/// `GET /__mock/stats`, `GET /__mock/arrivals`, `GET /__mock/webhooks/delivered`,
/// `PUT /__mock/senders/{id}`, `POST /__mock/account/{id}` and
/// `POST /__mock/contacts/{id}/{wa_id}/inbound`: what the mock saw and which deliveries it
/// reported, run-time registration of senders, account webhooks on demand, and customer
/// windows opened without an incoming message, for tests, demos and load tests.
struct InspectionRoutes: Sendable {
    /// Registration bodies are tiny.
    static let senderBodyBytesMax = 4 * 1024

    /// Most arrivals one `/__mock/arrivals` response returns; page with `offset`.
    static let arrivalsPerResponseMax = 100_000

    let recorder: ArrivalRecorder
    let book: SenderBook
    let stats: @Sendable () -> MockStats
    /// Nil when the mock sends no status webhooks.
    let webhooks: StatusWebhookSender?
    /// Nil when the mock sends no incoming messages.
    var inbound: InboundMessageSender? = nil

    func register(on router: Router<MockRequestContext>) {
        router.get("/__mock/stats") { _, _ in
            JSONResponse.make(status: .ok, bytes: stats().jsonBytes())
        }
        router.put("/__mock/senders/:phoneNumberID") { request, context in
            try await registerSender(request, phoneNumberID: context.parameters.get("phoneNumberID") ?? "")
        }
        router.get("/__mock/arrivals") { request, _ in
            arrivals(request)
        }
        router.get("/__mock/webhooks/delivered") { request, _ in
            deliveries(request)
        }
        router.get("/__mock/inbound") { request, _ in
            inboundPosted(request)
        }
        router.post("/__mock/account/:phoneNumberID") { request, context in
            try await accountUpdate(request, phoneNumberID: context.parameters.get("phoneNumberID") ?? "")
        }
        router.post("/__mock/contacts/:phoneNumberID/:waID/inbound") { request, context in
            declareInbound(request, phoneNumberID: context.parameters.get("phoneNumberID") ?? "", waID: context.parameters.get("waID") ?? "")
        }
    }

    /// Opens the contact's customer window as if it had written `seconds_ago` (query,
    /// default 0) seconds ago: 204. Nothing is posted to the webhook receiver, so tests open
    /// a window without the inbound generator (and with `seconds_ago` ≥ 86400, one that
    /// has closed). 409 when the mock does not judge the window.
    func declareInbound(_ request: Request, phoneNumberID: String, waID: String) -> Response {
        guard SendRequestValidator.isPhoneNumberID(phoneNumberID[...]) else {
            return MetaError.invalidParameter("phone_number_id", "Param phone_number_id must be digits.").response
        }
        guard SendRequestValidator.isRecipient(waID) else {
            return MetaError.invalidParameter("wa_id", "Param wa_id must be a phone number of digits.").response
        }
        let text = request.uri.queryParameters.get("seconds_ago") ?? "0"
        // A year bounds the product below Int64's range.
        guard let secondsAgo = Int64(text), (0...366 * 86_400).contains(secondsAgo) else {
            return MetaError.invalidParameter("seconds_ago", "Param seconds_ago must be a whole number from 0 to \(366 * 86_400).").response
        }
        guard book.customerWindow else {
            return JSONResponse.make(
                status: .conflict, bytes: Array(#"{"error":{"message":"the mock does not judge the customer window: start it with --customer-window"}}"#.utf8))
        }
        book.declareInbound(phoneNumberID: phoneNumberID, contact: waID, time: WallClock.nowNanoseconds() - secondsAgo * 1_000_000_000)
        return Response(status: .noContent)
    }

    /// Body `{"event": "THROUGHPUT_UPGRADE", "limit": "TIER_2K", "old_limit": "TIER_250"}`
    /// (`event` required): posts that `phone_number_quality_update` to the webhook receiver,
    /// after raising the number's tier here to 1 000 msg/s for `THROUGHPUT_UPGRADE`, as
    /// WhatsApp would. Answers `{"status": <the receiver's HTTP status>}`, 502 when it could
    /// not be reached, 409 when the mock sends no webhooks.
    func accountUpdate(_ request: Request, phoneNumberID: String) async throws -> Response {
        guard SendRequestValidator.isPhoneNumberID(phoneNumberID[...]), var sender = book.senders()[phoneNumberID] else {
            return MetaError.invalidParameter("phone_number_id", "Unsupported post request. Object with ID '\(phoneNumberID.prefix(64))' does not exist.").response
        }
        guard let webhooks else {
            return JSONResponse.make(status: .conflict, bytes: Array(#"{"error":{"message":"the mock sends no webhooks: start it with --webhook-url"}}"#.utf8))
        }
        let body = try await request.body.collect(upTo: Self.senderBodyBytesMax)
        guard let fields = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
            let event = fields["event"] as? String, !event.isEmpty, event.utf8.count <= 64
        else {
            return MetaError.requiredParameterMissing("event", "The parameter event is required (THROUGHPUT_UPGRADE, UPGRADE, DOWNGRADE, …).").response
        }
        func name(_ key: String) -> String? { (fields[key] as? String).flatMap { $0.isEmpty || $0.utf8.count > 64 ? nil : $0 } }
        if event == "THROUGHPUT_UPGRADE", let tier = sender.tierMessagesPerSecond, tier < 1_000 {
            sender.tierMessagesPerSecond = 1_000
            book.register(phoneNumberID: phoneNumberID, sender: sender)
        }
        let update = AccountUpdateSender.body(
            phoneNumberID: phoneNumberID, event: event, limit: name("limit"), oldLimit: name("old_limit"), time: Int(Date().timeIntervalSince1970))
        guard let status = await AccountUpdateSender.post(update, configuration: webhooks.configuration) else {
            return JSONResponse.make(status: .badGateway, bytes: Array(#"{"error":{"message":"the webhook receiver could not be reached"}}"#.utf8))
        }
        return JSONResponse.make(status: .ok, bytes: Array(#"{"status":\#(status)}"#.utf8))
    }

    /// Body `{"tier_mps": 80, "access_token": "…"}`, both optional (absent or null: unlimited,
    /// any token); answers the registration as stored.
    func registerSender(_ request: Request, phoneNumberID: String) async throws -> Response {
        guard SendRequestValidator.isPhoneNumberID(phoneNumberID[...]) else {
            return MetaError.invalidParameter("phone_number_id", "Param phone_number_id must be digits.").response
        }
        let body = try await request.body.collect(upTo: Self.senderBodyBytesMax)
        let data = Data(body.readableBytesView)
        let parsed = data.isEmpty ? [:] : (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard let fields = parsed else {
            return MetaError.invalidParameter("body", "The request body must be a JSON object.").response
        }
        for key in fields.keys where key != "tier_mps" && key != "access_token" {
            return MetaError.invalidParameter(key, "Unknown parameter \(key); known: tier_mps, access_token.").response
        }
        var sender = MockSender()
        if let value = fields["tier_mps"], !(value is NSNull) {
            guard let number = value as? Double else {
                return MetaError.invalidParameter("tier_mps", "Param tier_mps must be a number.").response
            }
            sender.tierMessagesPerSecond = number
        }
        if let value = fields["access_token"], !(value is NSNull) {
            guard let token = value as? String else {
                return MetaError.invalidParameter("access_token", "Param access_token must be a string.").response
            }
            sender.accessToken = token
        }
        do {
            try sender.validate()
        } catch .invalidConfiguration(let message) {
            let field = message.hasPrefix("tier") ? "tier_mps" : "access_token"
            return MetaError.invalidParameter(field, "Param \(field): \(message).").response
        } catch {
            return MetaError.invalidParameter("body", "\(error)").response
        }
        book.register(phoneNumberID: phoneNumberID, sender: sender)
        var bytes = Array(#"{"phone_number_id":"#.utf8)
        JSONText.appendString(phoneNumberID, to: &bytes)
        bytes.append(contentsOf: #","tier_mps":"#.utf8)
        bytes.append(contentsOf: (sender.tierMessagesPerSecond.map { String($0) } ?? "null").utf8)
        bytes.append(contentsOf: #","access_token_set":"#.utf8)
        bytes.append(contentsOf: (sender.accessToken != nil ? "true" : "false").utf8)
        bytes.append(UInt8(ascii: "}"))
        return JSONResponse.make(status: .ok, bytes: bytes)
    }

    /// JSON array of arrivals, oldest first; query: `phone_number_id`, `offset`, `limit`.
    func arrivals(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let phoneNumberID = query.get("phone_number_id")
        switch Self.page(request) {
        case .failure(let error): return error.response
        case .success(let (offset, limit)):
            return Self.arrayResponse(recorder.arrivals(phoneNumberID: phoneNumberID, offset: offset, limit: limit))
        }
    }

    /// JSON array of the `delivered` statuses the webhook receiver acknowledged with 2xx, in
    /// the arrivals' shape with `t` the wall time of that 2xx, oldest first; query: `offset`,
    /// `limit`. 404 when the mock sends no webhooks.
    func deliveries(_ request: Request) -> Response {
        guard let webhooks else {
            return MetaError(
                status: .notFound, code: 100, type: "OAuthException",
                message: "(#100) Status webhooks are off: start the mock with --webhook-url and --app-secret.", field: nil
            ).response
        }
        switch Self.page(request) {
        case .failure(let error): return error.response
        case .success(let (offset, limit)): return Self.arrayResponse(webhooks.deliveries(offset: offset, limit: limit))
        }
    }

    /// `[{"wamid","phone_number_id","from","type","media_id","posted_t","t"}]`: the incoming
    /// messages the receiver acknowledged (`posted_t`, wall-clock ns of the first post, when
    /// the message took its place in the number's throughput window; `t`, of the 2xx),
    /// oldest first.
    func inboundPosted(_ request: Request) -> Response {
        guard let inbound else {
            return MetaError(
                status: .notFound, code: 100, type: "OAuthException",
                message: "(#100) Incoming messages are off: start the mock with --inbound-rate and --webhook-url.", field: nil
            ).response
        }
        switch Self.page(request) {
        case .failure(let error): return error.response
        case .success(let (offset, limit)):
            var bytes: [UInt8] = [UInt8(ascii: "[")]
            for (i, p) in inbound.acknowledged(offset: offset, limit: limit).enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: #"{"wamid":"#.utf8)
                JSONText.appendString(p.wamid, to: &bytes)
                bytes.append(contentsOf: #","phone_number_id":"#.utf8)
                JSONText.appendString(p.phoneNumberID, to: &bytes)
                bytes.append(contentsOf: #","from":"#.utf8)
                JSONText.appendString(p.from, to: &bytes)
                bytes.append(contentsOf: #","type":"#.utf8)
                JSONText.appendString(p.type, to: &bytes)
                bytes.append(contentsOf: #","media_id":"#.utf8)
                if let id = p.mediaID { JSONText.appendString(id, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
                bytes.append(contentsOf: #","posted_t":"#.utf8)
                bytes.append(contentsOf: String(p.postedNanoseconds).utf8)
                bytes.append(contentsOf: #","t":"#.utf8)
                bytes.append(contentsOf: String(p.acknowledgedNanoseconds).utf8)
                bytes.append(UInt8(ascii: "}"))
            }
            bytes.append(UInt8(ascii: "]"))
            return JSONResponse.make(status: .ok, bytes: bytes)
        }
    }

    /// `offset` (≥ 0, default 0) and `limit` (0…``arrivalsPerResponseMax``, default the maximum).
    static func page(_ request: Request) -> Result<(offset: Int, limit: Int), MetaError> {
        let query = request.uri.queryParameters
        let offset = query.get("offset", as: Int.self) ?? 0
        let limit = query.get("limit", as: Int.self) ?? arrivalsPerResponseMax
        guard offset >= 0 else {
            return .failure(.invalidParameter("offset", "Param offset must be a non-negative integer."))
        }
        guard (0...arrivalsPerResponseMax).contains(limit) else {
            return .failure(.invalidParameter("limit", "Param limit must be between 0 and \(arrivalsPerResponseMax)."))
        }
        return .success((offset, limit))
    }

    static func arrayResponse(_ arrivals: [Arrival]) -> Response {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(arrivals.count * 180 + 2)
        for (index, arrival) in arrivals.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            arrival.appendJSONLine(to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
        return JSONResponse.make(status: .ok, bytes: bytes)
    }
}
