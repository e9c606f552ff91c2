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
/// Between nodes (the cluster's secret): `GET /cluster/origins/{node}/{campaign}` → the
/// campaigns here that send it, `POST /cluster/origins/{node}/{campaign}/{pause|resume|cancel}`
/// → the same after the change.
enum ClusterCampaignRoutes {
    static func add(to router: Router<BasicRequestContext>, dispatcher: Dispatcher, source: any ClusterDirectorySource) {
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
