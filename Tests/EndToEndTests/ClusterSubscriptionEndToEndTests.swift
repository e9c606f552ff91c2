import Foundation
import Hummingbird
import Logging
import SluiceCore
import SluiceCrypto
import SluiceTestSupport
import Synchronization
import Testing

/// Subscriptions are the cluster's: one made on node b gets the events that node a
/// records (a sends the messages, so a's journal takes their statuses), its campaign
/// filter following b's campaign to the campaign a sends it as.
extension ClusterEndToEndTests {
    /// Keeps every signed event it gets, by path.
    final class ClusterSubscriber: Sendable {
        struct Event: Sendable {
            var path: String
            var node: String?
            var campaign: String?
            var status: String?
            /// `origin.node:origin.campaign_id`, for an event of a campaign another node handed over.
            var origin: String?
        }
        let events = Locked<[Event]>([])
        let badSignatures = Atomic<Int>(0)
    }

    static let hookSecret = "cluster-hook-secret-0123456789"

    func withClusterSubscriber(_ subscriber: ClusterSubscriber, _ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        for path in ["all", "given"] {
            router.post(RouterPath(stringLiteral: path)) { request, _ -> Response in
                let bytes = Array(try await request.body.collect(upTo: 1 << 20).readableBytesView)
                guard WebhookSignature.isValid(header: request.headers[.init("X-Sluice-Signature-256")!] ?? "", secret: Array(Self.hookSecret.utf8), body: bytes) else {
                    subscriber.badSignatures.add(1, ordering: .relaxed)
                    return Response(status: .unauthorized)
                }
                let o = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
                let origin = (o["origin"] as? [String: Any]).map { "\($0["node"] as? String ?? "?"):\($0["campaign_id"] as? String ?? "?")" }
                let event = ClusterSubscriber.Event(
                    path: path, node: o["node"] as? String, campaign: o["campaign_id"] as? String, status: o["status"] as? String, origin: origin)
                subscriber.events.withLock { $0.append(event) }
                return Response(status: .noContent)
            }
        }
        try await withLoopbackServer(router, label: "subscriber", body)
    }

    func subscriptions(_ api: String) async throws -> [[String: Any]] {
        let r = try await http("GET", "\(api)/v1/subscriptions", key: DispatchEndToEndTests.adminKey)
        return (try? jsonObject(r.body))?["subscriptions"] as? [[String: Any]] ?? []
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcd), "needs Debian's etcd-server (scripts/bootstrap installs it)"))
    func aSubscriptionMadeOnOneNodeGetsTheEventsEveryNodeRecords() async throws {
        let (root, etcd, stack, (a, apiA, idA), (b, apiB, idB)) = try await twoNodesWebhooksToB("cluster-subs")
        let e2e = DispatchEndToEndTests()
        let admin = DispatchEndToEndTests.adminKey
        let subscriber = ClusterSubscriber()
        try await withClusterSubscriber(subscriber) { port in
            // Given to b and held there (paused) until the subscriptions are everywhere.
            let given = try await e2e.postCampaign(apiB, sender: Self.phone, count: 60, firstRecipient: 966_596_000_000)
            _ = try await http("POST", "\(apiB)/v1/campaigns/\(given.id)/pause", key: admin)
            let all = try await http(
                "POST", "\(apiB)/v1/subscriptions", key: admin,
                json: #"{"url":"http://127.0.0.1:\#(port)/all","secret":"\#(Self.hookSecret)","states":["read"]}"#)
            let filtered = try await http(
                "POST", "\(apiB)/v1/subscriptions", key: admin,
                json: #"{"url":"http://127.0.0.1:\#(port)/given","secret":"\#(Self.hookSecret)","campaign":"\#(given.id)","states":["read"]}"#)
            #expect(all.status == 201 && filtered.status == 201, "\(all) \(filtered)")
            try await eventually("a mirrors both of b's subscriptions", within: 10) { try await subscriptions(apiA).count == 2 }
            let mirrors = try await subscriptions(apiA)
            #expect(mirrors.allSatisfy { ($0["mirror_of"] as? [String: Any])?["node"] as? String == idB }, "\(mirrors)")
            let mirrorFilter = mirrors.compactMap { ($0["filter"] as? [String: Any])?["origin"] as? [String: Any] }
            #expect(mirrorFilter.count == 1 && mirrorFilter.first?["campaign"] as? String == given.id && mirrorFilter.first?["node"] as? String == idB)

            // a's own campaign and b's, which a sends: every read status reaches the subscriber.
            let own = try await e2e.postCampaign(apiA, sender: Self.phone, count: 40, firstRecipient: 966_597_000_000)
            _ = try await http("POST", "\(apiB)/v1/campaigns/\(given.id)/resume", key: admin)
            try await eventually("every read event delivered", within: 60) {
                let events = subscriber.events.withLock { $0 }
                return events.filter { $0.path == "all" }.count >= 100 && events.filter { $0.path == "given" }.count >= 60
            }
            try await Task.sleep(for: .seconds(1))
            let events = subscriber.events.withLock { $0 }
            let toAll = events.filter { $0.path == "all" }
            let toGiven = events.filter { $0.path == "given" }
            // All recorded by a (it sent them), b's campaign under a's id for it.
            let sentAs = Set(toGiven.compactMap(\.campaign))
            #expect(toAll.count == 100 && toGiven.count == 60, "\(toAll.count) to /all, \(toGiven.count) to /given")
            #expect(events.allSatisfy { $0.node == idA && $0.status == "read" })
            #expect(sentAs.count == 1 && !sentAs.contains(own.id), "b's campaign is one campaign on a: \(sentAs)")
            // Each event of it names the campaign it was given as.
            #expect(toGiven.allSatisfy { $0.origin == "\(idB):\(given.id)" })
            #expect(toAll.filter { $0.origin == "\(idB):\(given.id)" }.count == 60 && toAll.filter { $0.origin == nil }.count == 40)
            #expect(subscriber.badSignatures.load(ordering: .relaxed) == 0)

            // A mirror is not deleted where it mirrors; deleted on b, it goes everywhere.
            let mirrorID = try #require(mirrors.first?["id"] as? String)
            let refused = try await http("DELETE", "\(apiA)/v1/subscriptions/\(mirrorID)", key: admin)
            #expect(refused.status == 409, "\(refused)")
            for sub in [all, filtered] {
                let id = try #require(try jsonObject(sub.body)["id"] as? String)
                #expect(try await http("DELETE", "\(apiB)/v1/subscriptions/\(id)", key: admin).status == 204)
            }
            try await eventually("a drops its mirrors", within: 10) { try await subscriptions(apiA).isEmpty }
        }
        await finish([a, b], stack, etcd, root: root)
    }
}
