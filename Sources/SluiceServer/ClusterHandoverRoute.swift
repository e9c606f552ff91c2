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
enum ClusterHandoverRoute {
    static let fromNodeHeader = HTTPFields.Element.Name("Sluice-From-Node")!

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
        return try await CampaignIntakeRoute.postNDJSON(request, dispatcher: dispatcher, hasher: hasher, claim: claim, batchRecipients: batchRecipients)
    }
}
