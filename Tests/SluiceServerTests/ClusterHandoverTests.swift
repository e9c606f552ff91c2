import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import SluiceCluster
import SluiceCore
import SluiceEngine
@testable import SluiceServer
import SluiceTestSupport
import Testing

/// A backlog handed from one node to the node that holds its number: two real
/// dispatchers (LMDB journals in temporary directories), the holder's handover route on a
/// live server on 127.0.0.1, and `BacklogHandover` speaking HTTP to it. Both dispatchers
/// are clustered and hold no number, so nothing is sent: the test is about what is
/// journaled on each side.
@Suite(.serialized) struct ClusterHandoverTests {
    static let token = "cluster-secret-0123456789abcdef"
    static let message = #"{"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"{{1}}"}]}]}}"#

    func dispatcher(_ name: String) throws -> (Dispatcher, String) {
        let dir = NSTemporaryDirectory() + "sluice-handover-\(name)-\(UUID().uuidString.prefix(8))"
        var configuration = EngineConfiguration(dataDirectory: dir)
        configuration.graphURL = "http://127.0.0.1:9"
        configuration.journal.durable = false
        configuration.clustered = true
        return (try Dispatcher(configuration: configuration), dir)
    }

    /// Runs `body` with an origin and a holder (sender 777 on both, 778 on the origin
    /// only) and the holder's handover route on a live port.
    func withNodes(_ body: @escaping @Sendable (_ origin: Dispatcher, _ holder: Dispatcher, _ port: Int) async throws -> Void) async throws {
        let (origin, originDir) = try dispatcher("origin")
        let (holder, holderDir) = try dispatcher("holder")
        defer {
            try? FileManager.default.removeItem(atPath: originDir)
            try? FileManager.default.removeItem(atPath: holderDir)
        }
        do {
            try await origin.putSender(phoneNumberID: "777", tierMessagesPerSecond: 80, accessToken: "tok")
            try await origin.putSender(phoneNumberID: "778", tierMessagesPerSecond: 80, accessToken: "tok")
            try await holder.putSender(phoneNumberID: "777", tierMessagesPerSecond: 80, accessToken: "tok")
            let router = Router()
            router.post("cluster/handover") { request, _ in
                try await ClusterHandoverRoute.post(request, dispatcher: holder, token: Self.token, batchRecipients: 300)
            }
            router.put("cluster/media/:id") { request, context in
                try await ClusterHandoverRoute.putMedia(request, id: try context.parameters.require("id"), dispatcher: holder, token: Self.token)
            }
            ClusterCampaignRoutes.add(
                to: router, dispatcher: holder, source: ClusterWebhookTests.FixedDirectory(value: Self.directory(port: 0, node: "b")), batchRecipients: 300)
            try await Application(router: router).test(.live) { client in try await body(origin, holder, try #require(client.port)) }
        } catch {
            await origin.shutdown()
            await holder.shutdown()
            throw error
        }
        await origin.shutdown()
        await holder.shutdown()
    }

    /// What node `node` knows of the cluster: a and b, b at `port`.
    static func directory(port: Int, node: String = "a") -> ClusterDirectory {
        ClusterDirectory(nodeID: node, token: token, urls: ["a": "http://127.0.0.1:9", "b": "http://127.0.0.1:\(port)/"], holders: ["777": "b"])
    }

    func recipients(_ n: Int, from: Int = 0) -> [RecipientInput] {
        (from..<from + n).map { RecipientInput(to: String(966_500_000_000 + $0), params: ["p\($0)"], externalID: "ext-\($0)") }
    }

    func all(_ dispatcher: Dispatcher, _ campaign: CampaignID) throws -> [MessageRecord] {
        var out: [MessageRecord] = []
        var after: MessageID?
        repeat {
            let page = try #require(try dispatcher.campaignMessages(campaign, after: after, filter: MessageFilter(), limit: 1_000))
            out += page.messages
            after = page.next
        } while after != nil
        return out
    }

    func handover(_ origin: Dispatcher, port: Int, phones: [String] = ["777"]) -> (BacklogHandover, [String: BacklogHandover.Holder]) {
        let holder = BacklogHandover.Holder(node: "b", url: "http://127.0.0.1:\(port)/")
        return (
            BacklogHandover(dispatcher: origin, http: .shared, nodeID: "a", logger: Logger(label: "test.handover")),
            Dictionary(uniqueKeysWithValues: phones.map { ($0, holder) })
        )
    }

    @Test func aBacklogGoesToTheHolderOnceWithEverythingItCarries() async throws {
        try await withNodes { origin, holder, port in
            let options = CampaignOptions(expiresAtMilliseconds: origin.clock.wallMilliseconds() + 3_600_000, priority: .transactional, name: "winter", labels: ["promo", "q4"])
            let receipt = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(Self.message.utf8), recipients: recipients(2_500), options: options)
            #expect(receipt.accepted == 2_500)
            let (handover, holders) = handover(origin, port: port)
            let handed = await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(60)).handed
            #expect(handed == 2_500)

            // Here: every message ended handed_over, naming the holder's campaign.
            let progress = try #require(try origin.campaignProgress(receipt.id))
            #expect(progress.handedOver == 2_500 && progress.unsent == 0 && progress.state == "done")
            let mine = try all(origin, receipt.id)
            #expect(mine.allSatisfy { $0.state == .handedOver && ($0.errorMessage ?? "").hasPrefix("handed over to node b, campaign ") })
            #expect(mine.allSatisfy { $0.times.ended > 0 })

            // There: batches of at most 1 000, in order, added to one campaign that names
            // its origin, with the message, options, params and external ids.
            let theirs = try holder.newestCampaigns(limit: 10).sorted { $0.id < $1.id }
            #expect(theirs.map(\.total) == [2_500])
            for campaign in theirs {
                #expect(campaign.options.origin == CampaignOrigin(node: "a", campaign: receipt.id))
                #expect(campaign.options.name == "winter (from node a, campaign \(receipt.id))")
                #expect(campaign.options.labels == ["promo", "q4"])
                #expect(campaign.options.priority == .transactional)
                #expect(campaign.options.expiresAtMilliseconds == options.expiresAtMilliseconds)
                #expect(campaign.queued == campaign.total)
            }
            let received = try theirs.flatMap { try all(holder, $0.id) }
            #expect(received.map(\.to) == mine.map(\.to))
            #expect(received.map(\.params) == mine.map(\.params))
            #expect(received.map(\.externalID) == mine.map(\.externalID))
            let remoteIDs = Set(mine.compactMap { $0.errorMessage?.split(separator: " ").last.map(String.init) })
            #expect(remoteIDs == Set(theirs.map(\.id.description)))

            // Nothing is left to hand over: a second pass sends nothing.
            let again = await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(10)).handed
            let campaignsThere = try holder.newestCampaigns(limit: 10).count
            #expect(again == 0 && campaignsThere == 1)
        }
    }

    @Test func aBatchSentAgainAfterACrashIsTakenOnce() async throws {
        try await withNodes { origin, holder, port in
            let receipt = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(Self.message.utf8), recipients: recipients(40))
            // The first batch reached the holder, and the origin died before recording it.
            let batch = try #require(try origin.handoverBatch(receipt.id))
            let first = try await RawHTTPClient.post(
                port: port, path: "/cluster/handover", body: try BacklogHandover.body(batch, from: "a"), contentType: "application/x-ndjson",
                bearer: Self.token, headers: ["Idempotency-Key": batch.idempotencyKey, "Sluice-From-Node": "a", "Sluice-Origin-Campaign": receipt.id.description])
            #expect(first.status == 202)
            let before = try holder.newestCampaigns(limit: 10).count
            #expect(before == 1)

            // On its return the same batch goes again: answered from the first answer.
            let (handover, holders) = handover(origin, port: port)
            let handed = await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(30)).handed
            #expect(handed == 40)
            let theirs = try holder.newestCampaigns(limit: 10)
            #expect(theirs.count == 1 && theirs.first?.total == 40)
            let firstID = try #require((try JSONSerialization.jsonObject(with: Data(first.body)) as? [String: Any])?["id"] as? String)
            let mine = try all(origin, receipt.id)
            #expect(mine.allSatisfy { $0.errorMessage == "handed over to node b, campaign \(firstID)" })
        }
    }

    @Test func aHolderThatCannotTakeACampaignLeavesItHereAndOthersStillGo() async throws {
        try await withNodes { origin, holder, port in
            // 778 is not registered on the holder: 422, the campaign stays queued here.
            let stays = try await origin.submitCampaign(senderPhoneNumberID: "778", messageObject: Array(Self.message.utf8), recipients: recipients(5))
            let goes = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(Self.message.utf8), recipients: recipients(7, from: 100))
            let (handover, holders) = handover(origin, port: port, phones: ["777", "778"])
            let first = await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(30))
            #expect(first.handed == 7 && first.refused == [stays.id])
            let stayed = try #require(try origin.campaignProgress(stays.id))
            let went = try #require(try origin.campaignProgress(goes.id))
            #expect(stayed.queued == 5 && went.handedOver == 7)

            // A paused campaign is not handed over until it is resumed.
            let paused = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(Self.message.utf8), recipients: recipients(3, from: 200))
            _ = try await origin.setCampaignState(paused.id, .paused)
            let whilePaused = await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(30), skipping: [stays.id]).handed
            let held = try #require(try origin.campaignProgress(paused.id))
            #expect(whilePaused == 0 && held.queued == 3)
            _ = try await origin.setCampaignState(paused.id, .active)
            let afterResume = await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(30), skipping: [stays.id]).handed
            #expect(afterResume == 3)
        }
    }

    /// A campaign that sends an uploaded file: the file goes first, under the same id, and
    /// the holder takes the campaign (without it, it would refuse it: no such media).
    @Test func aCampaignsFilesGoWithItUnderTheirIds() async throws {
        try await withNodes { origin, holder, port in
            let bytes = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let file = try origin.mediaVolume.create()
            try bytes.withUnsafeBytes { try file.write($0) }
            let stored = try await origin.storeUpload(file, mimeType: "image/jpeg")
            let message = #"{"type":"image","image":{"media":"\#(stored.id)","caption":"Hi {{1}}"}}"#
            let receipt = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(message.utf8), recipients: recipients(30))
            #expect(receipt.accepted == 30)
            let (handover, holders) = handover(origin, port: port)
            let pass = await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(30))
            #expect(pass.handed == 30 && pass.refused.isEmpty)
            let there = try #require(try holder.media(id: stored.id))
            #expect(there.sha256 == stored.sha256 && there.size == 50_000 && there.mimeType == "image/jpeg" && there.isUpload)
            let kept = try #require(FileManager.default.contents(atPath: holder.mediaVolume.path(sha256: there.sha256)))
            #expect(Array(kept) == bytes)
            let theirs = try #require(try holder.newestCampaigns(limit: 5).first)
            #expect(theirs.total == 30 && theirs.queued == 30)

            // Sent again (a second campaign naming it): kept once, answered the same.
            let again = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(message.utf8), recipients: recipients(4, from: 50))
            #expect(await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(30)).handed == 4)
            #expect(try origin.campaignProgress(again.id)?.handedOver == 4)

            // Content that does not match its announced digest is refused, nothing kept.
            let bad = try await RawHTTPClient.put(
                port: port, path: "/cluster/media/up_0123456789abcdef01234567", body: [1, 2, 3], contentType: "image/png", bearer: Self.token,
                headers: ["Sluice-Media-SHA256": String(repeating: "0", count: 64)])
            #expect(bad.status == 400, "\(String(decoding: bad.body, as: UTF8.self))")
            #expect(try holder.media(id: "up_0123456789abcdef01234567") == nil)
        }
    }

    @Test func aNumberThisNodeHoldsAgainIsNotHandedOver() async throws {
        try await withNodes { origin, holder, port in
            // Paused here, so that nothing pages in: the 30 stay queued while this node holds
            // the number again (the view still names the other node).
            _ = try await origin.setSenderPaused(phoneNumberID: "777", paused: true, reason: "test")
            let receipt = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(Self.message.utf8), recipients: recipients(30))
            try origin.setOwnership(["777": origin.clock.now() + 60_000_000_000])
            let deadline = ContinuousClock.now + .seconds(10)
            while origin.senderSnapshots().first(where: { $0.phoneNumberID == "777" })?.owned != true && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let (handover, holders) = handover(origin, port: port)
            let handed = await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(10)).handed
            let there = try holder.newestCampaigns(limit: 10)
            let progress = try #require(try origin.campaignProgress(receipt.id))
            #expect(handed == 0 && there.isEmpty && progress.handedOver == 0 && progress.queued == 30)
        }
    }

    @Test("a new ownership is journaled with its number before anything is sent under it")
    func aNewOwnershipIsJournaledBeforeItIsUsed() async throws {
        try await withNodes { origin, _, _ in
            func owned() -> Bool { origin.senderSnapshots().first { $0.phoneNumberID == "777" }?.owned == true }
            let deadline = origin.clock.now() + 60_000_000_000
            try origin.setOwnership(["777": deadline], fencing: ["777": 42])
            try await eventually("the token journaled", within: 5) { try origin.sender(phoneNumberID: "777")?.fencing?.token == 42 }
            // Durable now, but the round that journaled it did not hand the number over.
            try await Task.sleep(for: .milliseconds(300))
            #expect(!owned())
            // The next round does; the same token is not journaled again.
            let since = try origin.sender(phoneNumberID: "777")?.fencing?.sinceMilliseconds
            try origin.setOwnership(["777": deadline], fencing: ["777": 42])
            try await eventually("held", within: 5) { owned() }
            #expect(try origin.sender(phoneNumberID: "777")?.fencing?.sinceMilliseconds == since)
            // Without a token (outside a cluster's rounds, as the tests do) it is held at once.
            try origin.setOwnership(["778": deadline])
            try await eventually("778 held", within: 5) { origin.senderSnapshots().first { $0.phoneNumberID == "778" }?.owned == true }
        }
    }

    @Test func theRouteRefusesWhatIsNotAHandoverAndJournalsNothing() async throws {
        try await withNodes { origin, holder, port in
            let body = Array("{\"sender\":\"777\",\"message\":\(Self.message)}\n{\"to\":\"966500000001\",\"params\":[\"x\"]}\n".utf8)
            func post(bearer: String?, headers: [String: String], contentType: String = "application/x-ndjson") async throws -> (Int, String) {
                let answer = try await RawHTTPClient.post(port: port, path: "/cluster/handover", body: body, contentType: contentType, bearer: bearer, headers: headers)
                let error = (try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])?["error"] as? [String: Any]
                return (answer.status, (error?["field"] as? String) ?? "")
            }
            let good = ["Idempotency-Key": "k1", "Sluice-From-Node": "a"]
            let refusals: [(String?, [String: String], String, Int, String)] = [
                (nil, good, "application/x-ndjson", 401, "Authorization"),
                ("cluster-secret-0123456789abcdeX", good, "application/x-ndjson", 401, "Authorization"),
                (Self.token, ["Idempotency-Key": "k1"], "application/x-ndjson", 400, "Sluice-From-Node"),
                (Self.token, ["Idempotency-Key": "k1", "Sluice-From-Node": "a/b"], "application/x-ndjson", 400, "Sluice-From-Node"),
                (Self.token, ["Sluice-From-Node": "a"], "application/x-ndjson", 400, "Idempotency-Key"),
                (Self.token, good, "text/csv", 415, "Content-Type"),
            ]
            for (bearer, headers, contentType, status, field) in refusals {
                let (got, named) = try await post(bearer: bearer, headers: headers, contentType: contentType)
                #expect(got == status && named == field, "\(headers) \(contentType)")
            }
            let nothing = try holder.newestCampaigns(limit: 10)
            #expect(nothing.isEmpty)
            // A key is kept per node: the same key from another node is another handover.
            var statuses: [Int] = []
            for headers in [good, good, ["Idempotency-Key": "k1", "Sluice-From-Node": "c"]] {
                statuses.append(try await post(bearer: Self.token, headers: headers).0)
            }
            #expect(statuses == [202, 202, 202])
            let taken = try holder.newestCampaigns(limit: 10).count
            #expect(taken == 2)
            _ = origin
        }
    }

    @Test("later batches of a campaign join the holder's campaign for it and page in while it sends; once it is cancelled there, it takes no more")
    func laterBatchesJoinOneCampaignUntilItIsCancelled() async throws {
        try await withNodes { origin, holder, port in
            let (handover, holders) = handover(origin, port: port)
            let first = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(Self.message.utf8), recipients: recipients(600))
            #expect(await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(30)).handed == 600)
            let there = try #require(try holder.newestCampaigns(limit: 5).first)
            #expect(there.total == 600 && there.options.origin == CampaignOrigin(node: "a", campaign: first.id))

            // A second campaign of the origin is a second campaign there.
            let second = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(Self.message.utf8), recipients: recipients(5, from: 700))
            #expect(await handover.pass(holders: holders, token: Self.token, until: .now + .seconds(30)).handed == 5)
            let both = try holder.newestCampaigns(limit: 5).sorted { $0.id < $1.id }
            #expect(both.map(\.total) == [600, 5])
            #expect(both.map { $0.options.origin?.campaign } == [first.id, second.id])

            // More of the first campaign's messages (a batch sent later) join it, with the
            // answer in the same commit: sent again, nothing is added twice.
            func batch(_ tos: [String]) -> [UInt8] {
                Array(("{\"sender\":\"777\",\"dedupe\":false,\"message\":\(Self.message)}\n" + tos.map { "{\"to\":\"\($0)\",\"params\":[\"late\"]}\n" }.joined()).utf8)
            }
            for _ in 0..<2 {
                let answer = try await RawHTTPClient.post(
                    port: port, path: "/cluster/handover", body: batch(["966500009000", "966500009001", "966500009002"]), contentType: "application/x-ndjson",
                    bearer: Self.token, headers: ["Idempotency-Key": "handover/late", "Sluice-From-Node": "a", "Sluice-Origin-Campaign": first.id.description])
                let id = (try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])?["id"] as? String
                #expect(answer.status == 202 && id == there.id.description, "\(String(decoding: answer.body, as: UTF8.self))")
            }
            let grown = try #require(try holder.campaignProgress(there.id))
            #expect(grown.total == 603 && grown.queued == 603)
            #expect(try all(holder, there.id).suffix(3).map(\.params) == [["late"], ["late"], ["late"]])

            // The origin's view: GET and cancel reach the campaign there through /cluster/origins.
            let directory = ClusterWebhookTests.FixedDirectory(value: Self.directory(port: port))
            let seen = await ClusterCampaignRoutes.handedOver(first.id, action: nil, source: directory)
            let listed = (seen.first?["campaigns"] as? [[String: Any]])?.first
            #expect(seen.count == 1 && seen.first?["node"] as? String == "b" && listed?["id"] as? String == there.id.description && listed?["total"] as? Int == 603)
            let cancelled = await ClusterCampaignRoutes.handedOver(first.id, action: "cancel", source: directory)
            let after = (cancelled.first?["campaigns"] as? [[String: Any]])?.first
            #expect(after?["state"] as? String == "cancelled" && (after?["counts"] as? [String: Any])?["cancelled"] as? Int == 603)
            let untouched = try #require(try holder.campaignProgress(both[1].id))
            #expect(untouched.state == "active" && untouched.queued == 5)

            // A batch for it now is refused (409), nothing added; the origin keeps it.
            let refused = try await RawHTTPClient.post(
                port: port, path: "/cluster/handover", body: batch(["966500009999"]), contentType: "application/x-ndjson",
                bearer: Self.token, headers: ["Idempotency-Key": "handover/later", "Sluice-From-Node": "a", "Sluice-Origin-Campaign": first.id.description])
            #expect(refused.status == 409, "\(String(decoding: refused.body, as: UTF8.self))")
            #expect(try holder.campaignProgress(there.id)?.total == 603)

            // Between nodes only: without the cluster's secret, 401.
            let stranger = try await RawHTTPClient.get(port: port, path: "/cluster/origins/a/\(first.id)", bearer: "wrong")
            #expect(stranger.status == 401)
            // A node that does not answer is named, not skipped.
            var gone = Self.directory(port: 9)
            gone.urls["c"] = "http://127.0.0.1:9"
            let unreachable = await ClusterCampaignRoutes.handedOver(first.id, action: nil, source: ClusterWebhookTests.FixedDirectory(value: gone))
            #expect(unreachable.map { $0["node"] as? String } == ["b", "c"] && unreachable.allSatisfy { $0["error"] != nil })
        }
    }
}
