import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import SluiceCluster
import SluiceCore
import SluiceEngine
@testable import SluiceServer
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
            try await Application(router: router).test(.live) { client in try await body(origin, holder, try #require(client.port)) }
        } catch {
            await origin.shutdown()
            await holder.shutdown()
            throw error
        }
        await origin.shutdown()
        await holder.shutdown()
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

            // There: batches of at most 1 000, in order, each with the message, options,
            // params and external ids, and a name that says where it came from.
            let theirs = try holder.newestCampaigns(limit: 10).sorted { $0.id < $1.id }
            #expect(theirs.map(\.total) == [1_000, 1_000, 500])
            for campaign in theirs {
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
            #expect(again == 0 && campaignsThere == 3)
        }
    }

    @Test func aBatchSentAgainAfterACrashIsTakenOnce() async throws {
        try await withNodes { origin, holder, port in
            let receipt = try await origin.submitCampaign(senderPhoneNumberID: "777", messageObject: Array(Self.message.utf8), recipients: recipients(40))
            // The first batch reached the holder, and the origin died before recording it.
            let batch = try #require(try origin.handoverBatch(receipt.id))
            let first = try await RawHTTPClient.post(
                port: port, path: "/cluster/handover", body: try BacklogHandover.body(batch, from: "a"), contentType: "application/x-ndjson",
                bearer: Self.token, headers: ["Idempotency-Key": batch.idempotencyKey, "Sluice-From-Node": "a"])
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
}
