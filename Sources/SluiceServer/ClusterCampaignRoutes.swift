import AsyncHTTPClient
import Foundation
import Hummingbird
import SluiceCluster
import SluiceCore
import SluiceEngine

/// A campaign given to one node of a cluster is sent by the node that holds its number
/// (`BacklogHandover`), as one campaign there that names its origin. The node it was given
/// to still answers for it: its detail lists what the holders made of it, and pause,
/// resume and cancel reach them too.
///
/// Campaign ids are per node: in a cluster `/v1/campaigns/{id}` also takes `<node>:<id>`,
/// and any node answers for a campaign of another by asking that node (`forward`), so a
/// client behind a load balancer can follow what it submitted.
///
/// Between nodes (the cluster's secret): `GET /cluster/origins/{node}/{campaign}` → the
/// campaigns here that send it, `POST /cluster/origins/{node}/{campaign}/{pause|resume|cancel}`
/// → the same after the change; `GET /cluster/campaigns/{id}[/messages|/messages.csv]` and
/// `POST /cluster/campaigns/{id}/{pause|resume|cancel|retry}` → what `/v1/campaigns/{id}…`
/// answers here (a retry's key kept under `via:<caller>`, the caller's key id there).
enum ClusterCampaignRoutes {
    /// The API key id of the caller a node forwards a retry for (its idempotency scope).
    static let callerHeader = HTTPFields.Element.Name("Sluice-Caller")!

    static func add(to router: Router<BasicRequestContext>, dispatcher: Dispatcher, source: any ClusterDirectorySource, batchRecipients: Int) {
        router.get("cluster/campaigns/:id") { request, context in
            try ClusterHandoverRoute.authorize(request, token: await source.directory()?.token)
            return try await APIRoutes.campaignDetail(try APIRoutes.campaignID(context), dispatcher: dispatcher, cluster: source)
        }
        router.get("cluster/campaigns/:id/messages") { request, context in
            try ClusterHandoverRoute.authorize(request, token: await source.directory()?.token)
            return try CampaignMessageRoutes.messages(request, id: try APIRoutes.campaignID(context), dispatcher: dispatcher)
        }
        router.get("cluster/campaigns/:id/messages.csv") { request, context in
            try ClusterHandoverRoute.authorize(request, token: await source.directory()?.token)
            return try CampaignMessageRoutes.csv(request, id: try APIRoutes.campaignID(context), dispatcher: dispatcher)
        }
        router.post("cluster/campaigns/:id/retry") { request, context in
            try ClusterHandoverRoute.authorize(request, token: await source.directory()?.token)
            let key = try CampaignIntakeRoute.idempotencyKey(request.headers[CampaignIntakeRoute.idempotencyKeyHeader])
            // The caller's key is another node's: kept apart from this node's keys.
            let scope = key == nil ? nil : "via:" + (request.headers[callerHeader] ?? "")
            return try await CampaignMessageRoutes.retry(
                request, source: try APIRoutes.campaignID(context), key: key, scope: scope, dispatcher: dispatcher, batchRecipients: batchRecipients)
        }
        for (action, state) in actions {
            router.post("cluster/campaigns/:id/\(action)") { request, context in
                try ClusterHandoverRoute.authorize(request, token: await source.directory()?.token)
                return try await APIRoutes.changeCampaign(try APIRoutes.campaignID(context), to: state, action: action, dispatcher: dispatcher, cluster: source)
            }
        }
        router.get("cluster/origins/:node/:campaign") { request, context in
            let origin = try await authorizedOrigin(request, context, source: source)
            return JSONBody.response(.ok, ["campaigns": try campaigns(of: origin, dispatcher: dispatcher).map(APIRoutes.campaignJSON)])
        }
        for (action, state) in actions {
            router.post("cluster/origins/:node/:campaign/\(action)") { request, context in
                let origin = try await authorizedOrigin(request, context, source: source)
                var changed: [[String: Any]] = []
                for campaign in try campaigns(of: origin, dispatcher: dispatcher) {
                    // An ended one stays as it is: the others still change.
                    let progress = (try? await dispatcher.setCampaignState(campaign.id, state)) ?? campaign
                    changed.append(APIRoutes.campaignJSON(progress))
                }
                return JSONBody.response(.ok, ["campaigns": changed])
            }
        }
    }

    static let actions: [(String, CampaignState)] = [("pause", .paused), ("resume", .active), ("cancel", .withdrawn)]

    /// A campaign as a `/v1/campaigns/{id}` path names it.
    enum Reference {
        case here(CampaignID)
        case on(node: String, CampaignID)
    }

    /// `7`, or in a cluster `<node>:7` (this node's id, or another's); 404 otherwise.
    static func reference(_ context: BasicRequestContext, nodeID: String?) throws -> Reference {
        let text = try context.parameters.require("id")
        guard text.contains(":") else { return .here(try APIRoutes.campaignID(context)) }
        guard let nodeID else {
            throw APIError(.notFound, code: .notFound, field: "id", message: "campaign '\(text)' does not exist (<node>:<id> names a campaign in a cluster; this node is in none)")
        }
        guard let origin = CampaignOrigin(text), ClusterConfiguration.isNodeID(origin.node) else {
            throw APIError(.notFound, code: .notFound, field: "id", message: "campaign '\(text)' does not exist (ids are positive integers, or <node>:<id>)")
        }
        return origin.node == nodeID ? .here(origin.campaign) : .on(node: origin.node, origin.campaign)
    }

    /// Asks `node` for a body of any size (a campaign's messages as CSV) and streams its
    /// answer through as it comes.
    static func forwardStream(_ path: String, to node: String, source: (any ClusterDirectorySource)?) async throws -> Response {
        let directory = try await joined(source)
        let answer: HTTPClientResponse
        do { answer = try await PeerCalls(timeout: .minutes(30)).open(node, path, directory: directory) } catch { throw silent(node, error) }
        var headers = HTTPFields()
        for name in ["Content-Type", "Content-Disposition"] {
            if let value = answer.headers.first(name: name), let field = HTTPFields.Element.Name(name) { headers[field] = value }
        }
        let body = answer.body
        return Response(status: HTTPResponse.Status(code: Int(answer.status.code)), headers: headers, body: ResponseBody { writer in
            for try await chunk in body { try await writer.write(chunk) }
            try await writer.finish(nil)
        })
    }

    /// Asks `node`, which has the campaign, and answers what it answered.
    static func forward(
        _ path: String, post: Bool = false, body: [UInt8]? = nil, headers: [String: String] = [:], to node: String, source: (any ClusterDirectorySource)?
    ) async throws -> Response {
        let directory = try await joined(source)
        let answer: WebhookRelay.Answer
        do { answer = try await PeerCalls().call(node, post: post, path, body: body, headers: headers, directory: directory) } catch { throw silent(node, error) }
        return CampaignIntakeRoute.response(HTTPResponse.Status(code: answer.status), answer.body)
    }

    /// `path` with the request's query, for the node asked in its place.
    static func path(_ path: String, queryOf request: Request) -> String {
        path + (request.uri.query.map { "?" + $0 } ?? "")
    }

    private static func joined(_ source: (any ClusterDirectorySource)?) async throws -> ClusterDirectory {
        guard let directory = await source?.directory() else {
            throw APIError(.serviceUnavailable, code: .clusterUnavailable, message: "this node has not joined its cluster yet; try again shortly")
        }
        return directory
    }

    private static func silent(_ node: String, _ error: WebhookRelay.Unreachable) -> APIError {
        APIError(.serviceUnavailable, code: .clusterUnavailable, message: "the campaign is node \(node)'s, which did not answer: \(error.reason)")
    }

    private static func authorizedOrigin(_ request: Request, _ context: BasicRequestContext, source: any ClusterDirectorySource) async throws -> CampaignOrigin {
        try ClusterHandoverRoute.authorize(request, token: await source.directory()?.token)
        let node = try context.parameters.require("node")
        guard ClusterConfiguration.isNodeID(node), let id = UInt64(try context.parameters.require("campaign")), id > 0 else {
            throw APIError(.notFound, code: .notFound, message: "an origin is a node id and a campaign id")
        }
        return CampaignOrigin(node: node, campaign: CampaignID(id))
    }

    /// Every campaign here that sends `origin` (one, unless a batch came after its note expired).
    static func campaigns(of origin: CampaignOrigin, dispatcher: Dispatcher) throws -> [CampaignProgress] {
        var out: [CampaignProgress] = []
        var after: CampaignID?
        repeat {
            let page = try dispatcher.campaignPage(after: after, limit: 500, state: nil, origin: origin, scanMax: 100_000)
            out += page.campaigns
            after = page.next
        } while after != nil
        return out
    }

    /// What the other nodes made of campaign `id` of this node: `[{"node", "campaigns": […]}
    /// | {"node", "error"}]`, the nodes that send none of it left out. `action` first applies
    /// a pause, resume or cancel there.
    static func handedOver(_ id: CampaignID, action: String?, source: any ClusterDirectorySource, calls: PeerCalls = PeerCalls()) async -> [[String: Any]] {
        guard let directory = await source.directory() else { return [["error": "this node has not joined its cluster yet"]] }
        let path = "/cluster/origins/\(directory.nodeID)/\(id)" + (action.map { "/" + $0 } ?? "")
        let answers = await calls.everyOtherNode(post: action != nil, path, directory: directory)
        var out: [[String: Any]] = []
        for (node, answer) in answers.sorted(by: { $0.key < $1.key }) {
            switch answer {
            case .success(let answer) where answer.status == 200:
                let object = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any]
                guard let campaigns = object?["campaigns"] as? [Any] else {
                    out.append(["node": node, "error": "an answer without campaigns"])
                    continue
                }
                if !campaigns.isEmpty { out.append(["node": node, "campaigns": campaigns]) }
            case .success(let answer):
                out.append(["node": node, "error": "HTTP \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))"])
            case .failure(let unreachable):
                out.append(["node": node, "error": unreachable.reason])
            }
        }
        return out
    }
}
