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

    static func add(to router: Router<BasicRequestContext>, dispatcher: Dispatcher, cluster: ClusterAgent, batchRecipients: Int) {
        router.post("cluster/handover") { request, _ in
            try await post(request, dispatcher: dispatcher, token: await cluster.handoverToken(), batchRecipients: batchRecipients)
        }
    }

    static func post(_ request: Request, dispatcher: Dispatcher, token: String?, batchRecipients: Int) async throws -> Response {
        guard let token else {
            throw APIError(.serviceUnavailable, code: .clusterUnavailable, message: "this node has not joined its cluster yet; try again shortly")
        }
        let shown = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        guard Digest.constantTimeEqual(Array(shown.utf8), Array(token.utf8)) else {
            throw APIError(.unauthorized, code: .unauthorized, field: "Authorization", message: "a handover needs the cluster's secret (Authorization: Bearer …)")
        }
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
