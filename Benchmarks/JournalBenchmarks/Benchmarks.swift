import Benchmark
import Foundation
import SluiceCore
import SluiceJournal

/// A journal in a temporary directory, opened in `setup` and removed in `teardown`.
final class Fixture: @unchecked Sendable {
    let durable: Bool
    /// Tokens, secrets and payloads sealed with AES-256-GCM, as the engine runs it.
    let encrypted: Bool
    private(set) var journal: Journal!
    private(set) var directory = ""
    var sender = SenderID(0)
    var campaign = CampaignID(0)
    var messages = 0

    init(durable: Bool, encrypted: Bool = false) {
        self.durable = durable
        self.encrypted = encrypted
    }

    func open() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-journal-bench-\(UUID().uuidString)").path
        var c = JournalConfiguration()
        c.durable = durable
        if encrypted { c.encryption = .keyFile(directory + ".key") }
        journal = try Journal(directory: directory, configuration: c)
        let s = try await journal.apply([.putSender(SenderRecord(id: SenderID(0), phoneNumberID: "106540352242922", tierMessagesPerSecond: 1000, accessToken: "EAAG-bench"))])
        guard case .sender(let id) = s.results[0] else { fatalError("\(s)") }
        sender = id
        let c2 = try await journal.apply([.createCampaign(sender: sender, message: Array(#"{"type":"template","template":{"name":"promo","language":{"code":"en"}}}"#.utf8), createdMilliseconds: 1_750_000_000_000, recipients: [])])
        guard case .campaign(let cid, _, _) = c2.results[0] else { fatalError("\(c2)") }
        campaign = cid
    }

    func close(_ name: String) throws {
        let stats = try journal.statistics()
        if stats.messages > 0 {
            print("\(name): \(stats.messages) messages, \(stats.usedBytes / stats.messages) bytes/message, \(stats.commits) commits for \(stats.applies) applies, map \(stats.mapSizeBytes >> 20) MiB")
        }
        journal.close()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: directory + ".key")
    }

    /// One chunk of a streamed campaign: 1 000 recipients with 2 parameters each.
    func chunk() -> [JournalMutation] {
        let start = messages
        messages += chunkSize
        let recipients = (start..<start + chunkSize).map {
            NewMessage(to: String(491_700_000_000 + $0), params: ["Customer \($0)", "CODE\($0 % 10_000)"])
        }
        return [.appendMessages(campaign: campaign, createdMilliseconds: 1_750_000_000_000, recipients: recipients)]
    }
}

let chunkSize = 1_000
let bytesPerMessage = BenchmarkMetric.custom("bytes/message", polarity: .prefersSmaller, useScalingFactor: false)
let messagesPerSecond = BenchmarkMetric.custom("messages/s", polarity: .prefersLarger, useScalingFactor: false)

/// Messages per second of one measured span.
func rate(_ messages: Int, since start: ContinuousClock.Instant) -> Int {
    let d = (ContinuousClock.now - start).components
    let seconds = Double(d.seconds) + Double(d.attoseconds) / 1e18
    return Int(Double(messages) / max(seconds, 1e-9))
}

let benchmarks: @Sendable () -> Void = {
    // wallClock etc. are per iteration (per 1 000-message chunk, or per 8 chunks);
    // messages/s is the headline.
    let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal, messagesPerSecond, bytesPerMessage]
    let configuration = Benchmark.Configuration(metrics: metrics, maxDuration: .seconds(5), maxIterations: 2_000)

    for (producers, encrypted) in [(1, false), (8, false), (1, true), (8, true)] {
        let fixture = Fixture(durable: true, encrypted: encrypted)
        let name = "Journal intake, durable group commit, \(producers) producer(s) × 1 000 messages" + (encrypted ? ", encrypted" : "")
        // Each iteration journals `producers` chunks concurrently; chunks that arrive during
        // a commit share the next one.
        Benchmark(name, configuration: configuration, closure: { benchmark in
            let chunks = (0..<producers).map { _ in fixture.chunk() }
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            await withTaskGroup(of: Void.self) { group in
                for chunk in chunks {
                    group.addTask {
                        do { _ = try await fixture.journal.apply(chunk) } catch { fatalError("\(error)") }
                    }
                }
            }
            benchmark.stopMeasurement()
            benchmark.measurement(messagesPerSecond, rate(producers * chunkSize, since: start))
            let stats = try? fixture.journal.statistics()
            if let stats, stats.messages > 0 { benchmark.measurement(bytesPerMessage, stats.usedBytes / stats.messages) }
        }, setup: { try await fixture.open() }, teardown: { try fixture.close(name) })
    }

    // With a subscriber, each `sent` also writes an outbox entry (and one subscriber
    // record per commit); without one, a transition pays one in-memory check.
    for (subscribers, encrypted) in [(0, false), (1, false), (0, true), (1, true)] {
        let transitions = Fixture(durable: true, encrypted: encrypted)
        let name = "Journal transitions queued→in_flight→sent, 1 000 per transaction, \(subscribers) subscriber(s)" + (encrypted ? ", encrypted" : "")
        Benchmark(name, configuration: configuration, closure: { benchmark in
            let r = try? await transitions.journal.apply(transitions.chunk())
            guard case .messages(let first, let n) = r?.results[0] else { fatalError("append failed") }
            let ids = (0..<UInt64(n)).map { MessageID(first.rawValue + $0) }
            let inFlight: [JournalMutation] = [.transition(ids.map { MessageTransition(id: $0, to: .inFlight, attempts: 1, updatedMilliseconds: 1_750_000_000_001) })]
            let sent: [JournalMutation] = [.transition(ids.map { MessageTransition(id: $0, to: .sent, updatedMilliseconds: 1_750_000_000_002, wamid: "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA\($0.rawValue)") })]
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            do {
                _ = try await transitions.journal.apply(inFlight)
                _ = try await transitions.journal.apply(sent)
            } catch { fatalError("\(error)") }
            benchmark.stopMeasurement()
            // Two transitions per message.
            benchmark.measurement(messagesPerSecond, rate(n, since: start))
        }, setup: {
            try await transitions.open()
            for _ in 0..<subscribers {
                _ = try await transitions.journal.apply([.createSubscription(SubscriptionRecord(
                    url: "https://hooks.example.com/sluice", secret: "whsec_bench", createdMilliseconds: 1_750_000_000_000))])
            }
        }, teardown: { try transitions.close(name) })
    }
}
