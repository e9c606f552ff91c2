import Benchmark
import SluiceCore

/// Pacing and scheduling cost per decision. Targets: ≥ 10 M pacer decisions/s;
/// `Scheduler.nextBatch` for 100 busy senders without per-message allocations beyond
/// the records themselves.
let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.throughput, .wallClock, .mallocCountTotal, .instructions]

    // One decision per call, the clock advancing 1 µs per decision: a 1000 msg/s sender
    // admits one decision in ~1000 and refuses the rest (the common case in a busy loop).
    Benchmark("Pacer.tryAdmit", configuration: .init(metrics: metrics, scalingFactor: .mega)) { benchmark in
        var pacer = Pacer(messagesPerSecond: 1000, now: .zero)
        var now = Instant.zero
        var admitted = 0
        for _ in benchmark.scaledIterations {
            now = now + 1_000
            if pacer.tryAdmit(now: now) { admitted += 1 }
        }
        blackHole(admitted)
    }

    // Every decision admits: the ring-guard path (clock advancing a full interval each time).
    Benchmark("Pacer.tryAdmit (admitting)", configuration: .init(metrics: metrics, scalingFactor: .mega)) { benchmark in
        var pacer = Pacer(messagesPerSecond: 1000, safetyMargin: 0, now: .zero)
        var now = Instant.zero
        var admitted = 0
        for _ in benchmark.scaledIterations {
            now = now + 1_000_000
            if pacer.tryAdmit(now: now) { admitted += 1 }
        }
        blackHole(admitted)
    }

    Benchmark("Pacer.nextEligible", configuration: .init(metrics: metrics, scalingFactor: .mega)) { benchmark in
        var pacer = Pacer(messagesPerSecond: 1000, now: .zero)
        _ = pacer.tryAdmit(now: .zero)
        var now = Instant.zero
        var sum: Int64 = 0
        for _ in benchmark.scaledIterations {
            now = now + 1
            sum &+= pacer.nextEligible(now: now).nanoseconds
        }
        blackHole(sum)
    }

    // 100 senders at 1000 msg/s, each with a deep queue: one simulated second of the
    // dispatcher loop (wake every 1 ms, take the batch, complete it) per iteration.
    Benchmark("Scheduler.nextBatch 100 senders (1 s simulated)", configuration: .init(metrics: metrics, maxDuration: .seconds(10))) { benchmark in
        let senderCount = 100
        let perSender = 1_100
        var scheduler = Scheduler()
        var records: [MessageRecord] = []
        records.reserveCapacity(senderCount * perSender)
        var id: UInt64 = 0
        for s in 0..<senderCount {
            scheduler.upsertSender(SenderID(UInt32(s)), tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
            for _ in 0..<perSender {
                id += 1
                records.append(MessageRecord(id: MessageID(id), campaign: CampaignID(UInt64(s)), sender: SenderID(UInt32(s)), to: "4915112345678", params: []))
            }
        }
        scheduler.enqueue(records, now: .zero)
        records = []
        var batch: [MessageRecord] = []
        batch.reserveCapacity(scheduler.configuration.batchMax)
        var dispatched = 0
        var counts = [Int](repeating: 0, count: senderCount)
        benchmark.startMeasurement()
        var now = Instant.zero
        while now < Instant.seconds(1) {
            batch.removeAll(keepingCapacity: true)
            scheduler.nextBatch(now: now, into: &batch)
            for m in batch { counts[Int(m.sender.rawValue)] += 1 }
            for s in 0..<senderCount where counts[s] > 0 {
                scheduler.completed(sender: SenderID(UInt32(s)), count: counts[s])
                counts[s] = 0
            }
            dispatched += batch.count
            now = now + 1_000_000
        }
        benchmark.stopMeasurement()
        blackHole(dispatched)
        precondition(dispatched >= senderCount * 990, "the scheduler fell behind: \(dispatched)")
    }
}
