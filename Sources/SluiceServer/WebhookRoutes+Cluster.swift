import Foundation
import Hummingbird
import Logging
import SluiceCluster
import SluiceCore
import SluiceEngine

/// What a webhook answer counts.
struct WebhookCounts: Sendable {
    var applied = 0
    var ignored = 0
    var messages = 0
    var duplicates = 0
    var accounts = 0

    static func + (a: Self, b: Self) -> Self {
        Self(applied: a.applied + b.applied, ignored: a.ignored + b.ignored, messages: a.messages + b.messages, duplicates: a.duplicates + b.duplicates, accounts: a.accounts + b.accounts)
    }

    /// From another node's answer.
    init?(answer: [UInt8]) {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(answer))) as? [String: Any] else { return nil }
        func n(_ key: String) -> Int { (o[key] as? NSNumber)?.intValue ?? 0 }
        self.init(applied: n("applied"), ignored: n("ignored"), messages: n("messages"), duplicates: n("duplicate_messages"), accounts: n("account_updates"))
    }

    init(applied: Int = 0, ignored: Int = 0, messages: Int = 0, duplicates: Int = 0, accounts: Int = 0) {
        self.applied = applied
        self.ignored = ignored
        self.messages = messages
        self.duplicates = duplicates
        self.accounts = accounts
    }

    func response() -> Response {
        WebhookRoutes.answer(applied: applied, ignored: ignored, messages: messages, duplicates: duplicates, accounts: accounts)
    }
}

/// The part of a webhook one node records.
struct WebhookPart: Sendable {
    var updates: [StatusUpdate] = []
    var messages: [InboundMessage] = []
    var accountChanges: [WebhookPayload.AccountChange] = []
    var displayNumbers: [String: String] = [:]
    /// Statuses counted as ignored before the journal sees them.
    var ignored = 0

    /// All of it.
    init(_ payload: WebhookPayload, numbers: [String: SenderRecord], receivedMilliseconds: Int64) {
        updates = payload.updates
        messages = payload.inbound(receivedMilliseconds: receivedMilliseconds)
        accountChanges = payload.accountChanges
        displayNumbers = payload.displayNumbers.filter { numbers[$0.key] != nil }
        ignored = payload.unmatched
    }

    init() {}
}

/// A webhook in a cluster. WhatsApp sends an app's webhooks to one URL, so any node may get
/// any number's: each status goes to the node named in its callback data (the one whose
/// journal has the message), incoming messages and account changes to the number's
/// holder (it paces the number, keeps its customer window and opt-outs). This node
/// records its part, passes the rest on (`WebhookRelay`) and answers 200 only when every
/// part is recorded somewhere; otherwise 503, and WhatsApp delivers the webhook again
/// (what was recorded is not recorded twice: statuses only move forward, messages are
/// taken once per wamid).
public struct WebhookClusterRouting: Sendable {
    let source: any ClusterDirectorySource
    let relay: WebhookRelay
    let logger: Logger

    public init(source: any ClusterDirectorySource, relay: WebhookRelay = WebhookRelay(), logger: Logger = Logger(label: "sluice.webhooks")) {
        self.source = source
        self.relay = relay
        self.logger = logger
    }

    static let forwardedFrom = HTTPFields.Element.Name(WebhookRelay.forwardedFromHeader)!
    static let numbersHeader = HTTPFields.Element.Name(WebhookRelay.numbersHeader)!
    static let relayedBy = HTTPFields.Element.Name(WebhookRelay.relayedByHeader)!

    func receive(_ request: Request, payload: WebhookPayload, body: [UInt8], signature: String?, dispatcher: Dispatcher) async throws -> Response {
        guard let directory = await source.directory() else {
            throw APIError(.serviceUnavailable, code: .clusterUnavailable, message: "this node has not joined its cluster yet; nothing was recorded (WhatsApp delivers the webhook again)")
        }
        if let from = request.headers[Self.forwardedFrom] {
            return try await take(request, from: from, payload: payload, body: body, signature: signature, directory: directory, dispatcher: dispatcher)
        }
        // A number not registered here: its holder has its app secret; it routes the webhook.
        if request.headers[Self.relayedBy] == nil,
            let missing = try payload.phoneNumberIDs.sorted().first(where: { try dispatcher.sender(phoneNumberID: $0) == nil }),
            let holder = directory.holders[missing], holder != directory.nodeID
        {
            let answer: WebhookRelay.Answer
            do { answer = try await relay.relay(body: body, signature: signature, to: holder, directory: directory) } catch {
                throw APIError(.serviceUnavailable, code: .clusterUnavailable, message: "number \(missing) is held by \(error); nothing was recorded (WhatsApp delivers the webhook again)")
            }
            return Response(
                status: HTTPResponse.Status(code: answer.status), headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        let numbers = try WebhookRoutes.verify(payload, body: body, signature: signature, dispatcher: dispatcher, unknownAllowed: false)
        let received = dispatcher.clock.wallMilliseconds()
        let me = directory.nodeID
        var local = WebhookPart()
        local.ignored = payload.unmatched
        local.displayNumbers = payload.displayNumbers.filter { numbers[$0.key] != nil }
        // node → the numbers whose messages and account changes it takes, and how many items go there.
        var remote: [String: (numbers: Set<String>, items: Int)] = [:]
        for (i, update) in payload.updates.enumerated() {
            if let node = payload.updateNodes[i], node != me {
                remote[node, default: ([], 0)].items += 1
            } else {
                local.updates.append(update)
            }
        }
        for message in payload.inbound(receivedMilliseconds: received) {
            if let holder = directory.holders[message.senderPhoneNumberID], holder != me {
                remote[holder, default: ([], 0)].numbers.insert(message.senderPhoneNumberID)
                remote[holder, default: ([], 0)].items += 1
            } else {
                local.messages.append(message)
            }
        }
        for change in payload.accountChanges {
            let phone = try dispatcher.sender(displayPhoneNumber: change.displayPhoneNumber)?.phoneNumberID
            if let phone, let holder = directory.holders[phone], holder != me {
                remote[holder, default: ([], 0)].numbers.insert(phone)
                remote[holder, default: ([], 0)].items += 1
            } else {
                local.accountChanges.append(change)
            }
        }
        var counts = try await WebhookRoutes.record(local, dispatcher: dispatcher)
        guard !remote.isEmpty else { return counts.response() }

        let results = await withTaskGroup(of: (String, Result<WebhookRelay.Answer, any Error>).self) { group in
            for (node, part) in remote {
                group.addTask {
                    do { return (node, .success(try await relay.forward(body: body, signature: signature, to: node, numbers: part.numbers, directory: directory))) } catch {
                        return (node, .failure(error))
                    }
                }
            }
            var out: [(String, Result<WebhookRelay.Answer, any Error>)] = []
            for await r in group { out.append(r) }
            return out
        }
        var unreachable: [String] = []
        for (node, result) in results.sorted(by: { $0.0 < $1.0 }) {
            switch result {
            case .success(let answer) where answer.status == 200:
                counts = counts + (WebhookCounts(answer: answer.body) ?? WebhookCounts())
            case .success(let answer) where (400..<500).contains(answer.status):
                // That node will not take it (e.g. the number is gone there): sent again, it would be refused again.
                logger.warning("webhooks: node \(node) refused its part (HTTP \(answer.status)): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
                counts.ignored += remote[node]?.items ?? 0
            case .success(let answer):
                unreachable.append("node \(node) answered HTTP \(answer.status)")
            case .failure(let error):
                unreachable.append("\(error)")
            }
        }
        guard unreachable.isEmpty else {
            logger.warning("webhooks: could not pass on: \(unreachable.joined(separator: "; ")); answered 503 for WhatsApp to deliver it again")
            throw APIError(
                .serviceUnavailable, code: .clusterUnavailable,
                message: "this node recorded its part; the parts of other nodes could not be passed on (\(unreachable.joined(separator: "; "))); WhatsApp delivers the webhook again and nothing is recorded twice")
        }
        return counts.response()
    }

    /// The part another node passed on to this one.
    private func take(
        _ request: Request, from: String, payload: WebhookPayload, body: [UInt8], signature: String?, directory: ClusterDirectory, dispatcher: Dispatcher
    ) async throws -> Response {
        try ClusterHandoverRoute.authorize(request, token: directory.token)
        guard ClusterConfiguration.isNodeID(from) else {
            throw APIError.invalid(WebhookRelay.forwardedFromHeader, "\(WebhookRelay.forwardedFromHeader) must name the node passing the webhook on")
        }
        let mine = Set((request.headers[Self.numbersHeader] ?? "").split(separator: ",").map(String.init))
        let numbers = try WebhookRoutes.verify(payload, body: body, signature: signature, dispatcher: dispatcher, unknownAllowed: true)
        var part = WebhookPart()
        for (i, update) in payload.updates.enumerated() where payload.updateNodes[i] == directory.nodeID { part.updates.append(update) }
        part.messages = payload.inbound(receivedMilliseconds: dispatcher.clock.wallMilliseconds()).filter {
            mine.contains($0.senderPhoneNumberID) && numbers[$0.senderPhoneNumberID] != nil
        }
        for change in payload.accountChanges {
            if let phone = try dispatcher.sender(displayPhoneNumber: change.displayPhoneNumber)?.phoneNumberID, mine.contains(phone) {
                part.accountChanges.append(change)
            }
        }
        part.displayNumbers = payload.displayNumbers.filter { numbers[$0.key] != nil }
        return try await WebhookRoutes.record(part, dispatcher: dispatcher).response()
    }
}
