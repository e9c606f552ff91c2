import Foundation
import SluiceCore
import SluiceTestSupport
import SluiceTransport
import Testing

/// Drives the real binary: `sluice mock` as the Cloud API endpoint (TLS, HTTP/2) in one
/// process, `sluice serve` in another, everything on 127.0.0.1. Judged from the
/// endpoint's own arrival record, never from the dispatcher's counters.
///
/// The suite's wall-clock pacing judge (`twoSendersArriveAtTheirTiers…`) counts
/// arrivals in a sliding window of one second less `arrivalJitterAllowanceNanoseconds`.
/// The pacer bounds *departures* (tier per 1.007 s, tested on a manual clock in
/// `PacerDepartureTests`); what happens after a request left — the test machine
/// descheduling `serve`'s transport thread or the mock's event loop — it cannot control.
/// Measured on this machine kind with both cores busy (`loadtest --tiers 80,250` beside
/// two spinning shells): inter-arrival gaps of 7.9 ms at p1 against 12.6 ms spacing at
/// tier 80, and stalls of 50 ms at tier 250, where the pacing margin absorbs 7 ms.
/// So the strict bound is judged where the dispatcher controls it: `serve`'s departure
/// record (a stamp just before each request is written) may hold at most the tier in any
/// second. The strict one-second peak at the endpoint is printed, and the load-test
/// harness tells its 130429s apart the same way (tuning/RESULTS.md).
@Suite(.serialized) struct DispatchEndToEndTests {
    static let adminKey = "e2e-admin-key-0123456789"
    /// Scheduling stalls of a shared 2-core test machine between a departure and the
    /// mock's arrival stamp (see above).
    static let arrivalJitterAllowanceNanoseconds: Int64 = 50_000_000

    struct Stack {
        var root: String
        var mock: ChildProcess
        var mockURL: String
        var record: String

        func serve(_ extra: [String] = [], port: Int = 0, dataDir: String? = nil) async throws -> (ChildProcess, String) {
            let serve = try ChildProcess(
                arguments: [
                    "serve", "--data-dir", dataDir ?? root + "/data", "--listen", "127.0.0.1:\(port)", "--graph-url", mockURL,
                    "--ca-file", root + "/mock/mock-cert.pem",
                ] + extra,
                environment: ["SLUICE_ADMIN_KEY": DispatchEndToEndTests.adminKey],
                logPath: root + "/serve-\(UUID().uuidString.prefix(4)).log")
            let api = try await serve.waitForLine(prefix: "sluice listening on ")
            return (serve, api)
        }
    }

    func startMock(_ name: String, extra: [String] = []) async throws -> Stack {
        let root = try temporaryDirectory(name)
        let record = root + "/arrivals.ndjson"
        let mock = try ChildProcess(
            arguments: ["mock", "--listen", "127.0.0.1:0", "--cert-dir", root + "/mock", "--record", record] + extra,
            logPath: root + "/mock.log")
        let line = try await mock.waitForLine(prefix: "mock listening on ")
        let url = String(line.split(separator: " ").first ?? "")
        return Stack(root: root, mock: mock, mockURL: url, record: record)
    }

    func putSender(_ api: String, _ id: String, tier: Int, appSecret: String = "app-secret-e2e") async throws {
        let r = try await http("PUT", "\(api)/v1/senders/\(id)", key: Self.adminKey, json: #"{"tier_mps": \#(tier), "access_token": "token-\#(id)", "app_secret": "\#(appSecret)"}"#)
        try #require(r.status == 200, "PUT sender: \(r.status) \(r.body)")
    }

    func postCampaign(_ api: String, sender: String, count: Int, firstRecipient: Int) async throws -> (id: String, accepted: Int) {
        var recipients: [String] = []
        recipients.reserveCapacity(count)
        for n in 0..<count { recipients.append(#"{"to":"\#(firstRecipient + n)","params":["n\#(n)"]}"#) }
        let body = #"{"sender":"\#(sender)","message":{"type":"text","text":{"body":"Hello {{1}}"}},"recipients":[\#(recipients.joined(separator: ","))]}"#
        let r = try await http("POST", "\(api)/v1/campaigns", key: Self.adminKey, json: body)
        try #require(r.status == 202, "POST campaign: \(r.status) \(r.body)")
        let o = try jsonObject(r.body)
        let id = try #require(o["id"] as? String)
        let accepted = try #require((o["accepted"] as? NSNumber)?.intValue)
        return (id, accepted)
    }

    func waitUntilDone(_ api: String, campaigns: [String], timeoutSeconds: Double) async throws {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var pending = Set(campaigns)
        while !pending.isEmpty && Date() < deadline {
            for id in pending {
                let r = try await http("GET", "\(api)/v1/campaigns/\(id)", key: Self.adminKey)
                if r.status == 200, (try jsonObject(r.body))["state"] as? String == "done" { pending.remove(id) }
            }
            if !pending.isEmpty { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(pending.isEmpty, "campaigns not done within \(timeoutSeconds) s: \(pending)")
    }

    @Test(.enabled(if: WallClockJudges.enabled, WallClockJudges.reason))
    func twoSendersArriveAtTheirTiersAndNothingIsLost() async throws {
        let stack = try await startMock("pacing")
        let (serve, api) = try await stack.serve()
        let lanes: [(id: String, tier: Int, count: Int)] = [("1065000001", 80, 1_600), ("1065000002", 250, 5_000)]
        var campaigns: [String] = []
        for (i, lane) in lanes.enumerated() {
            try await putSender(api, lane.id, tier: lane.tier)
            let c = try await postCampaign(api, sender: lane.id, count: lane.count, firstRecipient: 966_500_000_000 + i * 10_000_000)
            #expect(c.accepted == lane.count)
            campaigns.append(c.id)
        }
        try await waitUntilDone(api, campaigns: campaigns, timeoutSeconds: 120)
        #expect(await serve.stop() == 0, "serve did not exit cleanly on SIGTERM: \(serve.stderrTail())")
        await stack.mock.stop()

        let arrivals = try readArrivals(stack.record)
        let record = try #require(try DepartureRecord.read(path: stack.root + "/data/departures"), "serve's departure record")
        #expect(record.coveredFromNanoseconds == nil, "the record holds the whole run")
        var departures: [String: [Int64]] = [:]
        for entry in record.entries { departures[String(entry.id), default: []].append(entry.wallNanoseconds) }
        for lane in lanes {
            let mine = arrivals.filter { $0.phoneNumberID == lane.id }
            let left = Set(mine.compactMap(\.callback)).flatMap { departures[$0] ?? [] }.sorted()
            #expect(left.count >= lane.count, "sender \(lane.id): \(left.count) departures for \(lane.count) messages")
            let leftPeak = ArrivalWindow.maxCount(sortedTimes: left)
            #expect(leftPeak <= lane.tier, "sender \(lane.id): \(leftPeak) requests left serve in one sliding second, tier \(lane.tier)")
            let times = mine.map(\.time).sorted()
            #expect(Set(mine.compactMap(\.callback)).count == lane.count, "sender \(lane.id): distinct messages at the endpoint")
            #expect(mine.count == lane.count, "sender \(lane.id): \(mine.count - lane.count) duplicate arrival(s) without any crash")
            let peak = ArrivalWindow.maxCount(sortedTimes: times)
            let judged = ArrivalWindow.maxCount(sortedTimes: times, windowNanoseconds: 1_000_000_000 - Self.arrivalJitterAllowanceNanoseconds)
            #expect(judged <= lane.tier, "sender \(lane.id): \(judged) arrivals in \(1_000 - Self.arrivalJitterAllowanceNanoseconds / 1_000_000) ms, tier \(lane.tier)")
            let mean = try #require(ArrivalWindow.meanRate(sortedTimes: times))
            #expect(mean >= 0.97 * Double(lane.tier), "sender \(lane.id): mean \(mean) msg/s, tier \(lane.tier)")
            #expect(mean <= Double(lane.tier), "sender \(lane.id): mean \(mean) msg/s above tier \(lane.tier)")
            print("pacing: sender \(lane.id) tier \(lane.tier): \(mine.count) arrivals, most in any 1 s \(peak) (by departure \(leftPeak), in any \(1_000 - Self.arrivalJitterAllowanceNanoseconds / 1_000_000) ms \(judged)), mean \(String(format: "%.2f", mean)) msg/s (\(String(format: "%.2f", 100 * mean / Double(lane.tier))) % of tier)")
        }
        try? FileManager.default.removeItem(atPath: stack.root)
    }

    @Test func killNineMidCampaignLosesNothing() async throws {
        let stack = try await startMock("crash")
        let settle = ["--in-doubt-settle", "1"]
        var (serve, api) = try await stack.serve(settle)
        let sender = "1065000009"
        let total = 3_000
        try await putSender(api, sender, tier: 250)
        let campaign = try await postCampaign(api, sender: sender, count: total, firstRecipient: 966_510_000_000)
        #expect(campaign.accepted == total)

        // Kill in the middle of sending: some messages sent, some in flight, most queued.
        // The sender's in-flight bound follows the endpoint's answer times (a sanitized
        // build answers slower and holds more): the most it reached bounds what was on the wire.
        var inFlightLimitMax = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let body = try? await http("GET", "\(api)/v1/senders/\(sender)", key: Self.adminKey).body,
                let limit = (try? jsonObject(body))?["in_flight_limit"] as? NSNumber
            {
                inFlightLimitMax = max(inFlightLimitMax, limit.intValue)
            }
            let arrived = (try? readArrivals(stack.record).count) ?? 0
            if arrived >= total / 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await serve.stop(signal: SIGKILL)
        #expect(inFlightLimitMax >= 16, "the sender's in-flight bound was read")

        (serve, api) = try await stack.serve(settle)
        // The departure record: only what had begun to leave is in doubt (at most what the
        // in-flight bound let onto the wire); what was only staged is queued again.
        let recovered = (try? String(contentsOfFile: serve.logPath, encoding: .utf8)) ?? ""
        func logged(_ pattern: String) -> Int {
            guard let range = recovered.range(of: pattern, options: .regularExpression) else { return 0 }
            return Int(recovered[range].prefix { $0.isNumber }) ?? 0
        }
        let inDoubt = logged("[0-9]+ message\\(s\\) had begun to leave")
        let requeued = logged("[0-9]+ message\\(s\\) were staged")
        print("crash: after the kill \(inDoubt) in doubt, \(requeued) queued again (in-flight bound \(inFlightLimitMax))")
        #expect(inDoubt <= inFlightLimitMax, "in doubt \(inDoubt) exceeds the in-flight bound \(inFlightLimitMax)")
        try await waitUntilDone(api, campaigns: [campaign.id], timeoutSeconds: 120)
        let final = try jsonObject(try await http("GET", "\(api)/v1/campaigns/\(campaign.id)", key: Self.adminKey).body)
        let counts = try #require(final["counts"] as? [String: Any])
        #expect((counts["sent"] as? NSNumber)?.intValue == total, "every message ends sent: \(counts)")
        #expect(await serve.stop() == 0)
        await stack.mock.stop()

        let arrivals = try readArrivals(stack.record).filter { $0.phoneNumberID == sender }
        let callbacks = arrivals.compactMap(\.callback)
        let distinct = Set(callbacks)
        // Message ids of the first campaign in a new journal are 1...total.
        let expected = Set((1...total).map(String.init))
        #expect(distinct == expected, "lost: \(expected.subtracting(distinct).count), unexpected: \(distinct.subtracting(expected).count)")
        let duplicates = callbacks.count - distinct.count
        print("crash: \(total) accepted, \(distinct.count) distinct at the endpoint, lost \(expected.subtracting(distinct).count), unexpected \(distinct.subtracting(expected).count), duplicates \(duplicates)")
        // What was on the wire (the sender's in-flight bound), plus 64 for outcomes not yet
        // committed (group commit) and the bound's changes between two samples.
        #expect(duplicates <= inFlightLimitMax + 64, "duplicates \(duplicates) exceed the in-flight bound \(inFlightLimitMax) + 64")
        try? FileManager.default.removeItem(atPath: stack.root)
    }

    /// With WhatsApp's status webhooks on, a message that was on the wire when `serve` died
    /// is settled by its status before the settle window ends, so nothing is sent twice.
    @Test func killNineWithStatusWebhooksSendsNothingTwice() async throws {
        let port = try freeLoopbackPort()
        let secret = "app-secret-e2e"
        let stack = try await startMock("crash-webhooks", extra: [
            "--webhook-url", "http://127.0.0.1:\(port)/webhooks/whatsapp", "--app-secret", secret,
            "--webhook-delays-ms", "10,50,100",
        ])
        // Sanitized, `serve` answers webhooks several times slower: statuses would come
        // after an 8 s window and their messages be resent (ChaosEndToEndTests does the same).
        let settle = ["--in-doubt-settle", ChaosEndToEndTests.settleSeconds == "12" ? "8" : "40"]
        var (serve, api) = try await stack.serve(settle, port: port)
        let sender = "1065000010"
        let total = 2_000
        try await putSender(api, sender, tier: 250, appSecret: secret)
        let campaign = try await postCampaign(api, sender: sender, count: total, firstRecipient: 966_520_000_000)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if ((try? readArrivals(stack.record).count) ?? 0) >= total / 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await serve.stop(signal: SIGKILL)
        (serve, api) = try await stack.serve(settle, port: port)
        try await waitUntilDone(api, campaigns: [campaign.id], timeoutSeconds: 120)
        let final = try jsonObject(try await http("GET", "\(api)/v1/campaigns/\(campaign.id)", key: Self.adminKey).body)
        let counts = try #require(final["counts"] as? [String: Any])
        #expect((counts["sent"] as? NSNumber)?.intValue == total, "every message ends sent or later: \(counts)")
        #expect(await serve.stop() == 0)
        await stack.mock.stop()

        let callbacks = try readArrivals(stack.record).filter { $0.phoneNumberID == sender }.compactMap(\.callback)
        let distinct = Set(callbacks)
        let expected = Set((1...total).map(String.init))
        print("crash with webhooks: \(total) accepted, lost \(expected.subtracting(distinct).count), unexpected \(distinct.subtracting(expected).count), duplicates \(callbacks.count - distinct.count)")
        #expect(distinct == expected)
        #expect(callbacks.count == distinct.count, "in-doubt messages were settled by their statuses, none resent")
        try? FileManager.default.removeItem(atPath: stack.root)
    }
}
