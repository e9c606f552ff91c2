import Foundation

/// Renders a ``LoadTestReport`` as `report.json`, a one-screen text summary, and a
/// self-contained `report.html` (see `ReportRenderer+HTML.swift`).
///
/// ```swift
/// try ReportRenderer.json(report).write(to: dir.appendingPathComponent("report.json"))
/// for line in ReportRenderer.summary(report) { print(line) }
/// ```
public enum ReportRenderer {
    /// Pretty, key-sorted JSON, so two reports diff well.
    public static func json(_ report: LoadTestReport) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(report)
    }

    /// Reads a `report.json` back.
    public static func decode(_ data: Data) throws -> LoadTestReport {
        try JSONDecoder().decode(LoadTestReport.self, from: data)
    }

    /// The text summary: a table per sender, latency, totals, cost, verdict.
    public static func summary(_ report: LoadTestReport) -> [String] {
        var lines: [String] = []
        lines.append("Load test, as the endpoint saw it (\(report.seconds) s per campaign, \(report.mode) processes):")
        lines.append("  sender        tier  accepted  arrived  dup  lost  max/1s   mean/s  of tier  130429  behind p99  verdict")
        for sender in report.senders {
            let p = sender.pacing
            lines.append(
                "  " + pad(p.phoneNumberID, 12) + pad(String(p.tier), 6, right: true) + pad(String(p.accepted), 10, right: true)
                    + pad(String(p.arrivals), 9, right: true) + pad(String(p.duplicates), 5, right: true)
                    + pad(String(p.lost), 6, right: true) + pad(String(p.maxInOneSecond), 8, right: true)
                    + pad(format1(p.meanRate), 9, right: true) + pad(format1(100 * p.meanFractionOfTier) + " %", 9, right: true)
                    + pad(String(p.throttled130429), 8, right: true)
                    + pad(format1(sender.latency.behindSchedule.p99Milliseconds) + " ms", 12, right: true)
                    + "  " + (p.passed ? "ok" : "FAIL"))
        }
        for sender in report.senders {
            if let d = sender.pacing.departures { lines.append("  " + departureLine(sender.pacing.phoneNumberID, d)) }
        }
        if let inbound = report.inbound {
            let l = inbound.postedToSubscriber
            lines.append("  customers writing in at \(format1(inbound.messagesPerSecondPerNumber)) msg/s per number (WhatsApp counts them toward the tier):")
            for sender in report.senders {
                guard let share = sender.pacing.inbound else { continue }
                lines.append("    \(sender.pacing.phoneNumberID): \(share.incoming) incoming, most \(share.maxInOneSecond) in 1 s; with sends most \(share.maxInOneSecondWithSends) in 1 s (tier \(sender.pacing.tier)); left \(format1(share.leftMessagesPerSecond)) msg/s, mean \(format1(sender.pacing.meanRate)) (\(format1(100 * sender.pacing.meanRate / share.leftMessagesPerSecond)) %)")
            }
            lines.append("  incoming -> subscriber (ms):  p50 \(format1(l.p50Milliseconds))  p90 \(format1(l.p90Milliseconds))  p99 \(format1(l.p99Milliseconds))  p99.9 \(format1(l.p999Milliseconds))  max \(format1(l.maxMilliseconds))  (\(inbound.delivered) of \(inbound.acknowledged) acknowledged, \(inbound.undelivered) undelivered)")
        }
        if let schedule = report.storm {
            lines.append("  130429 storms: \(format1(Double(schedule.durationMilliseconds) / 1_000)) s of every \(format1(Double(schedule.everyMilliseconds) / 1_000)) s at the mock")
            for sender in report.senders {
                guard let storm = sender.storm else { continue }
                for e in storm.episodes where e.outcome != .notMet {
                    lines.append("    " + stormLine(sender.pacing.phoneNumberID, e))
                }
            }
        }
        let behind = report.latency.behindSchedule
        let plain = report.latency.acceptedToArrival
        lines.append("  latency behind schedule (ms): p50 \(format1(behind.p50Milliseconds))  p90 \(format1(behind.p90Milliseconds))  p99 \(format1(behind.p99Milliseconds))  p99.9 \(format1(behind.p999Milliseconds))  max \(format1(behind.maxMilliseconds))")
        lines.append("  accepted -> arrival (ms):     p50 \(format1(plain.p50Milliseconds))  p90 \(format1(plain.p90Milliseconds))  p99 \(format1(plain.p99Milliseconds))  p99.9 \(format1(plain.p999Milliseconds))  max \(format1(plain.maxMilliseconds))")
        if let delivered = report.latency.acceptedToDelivered {
            lines.append("  accepted -> delivered (ms):   p50 \(format1(delivered.p50Milliseconds))  p90 \(format1(delivered.p90Milliseconds))  p99 \(format1(delivered.p99Milliseconds))  p99.9 \(format1(delivered.p999Milliseconds))  max \(format1(delivered.maxMilliseconds))  (\(delivered.count) delivered, \(report.latency.undelivered ?? 0) undelivered)")
        }
        let t = report.totals
        var cost = "  total \(t.arrivals) arrivals of \(t.accepted) accepted, \(format1(t.messagesPerSecond)) msg/s, \(t.duplicates) duplicates, \(t.lost) lost, \(t.throttled130429) x 130429"
        if let inDoubt = t.inDoubt, inDoubt > 0 { cost += ", \(inDoubt) in doubt at the dispatcher" }
        cost += ", wall \(format1(report.wallSeconds)) s"
        lines.append(cost)
        if let d = report.dispatcher {
            var line = "  dispatcher: \(format2(d.cpuSeconds)) CPU s, \(format2(d.cpuSecondsPer1000Messages)) CPU s per 1000 messages, peak RSS \(format1(Double(d.peakRSSBytes) / 1_048_576)) MiB"
            if let n = d.inFlightMax { line += ", at most \(n) in flight" }
            if let n = d.endpointConnectionsMax { line += " over at most \(n) connection(s)" }
            lines.append(line)
        }
        if let c = report.ceiling {
            let r = c.reference
            let streams = c.httpVersion == "1.1" ? "" : " x 100 streams"
            let used = report.dispatcher?.endpointConnectionsMax.map { ", at most \($0) connection(s)" } ?? ""
            lines.append("Ceiling (\(c.senders) senders at tier \(LoadTestPlan.ceilingTier), unlimited at the mock, \(c.offeredMessages) messages, \(c.protocolName)):")
            lines.append("  sluice:    \(format1(c.sluiceMessagesPerSecond)) msg/s (durable journal, TLS\(used))")
            lines.append("  reference: \(format1(r.requestsPerSecond)) req/s (h2load, \(c.connections) connection(s)\(streams), same mock; \(r.succeeded) succeeded, \(r.failed) failed, \(r.status2xx) x 2xx)")
            lines.append("  ratio:     \(format1(100 * c.ratio)) % of the reference (target \(format1(100 * CeilingReport.ratioTarget)) %)")
        }
        let heldInTransit = report.senders.reduce(0) { $0 + ($1.pacing.departures?.refusedAfterTransitDelay ?? 0) }
        let transit = "\(heldInTransit) after time in transit (within the margin's share)"
        if report.passed {
            lines.append(report.ceiling != nil
                ? "PASS: no window over tier, nothing lost, every reference request answered 2xx."
                : report.storm != nil
                ? "PASS: no window over tier, no 130429 but the storms'\(heldInTransit > 0 ? " and " + transit : ""), every sender that met a storm backed off and came back to its tier in time, nothing lost."
                : report.inbound != nil
                ? "PASS: no window over tier counting incoming messages, no 130429\(heldInTransit > 0 ? " but " + transit : ""), every mean >= \(format1(100 * PacingAnalysis.meanFractionOfTierMin)) % of what incoming messages leave of the tier, every incoming message at the subscriber, nothing lost."
                : "PASS: no window over tier, no 130429\(heldInTransit > 0 ? " but " + transit : ""), every mean >= \(format1(100 * PacingAnalysis.meanFractionOfTierMin)) % of tier, nothing lost.")
        } else {
            lines.append("FAIL:")
            lines.append(contentsOf: report.failures.map { "  - " + $0 })
        }
        return lines
    }

    /// `1065900000 left: most 80 in 1 s, transit p50 0.6 / p99 1.3 / max 9.5 ms; 1 x 130429 after time in transit (held up to 9.5 ms)`
    static func departureLine(_ sender: String, _ d: SenderDepartures) -> String {
        var line = "\(sender) left: most \(d.maxInOneSecond) in 1 s, transit p50 \(format1(d.transitP50Milliseconds)) / p99 \(format1(d.transitP99Milliseconds)) / max \(format1(d.transitMaxMilliseconds)) ms"
        if d.refusedAfterTransitDelay > 0 {
            line += "; \(d.refusedAfterTransitDelay) x 130429 after time in transit (held up to \(format1(d.heldInTransitMaxMilliseconds ?? 0)) ms)"
        }
        if d.refusedOverTierAtDeparture > 0 { line += "; \(d.refusedOverTierAtDeparture) x 130429 over the tier at departure" }
        if d.refusedUnplaced > 0 { line += "; \(d.refusedUnplaced) x 130429 outside the record" }
        return line
    }

    /// `1065900000 at 12.3 s: 41 x 130429, 80.0 -> 10.0 msg/s, at tier again 15.2 s after (bound 19.5 s): recovered`
    static func stormLine(_ sender: String, _ e: StormEpisode) -> String {
        var line = "\(sender) at \(format1(e.startSeconds)) s: \(e.answers) x 130429, \(format1(e.rateBefore)) -> \(format1(e.lowestRate)) msg/s"
        if let back = e.recoveredAfterSeconds { line += ", at tier again \(format1(back)) s after" }
        line += " (bound \(format1(e.recoveryBoundSeconds)) s): " + e.outcome.rawValue.replacingOccurrences(of: "_", with: " ")
        return line
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        if s.count >= width { return right ? " " + s : s + " " }
        let fill = String(repeating: " ", count: width - s.count)
        return right ? fill + s : s + fill
    }
}
