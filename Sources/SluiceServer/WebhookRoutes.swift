import Foundation
import Hummingbird
import NIOCore
import SluiceCore
import SluiceCrypto
import SluiceCluster
import SluiceEngine

/// WhatsApp webhooks: `GET /webhooks/whatsapp` answers Meta's verification handshake,
/// `POST /webhooks/whatsapp` records `statuses[]` and incoming `messages[]` after checking
/// `X-Hub-Signature-256` against the app secret of the numbers the body names; incoming
/// messages are journaled before the answer.
/// No admin key: Meta authenticates with the signature.
public enum WebhookRoutes {
    public static let path = "webhooks/whatsapp"
    public static let bodyBytesMax = 1 << 20
    public static let statusesPerBodyMax = 10_000

    public static func add(to router: Router<BasicRequestContext>, dispatcher: Dispatcher, verifyToken: String?, cluster: WebhookClusterRouting? = nil) {
        router.get(RouterPath(stringLiteral: path)) { request, _ in
            let query = request.uri.queryParameters
            guard query["hub.mode"].map(String.init) == "subscribe", let challenge = query["hub.challenge"].map(String.init) else {
                throw APIError(.badRequest, code: .invalidField, field: "hub.mode", message: "expected hub.mode=subscribe with hub.challenge")
            }
            guard let verifyToken, let given = query["hub.verify_token"].map(String.init),
                Digest.constantTimeEqual(Array(given.utf8), Array(verifyToken.utf8))
            else {
                throw APIError(.forbidden, code: .forbidden, field: "hub.verify_token", message: "hub.verify_token does not match the configured webhook verify token")
            }
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(string: challenge)))
        }
        router.post(RouterPath(stringLiteral: path)) { request, _ in
            try await receive(request, dispatcher: dispatcher, cluster: cluster)
        }
    }

    static func receive(_ request: Request, dispatcher: Dispatcher, cluster: WebhookClusterRouting? = nil) async throws -> Response {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: bodyBytesMax)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: .bodyTooLarge, message: "the webhook body is larger than \(bodyBytesMax) bytes")
        }
        let body = Array(buffer.readableBytesView)
        let payload: WebhookPayload
        do {
            payload = try WebhookPayload(body: body, statusesMax: statusesPerBodyMax)
        } catch let error as WebhookPayload.ParseError {
            throw APIError(.badRequest, code: .malformedWebhook, field: error.field, message: error.message)
        }
        let signature = request.headers.first(where: { $0.name.canonicalName == "x-hub-signature-256" })?.value
        if let cluster {
            return try await cluster.receive(request, payload: payload, body: body, signature: signature, dispatcher: dispatcher)
        }
        let numbers = try verify(payload, body: body, signature: signature, dispatcher: dispatcher, unknownAllowed: false)
        // Not in a cluster: a status tagged with a node is matched by its wamid alone.
        var part = WebhookPart(payload, numbers: numbers, receivedMilliseconds: dispatcher.clock.wallMilliseconds())
        part.updates = payload.updates.indices.compactMap { i in
            guard payload.updateNodes[i] != nil else { return payload.updates[i] }
            return payload.updates[i].wamid.map { StatusUpdate(wamid: $0, status: payload.updates[i].status, errorCode: payload.updates[i].errorCode, errorMessage: payload.updates[i].errorMessage) }
        }
        part.ignored += payload.updates.count - part.updates.count
        return try await record(part, dispatcher: dispatcher).response()
    }

    /// Checks `X-Hub-Signature-256`: every number the body speaks for must be registered
    /// here (with `unknownAllowed`, those that are) and share one app secret, since the
    /// signature covers the whole body. Returns phone_number_id → sender of each number
    /// found, account changes' numbers included.
    static func verify(_ payload: WebhookPayload, body: [UInt8], signature: String?, dispatcher: Dispatcher, unknownAllowed: Bool) throws -> [String: SenderRecord] {
        var secrets = Set<String>()
        var found: [String: SenderRecord] = [:]
        for phone in payload.phoneNumberIDs {
            guard APIRoutes.isPhoneNumberID(phone), let sender = try dispatcher.sender(phoneNumberID: phone) else {
                if unknownAllowed { continue }
                throw APIError(.unauthorized, code: .unknownSender, field: "metadata.phone_number_id", message: "phone_number_id \(phone) is not registered; nothing was recorded")
            }
            guard let secret = sender.appSecret else {
                throw APIError(.unauthorized, code: .noAppSecret, field: "metadata.phone_number_id", message: "sender \(phone) has no app_secret to verify webhooks with; nothing was recorded")
            }
            secrets.insert(secret)
            found[phone] = sender
        }
        // An account change names its number by display number only.
        for change in payload.accountChanges {
            guard let sender = try dispatcher.sender(displayPhoneNumber: change.displayPhoneNumber) else {
                if unknownAllowed { continue }
                throw APIError(
                    .unauthorized, code: .unknownSender, field: "display_phone_number",
                    message: "no sender has display number \(change.displayPhoneNumber) (learnt from its webhooks' metadata, or set with PUT /v1/senders); nothing was recorded")
            }
            guard let secret = sender.appSecret else {
                throw APIError(.unauthorized, code: .noAppSecret, field: "display_phone_number", message: "sender \(sender.phoneNumberID) has no app_secret to verify webhooks with; nothing was recorded")
            }
            secrets.insert(secret)
            found[sender.phoneNumberID] = sender
        }
        if unknownAllowed && found.isEmpty && (!payload.phoneNumberIDs.isEmpty || !payload.accountChanges.isEmpty) {
            throw APIError(.unauthorized, code: .unknownSender, field: "metadata.phone_number_id", message: "none of the body's numbers is registered on this node; nothing was recorded")
        }
        if !payload.phoneNumberIDs.isEmpty || !payload.accountChanges.isEmpty {
            guard secrets.count == 1, let secret = secrets.first, let signature,
                WebhookSignature.isValid(header: signature, secret: Array(secret.utf8), body: body)
            else {
                throw APIError(.unauthorized, code: .badSignature, field: "X-Hub-Signature-256", message: "the X-Hub-Signature-256 header does not match the body signed with the sender's app secret; nothing was recorded")
            }
        }
        return found
    }

    /// Records the part of a webhook this node takes.
    static func record(_ part: WebhookPart, dispatcher: Dispatcher) async throws -> WebhookCounts {
        let inbound = try await dispatcher.recordInbound(part.messages)
        let (applied, ignored) = try await dispatcher.applyStatuses(part.updates)
        try await dispatcher.learnDisplayPhoneNumbers(part.displayNumbers)
        var accounts = 0
        for change in part.accountChanges {
            if try await dispatcher.applyAccountUpdate(displayPhoneNumber: change.displayPhoneNumber, event: change.event, limit: change.limit, oldLimit: change.oldLimit) != nil {
                accounts += 1
            }
        }
        return WebhookCounts(applied: applied, ignored: ignored + part.ignored, messages: inbound.recorded, duplicates: inbound.duplicates, accounts: accounts)
    }

    /// `{"account_updates":0,"applied":1,"duplicate_messages":0,"ignored":0,"messages":0}`:
    /// written by hand, as every webhook answers it (`JSONSerialization` was a fifth of
    /// the status path's CPU).
    static func answer(applied: Int, ignored: Int, messages: Int, duplicates: Int, accounts: Int) -> Response {
        let text = #"{"account_updates":\#(accounts),"applied":\#(applied),"duplicate_messages":\#(duplicates),"ignored":\#(ignored),"messages":\#(messages)}"#
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The parts of a WhatsApp webhook body that Sluice acts on.
struct WebhookPayload {
    struct ParseError: Error {
        var field: String
        var message: String
    }

    /// Longest wamid taken (WhatsApp's are under 100 bytes; the journal keys by it).
    static let wamidBytesMax = 480

    /// A `phone_number_quality_update` change: the number by its display number alone.
    struct AccountChange {
        var displayPhoneNumber: String
        var event: String
        /// `max_daily_conversations_per_business`, or the older `current_limit`.
        var limit: String?
        var oldLimit: String?
    }

    var phoneNumberIDs: Set<String> = []
    /// `metadata.display_phone_number` of each number the body names, when given.
    var displayNumbers: [String: String] = [:]
    var accountChanges: [AccountChange] = []
    var updates: [StatusUpdate] = []
    /// For each of `updates`, the node named in its callback data (`<id>@<node>`): the
    /// node of the cluster that sent the message. nil: no node named.
    var updateNodes: [String?] = []
    /// Incoming messages, without the time they were received.
    var messages: [InboundMessage] = []
    /// Statuses of a kind Sluice does not track, or with neither callback data nor a wamid.
    var unmatched = 0

    init(body: [UInt8], statusesMax: Int) throws {
        // `JSONTree`, not `JSONSerialization`: a fraction of the CPU, on every webhook.
        guard let root = try? JSONTree.parse(body), root.isObject else {
            throw ParseError(field: "body", message: "the webhook body is not a JSON object")
        }
        guard let entries = root["entry"]?.array else { throw ParseError(field: "entry", message: "entry must be an array") }
        for (e, entry) in entries.enumerated() {
            guard entry.isObject, let changes = entry["changes"]?.array else {
                throw ParseError(field: "entry[\(e)].changes", message: "entry[\(e)].changes must be an array")
            }
            for (c, change) in changes.enumerated() {
                guard change.isObject, let value = change["value"], value.isObject else {
                    throw ParseError(field: "entry[\(e)].changes[\(c)].value", message: "entry[\(e)].changes[\(c)].value must be an object")
                }
                if change["field"]?.string == "phone_number_quality_update" {
                    try parseAccountChange(value, at: "entry[\(e)].changes[\(c)].value", statusesMax: statusesMax)
                    continue
                }
                let metadata = value["metadata"]
                if let phone = metadata?["phone_number_id"]?.string, let display = metadata?["display_phone_number"]?.string, display.utf8.count <= 32 {
                    displayNumbers[phone] = display
                }
                if let messagesValue = value["messages"] {
                    try parseMessages(messagesValue, value: value, at: "entry[\(e)].changes[\(c)].value", statusesMax: statusesMax)
                }
                guard let statusesValue = value["statuses"] else { continue }
                guard let statuses = statusesValue.array else {
                    throw ParseError(field: "entry[\(e)].changes[\(c)].value.statuses", message: "entry[\(e)].changes[\(c)].value.statuses must be an array")
                }
                guard let phone = metadata?["phone_number_id"]?.string else {
                    throw ParseError(field: "entry[\(e)].changes[\(c)].value.metadata.phone_number_id", message: "statuses without metadata.phone_number_id")
                }
                phoneNumberIDs.insert(phone)
                for (s, status) in statuses.enumerated() {
                    let at = "entry[\(e)].changes[\(c)].value.statuses[\(s)]"
                    guard updates.count + unmatched + messages.count + accountChanges.count < statusesMax else {
                        throw ParseError(field: at, message: "more than \(statusesMax) statuses and messages in one body")
                    }
                    guard status.isObject, let name = status["status"]?.string else {
                        throw ParseError(field: at + ".status", message: "\(at).status is required")
                    }
                    guard let kind = StatusUpdate.Status(rawValue: name) else { unmatched += 1; continue }  // e.g. "deleted"
                    let (callback, node) = Self.callback(status["biz_opaque_callback_data"]?.string)
                    let wamid = status["id"]?.string
                    // Neither Sluice's callback data nor a wamid: nothing to match it by.
                    guard callback != nil || wamid != nil else {
                        unmatched += 1
                        continue
                    }
                    var code: Int32 = 0
                    var text: String?
                    if let first = status["errors"]?[0], first.isObject {
                        code = Int32(truncatingIfNeeded: first["code"]?.integer ?? 0)
                        text = first["title"]?.string ?? first["message"]?.string
                    }
                    if let callback {
                        updates.append(StatusUpdate(message: callback, status: kind, wamid: wamid, errorCode: code, errorMessage: text))
                        updateNodes.append(node)
                    } else if let wamid {
                        updates.append(StatusUpdate(wamid: wamid, status: kind, errorCode: code, errorMessage: text))
                        updateNodes.append(nil)
                    }
                }
            }
        }
    }

    /// Sluice's callback data: `<message id>` or, from a node of a cluster,
    /// `<message id>@<node id>[:<fencing token>]`. Anything else (another sender's data) is
    /// not Sluice's.
    static func callback(_ text: String?) -> (MessageID?, String?) {
        guard let text else { return (nil, nil) }
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard let id = UInt64(parts[0]), id > 0 else { return (nil, nil) }
        guard parts.count == 2 else { return (MessageID(id), nil) }
        let tagged = parts[1].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        if tagged.count == 2, Int64(tagged[1]) == nil { return (nil, nil) }
        let node = String(tagged[0])
        guard ClusterConfiguration.isNodeID(node) else { return (nil, nil) }
        return (MessageID(id), node)
    }

    mutating func parseAccountChange(_ value: JSONTree, at path: String, statusesMax: Int) throws {
        guard updates.count + unmatched + messages.count + accountChanges.count < statusesMax else {
            throw ParseError(field: path, message: "more than \(statusesMax) statuses, messages and account changes in one body")
        }
        guard let display = value["display_phone_number"]?.string, !Dispatcher.displayDigits(display).isEmpty, display.utf8.count <= 32 else {
            throw ParseError(field: path + ".display_phone_number", message: path + ".display_phone_number must be the number's digits")
        }
        guard let event = value["event"]?.string, !event.isEmpty, event.utf8.count <= 64 else {
            throw ParseError(field: path + ".event", message: path + ".event is required")
        }
        func name(_ key: String) -> String? { value[key]?.string.flatMap { $0.isEmpty || $0.utf8.count > 64 ? nil : $0 } }
        accountChanges.append(
            AccountChange(
                displayPhoneNumber: display, event: event, limit: name("max_daily_conversations_per_business") ?? name("current_limit"),
                oldLimit: name("old_limit")))
    }

    /// The incoming messages, stamped with when they were received.
    func inbound(receivedMilliseconds: Int64) -> [InboundMessage] {
        messages.map {
            var m = $0
            m.receivedMilliseconds = receivedMilliseconds
            return m
        }
    }

    /// The media of an image, video, audio, document or sticker message: `{type: {id,
    /// mime_type, sha256}}`. Without a usable id (letters, digits, '-', '_': it becomes a
    /// journal key and a URL) the message is still recorded, with no media to fetch:
    /// refusing the body would only make Meta redeliver it for days.
    static func mediaReference(_ message: JSONTree, type: String) -> MediaReference? {
        guard let kind = MediaKind(rawValue: type), let media = message[type], let id = media["id"]?.string, MediaRoutes.isMediaID(id)
        else { return nil }
        let mime = media["mime_type"]?.string.flatMap { MIMEType.isValid($0) ? $0 : nil }
        let sha = media["sha256"]?.string.flatMap { $0.utf8.count <= 128 ? $0 : nil }
        return MediaReference(id: id, kind: kind, mimeType: mime, sha256: sha)
    }

    /// `value.messages[]` with the `contacts[]` entry of each sender: every message needs
    /// a string `id` (its wamid), `type` and `timestamp`; `from` may be missing.
    mutating func parseMessages(_ messagesValue: JSONTree, value: JSONTree, at path: String, statusesMax: Int) throws {
        guard let list = messagesValue.array else { throw ParseError(field: path + ".messages", message: path + ".messages must be an array") }
        guard let phone = value["metadata"]?["phone_number_id"]?.string else {
            throw ParseError(field: path + ".metadata.phone_number_id", message: "messages without metadata.phone_number_id")
        }
        phoneNumberIDs.insert(phone)
        let contacts = value["contacts"]?.array?.filter(\.isObject) ?? []
        for (i, message) in list.enumerated() {
            let at = "\(path).messages[\(i)]"
            guard updates.count + unmatched + messages.count + accountChanges.count < statusesMax else {
                throw ParseError(field: at, message: "more than \(statusesMax) statuses and messages in one body")
            }
            guard message.isObject else { throw ParseError(field: at, message: "\(at) must be an object") }
            guard let wamid = message["id"]?.string, !wamid.isEmpty else { throw ParseError(field: at + ".id", message: "\(at).id (the wamid) is required") }
            guard wamid.utf8.count <= Self.wamidBytesMax else {
                throw ParseError(field: at + ".id", message: "\(at).id is \(wamid.utf8.count) bytes, more than \(Self.wamidBytesMax)")
            }
            guard let type = message["type"]?.string, !type.isEmpty else { throw ParseError(field: at + ".type", message: "\(at).type is required") }
            guard let timestamp = message["timestamp"]?.string else {
                throw ParseError(field: at + ".timestamp", message: "\(at).timestamp is required (Unix seconds, a string)")
            }
            let from = message["from"]?.string
            // The sender's contact: by wa_id, or the only one when the message has no `from`.
            let contact = contacts.first { from != nil && $0["wa_id"]?.string == from } ?? (contacts.count == 1 && from == nil ? contacts.first : nil)
            let userID = message["from_user_id"]?.string ?? contact?["user_id"]?.string
            let name = contact?["profile"]?["name"]?.string
            messages.append(InboundMessage(
                wamid: wamid, senderPhoneNumberID: phone, from: from, fromUserID: userID, contactName: name, timestamp: timestamp, type: type,
                object: message.write(sortedKeys: true), receivedMilliseconds: 0, media: Self.mediaReference(message, type: type)))
        }
    }
}
