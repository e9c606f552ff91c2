import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceEngine

/// Gives the unsent messages this node holds for numbers another node holds to that node:
/// a campaign submitted here while another node sends for its number, or the backlog a
/// node finds when it comes back and its numbers have moved on.
///
/// Each batch (at most `Dispatcher.handoverBatchMax` messages of one campaign, in id
/// order) goes as one NDJSON campaign to `POST /cluster/handover` on the holder, with an
/// idempotency key made of the batch's ids; only after the holder's 202 are the messages
/// recorded here as `handed_over`. A crash between the two sends the same batch again,
/// and the holder answers it from its idempotency record: nothing is journaled twice.
struct BacklogHandover: Sendable {
    struct Holder: Sendable, Equatable {
        var node: String
        var url: String
    }

    static let fromNodeHeader = "Sluice-From-Node"
    static let originCampaignHeader = "Sluice-Origin-Campaign"
    static let path = "/cluster/handover"

    let dispatcher: Dispatcher
    let http: HTTPClient
    let nodeID: String
    let logger: Logger
    var requestTimeout: TimeAmount = .seconds(30)

    /// Hands over what it can until `deadline`, number by number, leaving out the
    /// campaigns in `skipping`. Returns the messages handed over and the campaigns a holder
    /// refused. A holder that fails is left for the next pass.
    func pass(
        holders: [String: Holder], token: String, until deadline: ContinuousClock.Instant, skipping: Set<CampaignID> = []
    ) async -> (handed: Int, refused: [CampaignID]) {
        var handed = 0
        var refused: [CampaignID] = []
        let local: [String: SenderID]
        do { local = Dictionary(try dispatcher.senders().map { ($0.phoneNumberID, $0.id) }, uniquingKeysWith: { a, _ in a }) } catch {
            logger.error("cluster: reading the senders failed: \(error)")
            return (0, [])
        }
        for (phone, holder) in holders.sorted(by: { $0.key < $1.key }) {
            guard let sender = local[phone] else { continue }
            let campaigns: [CampaignID]
            do { campaigns = try dispatcher.campaignsToHandOver(sender: sender) } catch {
                logger.error("cluster: reading the backlog of \(phone) failed: \(error)")
                continue
            }
            campaignLoop: for campaign in campaigns where !skipping.contains(campaign) {
                var mediaSent = false
                while ContinuousClock.now < deadline {
                    // The number came back here during the pass: its messages are this
                    // node's to send again, and a batch taken now could go twice.
                    if holdsHere(sender) { break campaignLoop }
                    do {
                        guard let batch = try dispatcher.handoverBatch(campaign) else { continue campaignLoop }
                        // The files the message names go first, under their ids.
                        if !mediaSent {
                            try await sendMedia(of: batch, to: holder, token: token)
                            mediaSent = true
                        }
                        handed += try await send(batch, to: holder, token: token)
                    } catch let refusal as Refused {
                        // The holder will not take this campaign (a message it cannot send):
                        // the others still go.
                        logger.error("cluster: node \(holder.node) refused campaign \(campaign) of \(phone): \(refusal.reason); it stays here")
                        refused.append(campaign)
                        continue campaignLoop
                    } catch {
                        logger.warning("cluster: handing campaign \(campaign) of \(phone) to node \(holder.node) failed: \(error); tried again later")
                        return (handed, refused)
                    }
                }
                return (handed, refused)
            }
        }
        return (handed, refused)
    }

    /// Whether this node sends for the sender now (its latest snapshot).
    func holdsHere(_ sender: SenderID) -> Bool {
        dispatcher.senderSnapshots().first { $0.id == sender }?.owned == true
    }

    struct Refused: Error { var reason: String }
    struct Failed: Error, CustomStringConvertible { var description: String }

    /// The uploaded files the campaign's message names, to `PUT /cluster/media/{id}` on
    /// the holder (which keeps each once): without them it would refuse the campaign.
    func sendMedia(of batch: HandoverBatch, to holder: Holder, token: String) async throws {
        for record in try dispatcher.uploadedMedia(named: batch.campaign.message) {
            let path = dispatcher.mediaVolume.path(sha256: record.sha256)
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }  // gone: the holder says which
            var request = HTTPClientRequest(url: holder.url.trimmingSuffix("/") + "/cluster/media/" + record.id)
            request.method = .PUT
            request.headers.add(name: "Content-Type", value: record.mimeType)
            request.headers.add(name: "Authorization", value: "Bearer " + token)
            request.headers.add(name: "Sluice-Media-SHA256", value: record.sha256)
            request.body = .bytes(ByteBuffer(bytes: bytes))
            let response = try await http.execute(request, timeout: requestTimeout)
            let answer = try await response.body.collect(upTo: 1 << 20)
            switch response.status.code {
            case 200, 201:
                logger.info("cluster: media \(record.id) (\(record.size) bytes) is at node \(holder.node) for campaign \(batch.campaign.id)")
            case 400, 413, 415:
                throw Refused(reason: "media \(record.id): HTTP \(response.status.code) \(String(buffer: answer).prefix(300))")
            default:
                throw Failed(description: "media \(record.id): HTTP \(response.status.code) \(String(buffer: answer).prefix(300))")
            }
        }
    }

    /// One batch: sent, then recorded. Returns the messages recorded as handed over.
    func send(_ batch: HandoverBatch, to holder: Holder, token: String) async throws -> Int {
        var request = HTTPClientRequest(url: holder.url.trimmingSuffix("/") + Self.path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        request.headers.add(name: "Idempotency-Key", value: batch.idempotencyKey)
        request.headers.add(name: Self.fromNodeHeader, value: nodeID)
        // The holder adds every batch of this campaign to one campaign of its own.
        request.headers.add(name: Self.originCampaignHeader, value: batch.campaign.id.description)
        request.body = .bytes(ByteBuffer(bytes: try Self.body(batch, from: nodeID)))
        let response = try await http.execute(request, timeout: requestTimeout)
        let answer = try await response.body.collect(upTo: 4 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(answer.readableBytesView))) as? [String: Any]
        switch response.status.code {
        case 202:
            break
        case 400, 404, 409, 413, 415, 422:
            throw Refused(reason: "HTTP \(response.status.code) \(String(buffer: answer).prefix(300))")
        default:
            throw Failed(description: "HTTP \(response.status.code) \(String(buffer: answer).prefix(300))")
        }
        guard let object, let remote = object["id"] as? String else { throw Failed(description: "an answer without a campaign id: \(String(buffer: answer).prefix(300))") }
        // Lines the holder refused (the header is line 1) end failed here, with its reason.
        var refused: [MessageID: String] = [:]
        for entry in object["rejected"] as? [[String: Any]] ?? [] {
            guard let line = (entry["line"] as? NSNumber)?.intValue, line >= 2, line - 2 < batch.messages.count else { continue }
            refused[batch.messages[line - 2].id] = entry["reason"] as? String ?? "refused"
        }
        var accepted = batch
        accepted.messages.removeAll { refused[$0.id] != nil }
        let movedOn = try await dispatcher.recordHandover(accepted, node: holder.node, remoteCampaign: remote)
        if !refused.isEmpty {
            let failed = try await dispatcher.recordHandoverRefusals(refused, node: holder.node)
            logger.warning("cluster: node \(holder.node) refused \(refused.count) message(s) of campaign \(batch.campaign.id); \(failed) ended failed here")
        }
        if !movedOn.isEmpty {
            logger.warning("cluster: \(movedOn.count) message(s) of campaign \(batch.campaign.id) were taken up here while being handed to node \(holder.node): they may be sent twice")
        }
        logger.info("cluster: handed \(accepted.messages.count - movedOn.count) message(s) of campaign \(batch.campaign.id) (\(batch.phoneNumberID)) to node \(holder.node), its campaign \(remote)")
        return accepted.messages.count - movedOn.count
    }

    /// The batch as an NDJSON campaign: the origin's message and options, then one line
    /// per message with its params and external id. `dedupe` is off: exactly these.
    static func body(_ batch: HandoverBatch, from node: String) throws -> [UInt8] {
        let record = batch.campaign
        var header: [String: Any] = [
            "sender": batch.phoneNumberID,
            "message": try JSONSerialization.jsonObject(with: Data(record.message)),
            "priority": record.options.priority.description,
            "delivery": record.options.delivery.description,
            "dedupe": false,
            "name": name(of: record, from: node),
        ]
        if let at = record.options.scheduleAtMilliseconds { header["schedule_at"] = Double(at) / 1000 }
        if let at = record.options.expiresAtMilliseconds { header["expires_at"] = Double(at) / 1000 }
        if !record.options.labels.isEmpty { header["labels"] = record.options.labels }
        var out = try Array(JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        out.append(0x0a)
        for m in batch.messages {
            var line: [String: Any] = ["to": m.to, "params": m.params]
            if let external = m.externalID { line["external_id"] = external }
            out += try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes])
            out.append(0x0a)
        }
        return out
    }

    /// "<its name> (from node n1, campaign 7)", within the name's limit.
    static func name(of record: CampaignRecord, from node: String) -> String {
        let origin = "from node \(node), campaign \(record.id)"
        guard let name = record.options.name else { return origin }
        let full = "\(name) (\(origin))"
        return full.utf8.count <= CampaignIntake.nameBytesMax ? full : origin
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
