import Foundation
import SluiceCluster
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice serve` nodes with Debian's etcd, on loopback, all with the same number
/// registered: one node holds the number and sends; a campaign given to another is
/// handed to it. When the holder dies (SIGKILL, three nodes) its lease lapses and another
/// node takes the number; when it comes back, its backlog is handed over too. Judged at the mock:
/// never more than the tier in a second (never two pacers at once), every accepted
/// recipient reached, duplicates only within what was on the wire. A node cut off from etcd (etcd frozen with SIGSTOP) stops
/// sending before its lease could lapse.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ClusterEndToEndTests {
    static let etcd = "/usr/bin/etcd"
    static let phone = "1065000950"
    static let tier = 40

    struct Etcd {
        var process: ChildProcess
        var url: String
    }

    static func startEtcd(_ root: String) async throws -> Etcd {
        let client = try freeLoopbackPort()
        let peer = try freeLoopbackPort()
        let url = "http://127.0.0.1:\(client)"
        let process = try ChildProcess(
            arguments: [
                "--name", "test", "--data-dir", root + "/etcd", "--listen-client-urls", url, "--advertise-client-urls", url,
                "--listen-peer-urls", "http://127.0.0.1:\(peer)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)",
                "--initial-cluster", "test=http://127.0.0.1:\(peer)",
            ],
            logPath: root + "/etcd.log", executable: etcd)
        try await eventually("etcd answers", within: 20) {
            (try? await http("GET", url + "/health", key: nil))?.status == 200
        }
        return Etcd(process: process, url: url)
    }

    func node(_ stack: DispatchEndToEndTests.Stack, _ id: String, etcd: String, port: Int = 0) async throws -> (ChildProcess, String) {
        let dataDir = stack.root + "/data-\(id)"
        return try await stack.serve(["--cluster-etcd", etcd, "--node-id", id], port: port, dataDir: dataDir)
    }

    /// The two node ids, the one placement prefers for the number first: a node started
    /// first with it keeps it when the other joins (nothing to rebalance).
    static let placedFirst: (String, String) = {
        let first = Placement.assign([Placement.Number(phoneNumberID: phone, tierMessagesPerSecond: Double(tier), candidates: ["a", "b"])])[phone] ?? "a"
        return first == "a" ? ("a", "b") : ("b", "a")
    }()

    /// Stops the nodes (each must exit cleanly: it stops sending, then frees its numbers),
    /// then the mock and etcd, and removes the work directories.
    func finish(_ nodes: [ChildProcess], _ stack: DispatchEndToEndTests.Stack, _ etcd: Etcd, root: String) async {
        for node in nodes { #expect(await node.stop() == 0, "a node stops cleanly") }
        await stack.mock.stop()
        _ = await etcd.process.stop()
        try? FileManager.default.removeItem(atPath: root)
        try? FileManager.default.removeItem(atPath: stack.root)
    }

    /// Etcd, the mock posting its status webhooks to b (signed with `appSecret`), and two
    /// nodes with the number: a first, so that it holds the number and keeps it when b joins
    /// (placement's choice).
    func twoNodesWebhooksToB(
        _ name: String
    ) async throws -> (root: String, etcd: Etcd, stack: DispatchEndToEndTests.Stack, a: (ChildProcess, String, String), b: (ChildProcess, String, String)) {
        let root = try temporaryDirectory(name)
        let etcd = try await Self.startEtcd(root)
        let portB = try freeLoopbackPort()
        let stack = try await DispatchEndToEndTests().startMock(
            name, extra: ["--webhook-url", "http://127.0.0.1:\(portB)/webhooks/whatsapp", "--app-secret", Self.appSecret, "--webhook-delays-ms", "20,60,120"])
        let e2e = DispatchEndToEndTests()
        let (idA, idB) = Self.placedFirst
        let (a, apiA) = try await node(stack, idA, etcd: etcd.url)
        try await e2e.putSender(apiA, Self.phone, tier: Self.tier, appSecret: Self.appSecret)
        try await eventually("a holds the number", within: 15) { try await owner(apiA) == idA }
        let (b, apiB) = try await node(stack, idB, etcd: etcd.url, port: portB)
        try await e2e.putSender(apiB, Self.phone, tier: Self.tier, appSecret: Self.appSecret)
        try await eventually("b sees a as the holder", within: 10) { try await owner(apiB) == idA }
        return (root, etcd, stack, (a, apiA, idA), (b, apiB, idB))
    }

    static let appSecret = "cluster-app-secret"

    func register(_ api: String) async throws {
        let r = try await http("PUT", "\(api)/v1/senders/\(Self.phone)", key: DispatchEndToEndTests.adminKey, json: #"{"tier_mps":\#(Self.tier),"access_token":"token"}"#)
        try #require(r.status == 200, "\(r)")
    }

    func owners(_ api: String) async throws -> [String: String] {
        let r = try await http("GET", "\(api)/v1/cluster", key: DispatchEndToEndTests.adminKey)
        return try jsonObject(r.body)["owners"] as? [String: String] ?? [:]
    }

    func owner(_ api: String) async throws -> String? {
        let r = try await http("GET", "\(api)/v1/cluster", key: DispatchEndToEndTests.adminKey)
        return (try jsonObject(r.body)["owners"] as? [String: String])?[Self.phone]
    }

    func arrivals(_ stack: DispatchEndToEndTests.Stack) throws -> [Int64] {
        guard FileManager.default.fileExists(atPath: stack.record) else { return [] }
        return try readArrivals(stack.record).filter { $0.phoneNumberID == Self.phone }.map(\.time).sorted()
    }

    /// Arrivals at the mock for the number, by recipient.
    func recipients(_ stack: DispatchEndToEndTests.Stack) throws -> [String: Int] {
        guard FileManager.default.fileExists(atPath: stack.record) else { return [:] }
        var out: [String: Int] = [:]
        for a in try readArrivals(stack.record) where a.phoneNumberID == Self.phone { out[a.to ?? "", default: 0] += 1 }
        return out
    }

    func counts(_ api: String, _ campaign: String) async throws -> [String: Any] {
        let r = try await http("GET", "\(api)/v1/campaigns/\(campaign)", key: DispatchEndToEndTests.adminKey)
        // A node still starting may answer nothing yet: asked again.
        return (try? jsonObject(r.body))?["counts"] as? [String: Any] ?? [:]
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcd), "needs Debian's etcd-server (scripts/bootstrap installs it)"))
    func oneNodeSendsForANumberAnotherTakesOverWhenItDiesAndNothingAcceptedIsLost() async throws {
        let root = try temporaryDirectory("cluster")
        let etcd = try await Self.startEtcd(root)
        let stack = try await DispatchEndToEndTests().startMock("cluster")
        let ids = ["a", "b", "c"]
        var procs: [String: ChildProcess] = [:]
        var apis: [String: String] = [:]
        for id in ids {
            (procs[id], apis[id]) = try await node(stack, id, etcd: etcd.url)
            try await register(apis[id]!)
        }
        let e2e = DispatchEndToEndTests()

        var holderID = ""
        try await eventually("a node holds the number", within: 15) {
            holderID = try await owner(apis["a"]!) ?? ""
            return !holderID.isEmpty
        }
        for id in ids { try await eventually("node \(id) sees one owner", within: 5) { try await owner(apis[id]!) == holderID } }
        let others = ids.filter { $0 != holderID }
        try await eventually("each node says whether it paces the number", within: 5) {
            for id in ids {
                let sender = try jsonObject(try await http("GET", "\(apis[id]!)/v1/senders/\(Self.phone)", key: DispatchEndToEndTests.adminKey).body)
                guard sender["owned"] as? Bool == (id == holderID) else { return false }
            }
            return true
        }

        // A campaign given to a node that does not hold the number goes to the holder.
        let givenAPI = apis[others[0]]!
        let given = try await e2e.postCampaign(givenAPI, sender: Self.phone, count: 120, firstRecipient: 966_590_000_000)
        try await eventually("the other node's campaign arrives through the holder", within: 30) { try recipients(stack).count >= 120 }
        try await eventually("recorded as handed over where it was given", within: 10) {
            (try await counts(givenAPI, given.id)["handed_over"] as? NSNumber)?.intValue == 120
        }

        // The holder dies in the middle of its own campaign.
        let own = try await e2e.postCampaign(apis[holderID]!, sender: Self.phone, count: 600, firstRecipient: 966_591_000_000)
        try await eventually("the holder sends its own", within: 30) { try recipients(stack).count >= 200 }
        procs[holderID]!.signal(SIGKILL)
        let killed = Date()
        var successor = ""
        try await eventually("another node holds the number", within: 20) {
            successor = try await owner(apis[others[0]]!) ?? ""
            return others.contains(successor)
        }
        let takeover = Date().timeIntervalSince(killed)
        let sentBeforeKill = try recipients(stack).count - 120

        // It comes back on the same disk and finds the number held elsewhere: its backlog
        // goes to the new holder, which sends it.
        (procs[holderID], apis[holderID]) = try await node(stack, holderID, etcd: etcd.url)
        let returnedAPI = apis[holderID]!
        try await eventually("every accepted message arrives once the node is back", within: 60) { try recipients(stack).count >= 720 }
        try await eventually("nothing left on the returned node", within: 10) {
            let c = try await counts(returnedAPI, own.id)
            return (c["queued"] as? NSNumber)?.intValue == 0 && (c["in_doubt"] as? NSNumber)?.intValue == 0 && (c["handed_over"] as? NSNumber)?.intValue ?? 0 > 0
        }
        try await Task.sleep(for: .seconds(1))
        let seen = try recipients(stack)
        #expect(seen.count == 720, "every recipient reached: \(seen.count) of 720")
        let duplicates = seen.values.reduce(0) { $0 + $1 - 1 }
        // Only what was on the wire when the node died may go twice (at least once).
        #expect(duplicates <= Self.tier, "duplicates within the in-flight bound: \(duplicates)")
        let times = try arrivals(stack)
        let peak = ArrivalWindow.maxCount(sortedTimes: times, windowNanoseconds: 1_000_000_000 - DispatchEndToEndTests.arrivalJitterAllowanceNanoseconds)
        #expect(peak <= Self.tier, "one pacer at a time: \(peak) in a second at tier \(Self.tier)")
        #expect(takeover >= 5 && takeover <= 16, "taken over after the dead node's lease lapsed (10 s TTL): \(takeover) s")
        let fenced = Self.fencingNeverGoesBack(try readArrivals(stack.record).filter { $0.phoneNumberID == Self.phone })
        #expect(fenced.ok && fenced.tokens.count >= 2, "no request of an earlier ownership after one of a later: \(fenced)")
        // Each holder journaled the ownership it sent under: the dead one its own, the successor the last.
        func journaledToken(_ api: String) async throws -> Int64? {
            let sender = try jsonObject(try await http("GET", "\(api)/v1/senders/\(Self.phone)", key: DispatchEndToEndTests.adminKey).body)
            return ((sender["fencing"] as? [String: Any])?["token"] as? NSNumber)?.int64Value
        }
        let successorToken = try await journaledToken(apis[successor]!)
        let returnedToken = try await journaledToken(returnedAPI)
        // (The returned node may have the number back by now, under a newer token: placement's choice.)
        let journaled = [successorToken, returnedToken].compactMap { $0 }
        let newestSeen = fenced.tokens.max() ?? .max
        #expect(
            journaled.count == 2 && journaled.allSatisfy { fenced.tokens.contains($0) || $0 > newestSeen } && (journaled.max() ?? 0) >= newestSeen,
            "journaled \(journaled); at the mock \(fenced.tokens.sorted())")
        let handed = (try await counts(returnedAPI, own.id)["handed_over"] as? NSNumber)?.intValue ?? 0
        print("cluster: 3 nodes; takeover by \(successor) \(String(format: "%.1f", takeover)) s after SIGKILL of \(holderID) (\(sentBeforeKill) of 600 sent before it), \(handed) handed over on return, \(duplicates) duplicate(s), peak \(peak)/s at tier \(Self.tier)")

        // Deleted where it is held, the number is released (and another node that has it
        // takes it).
        let current = try #require(try await owner(apis[others[0]]!))
        let deleted = try await http("DELETE", "\(apis[current]!)/v1/senders/\(Self.phone)", key: DispatchEndToEndTests.adminKey)
        #expect(deleted.status == 204, "\(deleted)")
        try await eventually("the number released", within: 5) {
            let now = try await owner(apis[others[0]]!)
            return now != current
        }

        await finish(ids.map { procs[$0]! }, stack, etcd, root: root)
    }

    /// WhatsApp posts every status to one URL: here node b's, while node a sends. Each
    /// status names its node in the callback data (`<id>@a`), so b passes a's on to a and
    /// leaves its own messages of the same ids alone (handed over, they could still take a
    /// status). Judged on both journals: a's messages all end read, b's stay handed over.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcd), "needs Debian's etcd-server (scripts/bootstrap installs it)"))
    func statusesPostedToOneNodeReachTheNodeThatSentTheMessage() async throws {
        let (root, etcd, stack, (a, apiA, idA), (b, apiB, idB)) = try await twoNodesWebhooksToB("cluster-status")
        let e2e = DispatchEndToEndTests()

        let own = try await e2e.postCampaign(apiA, sender: Self.phone, count: 100, firstRecipient: 966_593_000_000)
        let given = try await e2e.postCampaign(apiB, sender: Self.phone, count: 100, firstRecipient: 966_594_000_000)
        func readOnA() async throws -> Int {
            let r = try await http("GET", "\(apiA)/v1/campaigns?limit=10", key: DispatchEndToEndTests.adminKey)
            let list = try jsonObject(r.body)["campaigns"] as? [[String: Any]] ?? []
            return list.reduce(0) { $0 + ((($1["counts"] as? [String: Any])?["read"] as? NSNumber)?.intValue ?? 0) }
        }
        var read = 0
        try await eventually("every status of a's messages recorded on a", within: 60) {
            read = try await readOnA()
            return read >= 200
        }
        #expect(read == 200, "a sent 200 (100 of its own, 100 handed over by b): \(read) read")
        let mine = try await counts(apiA, own.id)
        #expect((mine["read"] as? NSNumber)?.intValue == 100, "\(mine)")
        try await Task.sleep(for: .seconds(1))
        let theirs = try await counts(apiB, given.id)
        #expect((theirs["handed_over"] as? NSNumber)?.intValue == 100, "b's messages are not moved by a's statuses: \(theirs)")
        #expect((theirs["read"] as? NSNumber)?.intValue ?? 0 == 0 && (theirs["delivered"] as? NSNumber)?.intValue ?? 0 == 0)
        #expect(try recipients(stack).count == 200)

        // Given to b, sent by a as one campaign: b's detail shows it, b's cancel reaches it.
        let admin = DispatchEndToEndTests.adminKey
        let big = try await e2e.postCampaign(apiB, sender: Self.phone, count: 2_500, firstRecipient: 966_595_000_000)
        try await eventually("b hands all of it to a", within: 30) { (try await counts(apiB, big.id)["handed_over"] as? NSNumber)?.intValue == 2_500 }
        let detail = try jsonObject(try await http("GET", "\(apiB)/v1/campaigns/\(big.id)", key: admin).body)
        let there = (detail["handed_over_to"] as? [[String: Any]])?.first
        let sentByA = there?["campaigns"] as? [[String: Any]] ?? []
        #expect(there?["node"] as? String == idA && sentByA.count == 1 && (sentByA.first?["total"] as? NSNumber)?.intValue == 2_500, "\(detail)")
        #expect((sentByA.first?["origin"] as? [String: Any])?["campaign"] as? String == big.id, "\(sentByA)")
        let cancel = try await http("POST", "\(apiB)/v1/campaigns/\(big.id)/cancel", key: admin)
        #expect(cancel.status == 200, "\(cancel)")
        let cancelledThere = ((try jsonObject(cancel.body)["handed_over_to"] as? [[String: Any]])?.first?["campaigns"] as? [[String: Any]])?.first
        #expect(cancelledThere?["state"] as? String == "cancelled", "\(cancel.body)")
        func bigArrived() throws -> Int { try recipients(stack).keys.filter { $0.hasPrefix("96659500") }.count }
        try await Task.sleep(for: .seconds(1))
        let arrivedAtCancel = try bigArrived()
        try await Task.sleep(for: .seconds(2))
        let arrived = try bigArrived()
        let onA = try await http("GET", "\(apiA)/v1/campaigns/\((sentByA.first?["id"] as? String) ?? "0")", key: admin)
        let countsOnA = (try jsonObject(onA.body))["counts"] as? [String: Any] ?? [:]
        #expect(arrived == arrivedAtCancel && arrived < 2_500, "nothing of it goes after the cancel: \(arrivedAtCancel) → \(arrived)")
        #expect((countsOnA["cancelled"] as? NSNumber)?.intValue == 2_500 - arrived, "\(countsOnA)")

        // Any node answers for another's campaign, named <node>:<id>: a asks b.
        let viaA = try await http("GET", "\(apiA)/v1/campaigns/\(idB):\(given.id)", key: admin)
        let seenViaA = try jsonObject(viaA.body)
        #expect(viaA.status == 200 && seenViaA["node"] as? String == idB && seenViaA["id"] as? String == given.id, "\(viaA)")
        #expect(((seenViaA["counts"] as? [String: Any])?["handed_over"] as? NSNumber)?.intValue == 100, "\(viaA)")
        let pageViaA = try jsonObject(try await http("GET", "\(apiA)/v1/campaigns/\(idB):\(given.id)/messages?limit=5&state=handed_over", key: admin).body)
        #expect((pageViaA["messages"] as? [[String: Any]])?.count == 5 && pageViaA["next_cursor"] is String, "\(pageViaA)")
        let csvViaA = try await http("GET", "\(apiA)/v1/campaigns/\(idB):\(given.id)/messages.csv", key: admin)
        let rows = csvViaA.body.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(csvViaA.status == 200 && rows.count == 101 && rows.dropFirst().allSatisfy { $0.contains("handed_over") }, "\(csvViaA.status) \(rows.prefix(3))")
        // A retry is made where the campaign is: b has nothing failed to retry (all handed over).
        let retry = try await http("POST", "\(apiA)/v1/campaigns/\(idB):\(given.id)/retry", key: admin, json: #"{"states":["failed"]}"#)
        #expect(retry.status == 422 && retry.body.contains("no_valid_recipients"), "\(retry)")
        let ownQualified = try jsonObject(try await http("GET", "\(apiA)/v1/campaigns/\(idA):\(own.id)", key: admin).body)
        #expect(ownQualified["node"] as? String == idA && ownQualified["id"] as? String == own.id)
        // Finished everywhere: cancelling it from a is a conflict, as on b.
        let late = try await http("POST", "\(apiA)/v1/campaigns/\(idB):\(given.id)/cancel", key: admin)
        #expect(late.status == 409, "\(late)")
        let nowhere = try await http("GET", "\(apiA)/v1/campaigns/zz:1", key: admin)
        #expect(nowhere.status == 503, "\(nowhere)")

        await finish([a, b], stack, etcd, root: root)
    }

    /// A tier set on any node is the number's tier on every node: set on the node that
    /// does not send, the holder paces at it within a round or two. A pause and a resume
    /// likewise.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcd), "needs Debian's etcd-server (scripts/bootstrap installs it)"))
    func aTierAndAPauseSetOnAnyNodeHoldEverywhere() async throws {
        let root = try temporaryDirectory("cluster-tier")
        let etcd = try await Self.startEtcd(root)
        let stack = try await DispatchEndToEndTests().startMock("cluster-tier")
        let (idA, idB) = Self.placedFirst
        let (a, apiA) = try await node(stack, idA, etcd: etcd.url)
        try await register(apiA)
        try await eventually("a holds the number", within: 15) { try await owner(apiA) == idA }
        let (b, apiB) = try await node(stack, idB, etcd: etcd.url)
        try await register(apiB)
        func tier(_ api: String) async throws -> Double? {
            let r = try await http("GET", "\(api)/v1/senders/\(Self.phone)", key: DispatchEndToEndTests.adminKey)
            return (try jsonObject(r.body)["tier_mps"] as? NSNumber)?.doubleValue
        }
        try await eventually("b sees a as the holder", within: 10) { try await owner(apiB) == idA }

        let changed = Date()
        let r = try await http("PUT", "\(apiB)/v1/senders/\(Self.phone)", key: DispatchEndToEndTests.adminKey, json: #"{"tier_mps":80,"access_token":"token"}"#)
        try #require(r.status == 200, "\(r)")
        try await eventually("the holder takes the tier set on b", within: 5) { try await tier(apiA) == 80 }
        let took = Date().timeIntervalSince(changed)
        #expect(took < 3.5, "within a few rounds of a second: \(took) s")
        try await Task.sleep(for: .seconds(2))
        #expect(try await tier(apiB) == 80, "and b keeps it")

        // The holder sends at the new tier.
        _ = try await DispatchEndToEndTests().postCampaign(apiA, sender: Self.phone, count: 400, firstRecipient: 966_595_000_000)
        try await eventually("the campaign sent", within: 30) { try arrivals(stack).count >= 400 }
        let times = try arrivals(stack)
        let mean = try #require(ArrivalWindow.meanRate(sortedTimes: times))
        #expect(mean > 50, "paced at 80, not 40: \(mean) msg/s")
        print("cluster: tier set on the other node taken by the holder after \(String(format: "%.1f", took)) s; sent at \(String(format: "%.1f", mean)) msg/s")

        // Paused on the node that does not send, the number stops on the holder too.
        _ = try await DispatchEndToEndTests().postCampaign(apiA, sender: Self.phone, count: 800, firstRecipient: 966_599_000_000)
        try await eventually("the holder sends again", within: 20) { try arrivals(stack).count >= 450 }
        let pause = try await http("POST", "\(apiB)/v1/senders/\(Self.phone)/pause", key: DispatchEndToEndTests.adminKey, json: #"{"reason":"quality review"}"#)
        try #require(pause.status == 200, "\(pause)")
        let pausedAt = Int64(Date().timeIntervalSince1970 * 1e9)
        try await eventually("the holder shows the pause", within: 5) {
            let r = try jsonObject(try await http("GET", "\(apiA)/v1/senders/\(Self.phone)", key: DispatchEndToEndTests.adminKey).body)
            return r["paused"] as? Bool == true && r["pause_reason"] as? String == "quality review"
        }
        try await Task.sleep(for: .seconds(3))
        let quietFrom = Int64(Date().timeIntervalSince1970 * 1e9) - 2_000_000_000
        let afterPause = try arrivals(stack).filter { $0 > pausedAt }
        #expect(afterPause.allSatisfy { $0 < quietFrom }, "nothing sent for the number a few rounds after the pause on the other node")
        #expect(try arrivals(stack).count < 1_200, "the campaign waits")
        let resume = try await http("POST", "\(apiB)/v1/senders/\(Self.phone)/resume", key: DispatchEndToEndTests.adminKey)
        try #require(resume.status == 200, "\(resume)")
        try await eventually("resumed on the other node, the holder finishes", within: 30) { try arrivals(stack).count >= 1_200 }

        await finish([a, b], stack, etcd, root: root)
    }

    /// A node that joins takes the numbers placement gives it, in the middle of their
    /// campaigns: the holder stops sending for each, lets the wire drain, releases it, and
    /// hands the unsent rest over. Judged at the mock, number by number: never more than
    /// the tier in a second (never two pacers at once), every recipient reached once.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcd), "needs Debian's etcd-server (scripts/bootstrap installs it)"))
    func aNodeThatJoinsTakesWhatPlacementGivesItWithoutTwoPacersAtOnce() async throws {
        let root = try temporaryDirectory("cluster-join")
        let etcd = try await Self.startEtcd(root)
        let stack = try await DispatchEndToEndTests().startMock("cluster-join")
        let e2e = DispatchEndToEndTests()
        let phones = (0..<6).map { "10650009\(70 + $0)" }
        let count = 1_000
        let (a, apiA) = try await node(stack, "a", etcd: etcd.url)
        for phone in phones {
            let r = try await http("PUT", "\(apiA)/v1/senders/\(phone)", key: DispatchEndToEndTests.adminKey, json: #"{"tier_mps":\#(Self.tier),"access_token":"t"}"#)
            try #require(r.status == 200, "\(r)")
        }
        try await eventually("a holds every number", within: 15) { try await owners(apiA).values.filter { $0 == "a" }.count == phones.count }
        for (i, phone) in phones.enumerated() {
            _ = try await e2e.postCampaign(apiA, sender: phone, count: count, firstRecipient: 966_596_000_000 + i * 10_000)
        }
        let (b, apiB) = try await node(stack, "b", etcd: etcd.url)
        for phone in phones {
            let r = try await http("PUT", "\(apiB)/v1/senders/\(phone)", key: DispatchEndToEndTests.adminKey, json: #"{"tier_mps":\#(Self.tier),"access_token":"t"}"#)
            try #require(r.status == 200, "\(r)")
        }
        let joined = Date()
        let expected = Placement.assign(phones.map { Placement.Number(phoneNumberID: $0, tierMessagesPerSecond: Double(Self.tier), candidates: ["a", "b"]) })
        try #require(Set(expected.values) == ["a", "b"], "placement gives b some: \(expected)")
        try await eventually("the numbers placed on b moved there", within: 60) { try await owners(apiA) == expected }
        let moved = Date().timeIntervalSince(joined)

        let total = phones.count * count
        try await eventually("every recipient reached", within: 90) {
            let all = try readArrivals(stack.record)
            return Set(all.compactMap(\.to)).count >= total
        }
        try await Task.sleep(for: .seconds(1))
        let all = try readArrivals(stack.record)
        #expect(all.count == total, "each once: \(all.count) arrivals for \(total) recipients")
        #expect(all.allSatisfy { $0.callback?.contains("@a:") == true || $0.callback?.contains("@b:") == true }, "each request names its node for the statuses")
        let fenced = Self.fencingNeverGoesBack(all)
        #expect(fenced.ok && fenced.tokens.count > phones.count, "numbers moved, and no request of an earlier ownership after one of a later: \(fenced)")
        for phone in phones {
            let times = all.filter { $0.phoneNumberID == phone }.map(\.time).sorted()
            let peak = ArrivalWindow.maxCount(sortedTimes: times, windowNanoseconds: 1_000_000_000 - DispatchEndToEndTests.arrivalJitterAllowanceNanoseconds)
            #expect(peak <= Self.tier, "\(phone) (\(expected[phone] ?? "?")): \(peak) in a second at tier \(Self.tier)")
        }
        let handed = try await counts(apiA, "1")["handed_over"]
        print("cluster: b joined; the numbers placement gives it moved \(String(format: "%.1f", moved)) s later; \(all.count) arrivals for \(total) recipients; campaign 1 handed_over \(handed ?? 0)")

        await finish([a, b], stack, etcd, root: root)
    }

    /// Whether, number by number in arrival order, no request of an ownership arrived
    /// after a request of a later one (callback data `<id>@<node>:<fencing token>`).
    static func fencingNeverGoesBack(_ arrivals: [RecordedArrival]) -> (ok: Bool, tokens: Set<Int64>) {
        var last: [String: Int64] = [:]
        var tokens = Set<Int64>()
        for a in arrivals.sorted(by: { $0.time < $1.time }) {
            guard let token = a.callback?.split(separator: ":").last.flatMap({ Int64($0) }) else { return (false, tokens) }
            tokens.insert(token)
            if let before = last[a.phoneNumberID], token < before { return (false, tokens) }
            last[a.phoneNumberID] = token
        }
        return (true, tokens)
    }

    static let python = "/usr/bin/python3"
    static let tcpProxy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/tcp-proxy").path

    /// Three nodes, each reaching etcd through a TCP proxy of its own; the number on all
    /// three at tier 40. The holder's link to etcd is cut in the middle of a campaign (its
    /// proxy frozen with SIGSTOP: a partition that leaves the other nodes and the mock
    /// reachable). It stops sending before its lease could lapse; another node takes the
    /// number after the lease lapsed; the requests at the mock name the node that sent
    /// them, and the new holder's first comes after the old holder's last (never two
    /// pacers). When the link is back, the cut-off node finds its lease gone and hands its
    /// unsent backlog over: every recipient is reached.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcd) && FileManager.default.isExecutableFile(atPath: python), "needs Debian's etcd-server and python3"))
    func aNodeCutOffFromEtcdAmongThreeStopsBeforeAnotherTakesOver() async throws {
        let began = Date()
        func phase(_ what: String) { print("cluster partition: \(what) at \(String(format: "%.1f", Date().timeIntervalSince(began))) s") }
        let root = try temporaryDirectory("cluster-partition")
        let etcd = try await Self.startEtcd(root)
        let stack = try await DispatchEndToEndTests().startMock("cluster-partition")
        let ids = ["a", "b", "c"]
        var proxies: [String: ChildProcess] = [:]
        var nodes: [String: (process: ChildProcess, api: String)] = [:]
        for id in ids {
            let proxy = try ChildProcess(
                arguments: [Self.tcpProxy, String(etcd.url.dropFirst("http://".count))], logPath: root + "/proxy-\(id).log", executable: Self.python)
            let address = try await proxy.waitForLine(prefix: "tcp-proxy listening on ")
            proxies[id] = proxy
            nodes[id] = try await node(stack, id, etcd: "http://" + address)
            try await register(nodes[id]!.api)
        }
        phase("three nodes up")
        var holder = ""
        try await eventually("a node holds the number", within: 15) {
            holder = try await owner(nodes["a"]!.api) ?? ""
            return !holder.isEmpty
        }
        let others = ids.filter { $0 != holder }
        let count = 1_200
        _ = try await DispatchEndToEndTests().postCampaign(nodes[holder]!.api, sender: Self.phone, count: count, firstRecipient: 966_597_000_000)
        try await eventually("the holder sends", within: 30) { try arrivals(stack).count >= 200 }

        phase("cut")
        proxies[holder]!.signal(SIGSTOP)
        let cut = Date()
        let cutNanoseconds = Int64(cut.timeIntervalSince1970 * 1e9)
        var successor = ""
        try await eventually("another node holds the number", within: 30) {
            successor = try await owner(nodes[others[0]]!.api) ?? ""
            return others.contains(successor)
        }
        let takeover = Date().timeIntervalSince(cut)
        // The cut-off node's backlog waits for its link; a campaign given to the new
        // holder goes out now.
        let extra = 200
        _ = try await DispatchEndToEndTests().postCampaign(nodes[successor]!.api, sender: Self.phone, count: extra, firstRecipient: 966_598_000_000)
        try await eventually("the new holder sends", within: 20) {
            try readArrivals(stack.record).contains { $0.callback?.contains("@" + successor + ":") == true }
        }
        phase("link back")
        proxies[holder]!.signal(SIGCONT)
        let resumed = Int64(Date().timeIntervalSince1970 * 1e9)
        // Back, it hands its backlog over (or sends it itself, once placement gives the
        // number back to it: after the holder has let the wire drain).
        try await eventually("every recipient reached once the link is back", within: 90) { try recipients(stack).count >= count + extra }
        let drained = Double(Int64(Date().timeIntervalSince1970 * 1e9) - resumed) / 1e9
        try await Task.sleep(for: .seconds(1))

        let all = try readArrivals(stack.record).filter { $0.phoneNumberID == Self.phone }
        let old = all.filter { $0.callback?.contains("@" + holder + ":") == true && $0.time < resumed }.map(\.time)
        let new = all.filter { $0.callback?.contains("@" + successor + ":") == true }.map(\.time)
        let lastOld = try #require(old.max())
        let firstNew = try #require(new.min())
        let quiet = Double(lastOld - cutNanoseconds) / 1e9
        #expect(quiet < 7, "the cut-off node's last request \(quiet) s after the cut: before its lease (10 s) could lapse")
        #expect(firstNew > lastOld, "the new holder's first request after the old holder's last: \(Double(firstNew - lastOld) / 1e9) s between")
        let fenced = Self.fencingNeverGoesBack(all)
        #expect(fenced.ok && fenced.tokens.count >= 2, "no request of an earlier ownership after one of a later: \(fenced)")
        #expect(takeover >= 5 && takeover <= 20, "taken over after the lease lapsed: \(takeover) s")
        let seen = try recipients(stack)
        #expect(seen.count == count + extra, "every recipient: \(seen.count) of \(count + extra)")
        let duplicates = seen.values.reduce(0) { $0 + $1 - 1 }
        #expect(duplicates <= Self.tier, "duplicates within the in-flight bound: \(duplicates)")
        let peak = ArrivalWindow.maxCount(sortedTimes: all.map(\.time).sorted(), windowNanoseconds: 1_000_000_000 - DispatchEndToEndTests.arrivalJitterAllowanceNanoseconds)
        #expect(peak <= Self.tier, "one pacer at a time: \(peak) in a second at tier \(Self.tier)")
        print("cluster: partition of 1 of 3 nodes — it stopped \(String(format: "%.1f", quiet)) s after the cut, node \(successor) took over after \(String(format: "%.1f", takeover)) s, its first request \(String(format: "%.1f", Double(firstNew - lastOld) / 1e9)) s after the old holder's last; all reached \(String(format: "%.1f", drained)) s after the link came back; \(duplicates) duplicate(s), peak \(peak)/s")

        phase("judged")
        await finish(ids.map { nodes[$0]!.process }, stack, etcd, root: root)
        phase("nodes stopped")
        for id in ids { #expect(await proxies[id]!.stop(timeoutSeconds: 5) == 0, "proxy of \(id) stops on SIGTERM") }
    }

    /// Numbers registered on every node are placed by tier (rendezvous hashing, a cap per
    /// node): each node claims the ones placement gives it, and both agree.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcd), "needs Debian's etcd-server (scripts/bootstrap installs it)"))
    func numbersOnEveryNodeArePlacedByTier() async throws {
        let root = try temporaryDirectory("cluster-place")
        let etcd = try await Self.startEtcd(root)
        let stack = try await DispatchEndToEndTests().startMock("cluster-place")
        let (a, apiA) = try await node(stack, "a", etcd: etcd.url)
        let (b, apiB) = try await node(stack, "b", etcd: etcd.url)
        let tiers: [String: Double] = ["1065000961": 1000, "1065000962": 1000, "1065000963": 250, "1065000964": 250, "1065000965": 80, "1065000966": 80]
        // b first: a node that registers later still gets what placement gives it.
        for api in [apiB, apiA] {
            for (phone, tier) in tiers {
                let r = try await http("PUT", "\(api)/v1/senders/\(phone)", key: DispatchEndToEndTests.adminKey, json: #"{"tier_mps":\#(tier),"access_token":"t"}"#)
                try #require(r.status == 200, "\(r)")
            }
        }
        let expected = Placement.assign(tiers.map { Placement.Number(phoneNumberID: $0.key, tierMessagesPerSecond: $0.value, candidates: ["a", "b"]) })
        var seen: [String: String] = [:]
        try await eventually("every number held as placed", within: 20) {
            seen = try await owners(apiA)
            return seen == expected
        }
        #expect(seen == expected, "\(seen) vs \(expected)")
        #expect(try await owners(apiB) == expected)
        #expect(Set(expected.values) == ["a", "b"], "both nodes send: \(expected)")

        await finish([a, b], stack, etcd, root: root)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcd), "needs Debian's etcd-server (scripts/bootstrap installs it)"))
    func aNodeCutOffFromEtcdStopsSendingBeforeItsLeaseCouldLapse() async throws {
        let root = try temporaryDirectory("cluster-cut")
        let etcd = try await Self.startEtcd(root)
        let stack = try await DispatchEndToEndTests().startMock("cluster-cut")
        let (a, apiA) = try await node(stack, "a", etcd: etcd.url)
        try await register(apiA)
        // Long enough to still be sending when etcd goes quiet.
        _ = try await DispatchEndToEndTests().postCampaign(apiA, sender: Self.phone, count: 2_000, firstRecipient: 966_592_000_000)
        try await eventually("sending", within: 20) { try arrivals(stack).count >= 40 }

        etcd.process.signal(SIGSTOP)
        let frozen = Int64(Date().timeIntervalSince1970 * 1e9)
        try await Task.sleep(for: .seconds(9))
        let times = try arrivals(stack)
        let last = try #require(times.last)
        let quiet = Double(last - frozen) / 1e9
        // Sending stops 6 s after the last renewal was sent (10 s TTL less the 4 s margin),
        // which was before the freeze: well before the lease could lapse (10 s).
        #expect(quiet < 7, "last arrival \(quiet) s after etcd went quiet")
        #expect(times.count < 2_000)
        print("cluster: sending stopped \(String(format: "%.1f", quiet)) s after etcd went quiet")

        etcd.process.signal(SIGCONT)
        await finish([a], stack, etcd, root: root)
    }
}
