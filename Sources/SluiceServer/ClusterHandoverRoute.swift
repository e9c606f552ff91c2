import Hummingbird
import SluiceCluster
import SluiceCore
import SluiceCrypto
import SluiceEngine

/// `POST /cluster/handover`: another node of the cluster gives this one messages for a
/// number this node holds (see `BacklogHandover`). The body is an NDJSON campaign, as at
/// `POST /v1/campaigns`; the caller shows the cluster's secret (`Authorization: Bearer`),
/// names itself (`Sluice-From-Node`) and always sends an `Idempotency-Key`, kept per
/// node: a batch sent again after a crash is answered from the first answer.
///
/// `Sluice-Origin-Campaign` names the campaign on the handing node: its first batch makes
/// a campaign here that keeps that origin, and later batches are added to it (a node's
/// note under the idempotency key `origin/<id>` of its scope says which), so a campaign
/// given to one node is one campaign on the node that sends it.
enum ClusterHandoverRoute {
    static let fromNodeHeader = HTTPFields.Element.Name("Sluice-From-Node")!
    static let originCampaignHeader = HTTPFields.Element.Name("Sluice-Origin-Campaign")!

    static let mediaSHA256Header = HTTPFields.Element.Name("Sluice-Media-SHA256")!

    static func add(to router: Router<BasicRequestContext>, dispatcher: Dispatcher, cluster: ClusterAgent, batchRecipients: Int) {
        router.post("cluster/handover") { request, _ in
            try await post(request, dispatcher: dispatcher, token: await cluster.handoverToken(), batchRecipients: batchRecipients)
        }
        router.put("cluster/media/:id") { request, context in
            try await putMedia(request, id: try context.parameters.require("id"), dispatcher: dispatcher, token: await cluster.handoverToken())
        }
    }

    static func authorize(_ request: Request, token: String?) throws {
        guard let token else {
            throw APIError(.serviceUnavailable, code: .clusterUnavailable, message: "this node has not joined its cluster yet; try again shortly")
        }
        let shown = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        guard Digest.constantTimeEqual(Array(shown.utf8), Array(token.utf8)) else {
            throw APIError(.unauthorized, code: .unauthorized, field: "Authorization", message: "a call between the cluster's nodes needs the cluster's secret (Authorization: Bearer …)")
        }
    }

    /// `PUT /cluster/media/{id}`: a file a handed-over campaign names, kept under the same
    /// id (the raw body with its Content-Type and `Sluice-Media-SHA256`, checked). Sent
    /// again, it answers the file kept.
    static func putMedia(_ request: Request, id: String, dispatcher: Dispatcher, token: String?) async throws -> Response {
        try authorize(request, token: token)
        guard id.hasPrefix(MediaRecord.uploadIDPrefix), MediaRoutes.isMediaID(id) else {
            throw APIError.invalid("id", "a handed-over file keeps its id, which starts with \(MediaRecord.uploadIDPrefix)")
        }
        guard let sha256 = request.headers[mediaSHA256Header], sha256.utf8.count == 64 else {
            throw APIError.invalid("Sluice-Media-SHA256", "Sluice-Media-SHA256 must give the file's SHA-256 (64 hex digits)")
        }
        return try await MediaRoutes.upload(request, dispatcher: dispatcher, id: id, sha256: sha256)
    }

    static func post(_ request: Request, dispatcher: Dispatcher, token: String?, batchRecipients: Int) async throws -> Response {
        try authorize(request, token: token)
        guard let from = request.headers[fromNodeHeader], ClusterConfiguration.isNodeID(from) else {
            throw APIError.invalid("Sluice-From-Node", "Sluice-From-Node must name the handing node (1–64 of a-z A-Z 0-9 . _ -)")
        }
        guard CampaignFormat(contentType: request.headers[.contentType]) == .ndjson else {
            throw APIError(.unsupportedMediaType, code: .invalidField, field: "Content-Type", message: "a handover is an NDJSON campaign (application/x-ndjson)")
        }
        guard let key = try CampaignIntakeRoute.idempotencyKey(request.headers[CampaignIntakeRoute.idempotencyKeyHeader]) else {
            throw APIError.invalid("Idempotency-Key", "a handover needs an Idempotency-Key, so that a batch sent twice is taken once")
        }
        let claim = CampaignIntakeRoute.Claim(scope: IdempotencyRecord.nodeScopePrefix + from, key: key)
        let hasher = SHA256Hasher()
        hasher.update(Array("\(CampaignFormat.ndjson.rawValue)\n".utf8))
        if let replay = try await CampaignIntakeRoute.replay(request, format: .ndjson, claim: claim, hasher: hasher, dispatcher: dispatcher) { return replay }
        guard let text = request.headers[originCampaignHeader] else {
            // A node of an earlier version: each batch is a campaign of its own.
            return try await CampaignIntakeRoute.postNDJSON(request, dispatcher: dispatcher, hasher: hasher, claim: claim, batchRecipients: batchRecipients)
        }
        guard let id = UInt64(text), id > 0 else {
            throw APIError.invalid("Sluice-Origin-Campaign", "Sluice-Origin-Campaign must be the campaign's id on the handing node (a positive integer)")
        }
        let origin = CampaignOrigin(node: from, campaign: CampaignID(id))
        let noteKey = "origin/\(id)"
        func note(_ campaign: CampaignID) -> IdempotencyRecord {
            IdempotencyRecord(
                scope: claim.scope, key: noteKey, createdMilliseconds: dispatcher.clock.wallMilliseconds(), requestDigest: [], status: 200,
                body: Array(campaign.description.utf8))
        }
        if let mapped = try dispatcher.idempotencyRecord(scope: claim.scope, key: noteKey),
            let campaign = UInt64(String(decoding: mapped.body, as: UTF8.self)).map(CampaignID.init(_:)),
            var upload = try appending(to: campaign, origin: origin, dispatcher: dispatcher)
        {
            var lines = BodyLines(request.body, lineBytesMax: CampaignIntakeRoute.lineBytesMax, hasher: hasher)
            guard let header = try await lines.nextNonBlank() else {
                throw APIError.invalid("header", "the body is empty; its first line must be the campaign header")
            }
            let sender = try CampaignIntakeRoute.ndjsonHeader(header.bytes, number: header.number).sender
            guard sender == (try dispatcher.senders().first { $0.id == upload.senderID })?.phoneNumberID else {
                throw APIError(.conflict, code: .campaignState, field: "sender", message: "campaign \(campaign), which sends campaign \(origin), is not for \(sender)")
            }
            upload.dedupe = false
            return try await CampaignIntakeRoute.readLines(&lines, into: &upload, dispatcher: dispatcher, hasher: hasher, claim: claim, notes: [note(campaign)]) {
                RecipientLine.parse($0)
            }
        }
        return try await CampaignIntakeRoute.postNDJSON(
            request, dispatcher: dispatcher, hasher: hasher, claim: claim, batchRecipients: batchRecipients, origin: origin, notes: { [note($0)] })
    }

    /// An upload adding to the campaign that sends `origin` here; nil when it is gone
    /// (retention removed it): the batch makes a new one.
    static func appending(to campaign: CampaignID, origin: CampaignOrigin, dispatcher: Dispatcher) throws -> CampaignUpload? {
        do {
            guard let upload = try dispatcher.appendingTo(campaign) else { return nil }
            return upload
        } catch .campaignState {
            throw APIError(
                .conflict, code: .campaignState, field: "Sluice-Origin-Campaign",
                message: "campaign \(campaign), which sends campaign \(origin) here, was cancelled on this node; it takes no more messages")
        } catch {
            throw CampaignIntakeRoute.apiError(error, position: "line")
        }
    }
}
