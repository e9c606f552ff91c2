import Foundation

extension ReportRenderer {
    /// Chart size in SVG user units.
    static let chartWidth = 640.0
    static let chartHeight = 220.0
    /// Room for axis labels.
    static let marginLeft = 56.0
    static let marginBottom = 32.0
    static let marginTop = 14.0
    static let marginRight = 14.0
    /// The latency curve's x axis ends at 99.999 % (log scale of 1 / (1 − p)).
    static let percentileAxisNinesMax = 5.0
    /// Line colours for latency series, reused in turn.
    static let seriesColours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// A self-contained HTML page: inline CSS and SVG, no scripts, nothing fetched from
    /// the network. One arrivals-per-second chart per sender with its tier line, and one
    /// latency percentile curve for the run. The page is well-formed XML (XHTML syntax),
    /// so a test can parse it.
    public static func html(_ report: LoadTestReport) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"/><title>Sluice load test</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:72em}
            table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
            th{background:#f4f4f4}td.l,th.l{text-align:left}.fail{color:#b00;font-weight:bold}.ok{color:#070}
            svg{background:#fcfcfc;border:1px solid #ddd;margin:.5em 0}
            .bar{fill:#6a9fd4}.tier-line{stroke:#c00;stroke-width:1.5;stroke-dasharray:6 4}
            .axis{stroke:#555;stroke-width:1}.grid{stroke:#e4e4e4;stroke-width:1}text{font-size:11px;fill:#444}
            .curve{fill:none;stroke-width:2}.storm{fill:#f3c9c9;opacity:.6}.paced{fill:none;stroke:#2a2;stroke-width:2}
            </style></head><body>

            """
        h += "<h1>Sluice load test</h1>\n"
        h += "<p>" + (report.passed ? "<span class=\"ok\">PASS</span>" : "<span class=\"fail\">FAIL</span>")
        h += " &#183; started \(escape(report.startedAt)) &#183; \(report.seconds) s per campaign &#183; \(escape(report.mode)) processes"
        h += " &#183; wall \(format1(report.wallSeconds)) s</p>\n"
        h += "<p><code>\(escape(report.command))</code></p>\n"
        if !report.failures.isEmpty {
            h += "<ul class=\"fail\">" + report.failures.map { "<li>\(escape($0))</li>" }.joined() + "</ul>\n"
        }
        h += "<h2>Senders (measured at the endpoint)</h2>\n<table><tr><th class=\"l\">sender</th><th>tier</th><th>accepted</th><th>arrived</th>"
        h += "<th>duplicates</th><th>lost</th><th>max in 1 s</th><th>mean msg/s</th><th>of tier</th><th>130429</th><th>behind p99 ms</th><th>verdict</th></tr>\n"
        for s in report.senders {
            let p = s.pacing
            h += "<tr><td class=\"l\">\(escape(p.phoneNumberID))</td><td>\(p.tier)</td><td>\(p.accepted)</td><td>\(p.arrivals)</td>"
            h += "<td>\(p.duplicates)</td><td>\(p.lost)</td><td>\(p.maxInOneSecond)</td><td>\(format1(p.meanRate))</td>"
            h += "<td>\(format1(100 * p.meanFractionOfTier)) %</td><td>\(p.throttled130429)</td><td>\(format1(s.latency.behindSchedule.p99Milliseconds))</td>"
            h += p.passed ? "<td class=\"ok\">ok</td></tr>\n" : "<td class=\"fail\">FAIL</td></tr>\n"
        }
        h += "</table>\n"
        let departed = report.senders.compactMap { s in s.pacing.departures.map { (s.pacing.phoneNumberID, $0) } }
        if !departed.isEmpty {
            h += "<p>As the requests left the dispatcher (its departure record, against the endpoint's stamps):</p><ul>"
            h += departed.map { "<li>\(escape(ReportRenderer.departureLine($0.0, $0.1)))</li>" }.joined() + "</ul>\n"
        }
        let t = report.totals
        h += "<p>Total: \(t.arrivals) arrivals of \(t.accepted) accepted, \(format1(t.messagesPerSecond)) msg/s, \(t.duplicates) duplicates, \(t.lost) lost, \(t.throttled130429) &#215; 130429, \(t.inDoubt ?? 0) in doubt at the dispatcher."
        if let d = report.dispatcher {
            h += " Dispatcher: \(format2(d.cpuSeconds)) CPU s, \(format2(d.cpuSecondsPer1000Messages)) CPU s per 1000 messages, peak RSS \(format1(Double(d.peakRSSBytes) / 1_048_576)) MiB."
        }
        h += "</p>\n"
        if let c = report.ceiling { h += ceilingSection(c) }
        h += "<h2>Latency</h2>\n<table><tr><th class=\"l\">view</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>\n"
        var views = [("behind the tier's schedule (coordinated-omission free)", report.latency.behindSchedule),
                     ("accepted &#8594; arrival (sent)", report.latency.acceptedToArrival)]
        if let delivered = report.latency.acceptedToDelivered {
            views.append(("accepted &#8594; delivered (webhook acknowledged; \(report.latency.undelivered ?? 0) undelivered)", delivered))
        }
        for (name, summary) in views {
            h += "<tr><td class=\"l\">\(name)</td><td>\(summary.count)</td><td>\(format1(summary.p50Milliseconds))</td><td>\(format1(summary.p90Milliseconds))</td>"
            h += "<td>\(format1(summary.p99Milliseconds))</td><td>\(format1(summary.p999Milliseconds))</td><td>\(format1(summary.maxMilliseconds))</td></tr>\n"
        }
        h += "</table>\n"
        h += latencyChart(report) + "\n"
        if let schedule = report.storm { h += stormSection(report, schedule) }
        h += "<h2>Arrivals per second against the tier</h2>\n"
        for s in report.senders {
            h += "<h3>\(escape(s.pacing.phoneNumberID)) &#183; tier \(s.pacing.tier) msg/s</h3>\n" + arrivalsChart(s.pacing, storm: s.storm) + "\n"
        }
        h += "</body></html>\n"
        return h
    }

    /// Each storm window each sender met: answers, paced rate before and at its lowest,
    /// and how long it took to be paced at its tier again.
    static func stormSection(_ report: LoadTestReport, _ schedule: StormSchedule) -> String {
        var h = "<h2>130429 storms</h2>\n<p>The mock answered every send 130429 for \(format1(Double(schedule.durationMilliseconds) / 1_000)) s of every "
        h += "\(format1(Double(schedule.everyMilliseconds) / 1_000)) s (shaded in the charts below; the green line is the rate the dispatcher paced at).</p>\n"
        h += "<table><tr><th class=\"l\">sender</th><th>storm at s</th><th>130429</th><th>paced before</th><th>lowest</th><th>at tier again after s</th><th>bound s</th><th class=\"l\">outcome</th></tr>\n"
        for s in report.senders {
            for e in s.storm?.episodes ?? [] where e.outcome != .notMet {
                let ok = e.outcome == .recovered || e.outcome == .notObserved
                h += "<tr><td class=\"l\">\(escape(s.pacing.phoneNumberID))</td><td>\(format1(e.startSeconds))</td><td>\(e.answers)</td>"
                h += "<td>\(format1(e.rateBefore))</td><td>\(format1(e.lowestRate))</td><td>\(e.recoveredAfterSeconds.map(format1) ?? "")</td>"
                h += "<td>\(format1(e.recoveryBoundSeconds))</td><td class=\"l \(ok ? "ok" : "fail")\">\(e.outcome.rawValue.replacingOccurrences(of: "_", with: " "))</td></tr>\n"
            }
        }
        return h + "</table>\n"
    }

    /// The dispatcher's rate next to the reference client's, and their ratio.
    static func ceilingSection(_ c: CeilingReport) -> String {
        let r = c.reference
        var h = "<h2>Ceiling</h2>\n<p>\(c.senders) senders at tier \(LoadTestPlan.ceilingTier), unlimited at the mock, "
        h += "\(c.connections) connections, \(c.offeredMessages) messages each way.</p>\n"
        h += "<table><tr><th class=\"l\">client</th><th>rate /s</th><th>succeeded</th><th>failed</th><th>2xx</th></tr>\n"
        h += "<tr><td class=\"l\">sluice (durable journal, TLS, \(c.protocolName))</td><td>\(format1(c.sluiceMessagesPerSecond))</td><td></td><td></td><td></td></tr>\n"
        h += "<tr><td class=\"l\">reference: h2load, \(c.connections) connection(s), same mock, same protocol</td><td>\(format1(r.requestsPerSecond))</td><td>\(r.succeeded)</td><td>\(r.failed)</td><td>\(r.status2xx)</td></tr>\n"
        h += "</table>\n<p>Ratio: <b>\(format1(100 * c.ratio)) %</b> of the reference (target \(format1(100 * CeilingReport.ratioTarget)) %).</p>\n"
        return h
    }

    /// Bars of arrivals in each second since acceptance, and the tier as a dashed line.
    static func arrivalsChart(_ pacing: SenderPacing, storm: SenderStorm? = nil) -> String {
        let counts = pacing.arrivalsPerSecond
        let plotW = chartWidth - marginLeft - marginRight
        let plotH = chartHeight - marginTop - marginBottom
        let yMax = max(Double(pacing.tier) * 1.15, Double(counts.max() ?? 0) * 1.05, 1)
        let slots = max(counts.count, 1)
        let barW = plotW / Double(slots)
        func y(_ v: Double) -> Double { marginTop + plotH * (1 - v / yMax) }
        var svg = svgOpen(label: "arrivals per second for sender \(pacing.phoneNumberID), tier \(pacing.tier)")
        svg += axes(yMax: yMax, yUnit: "msg/s")
        for (k, c) in counts.enumerated() where c > 0 {
            let top = y(Double(c))
            svg += "<rect class=\"bar\" x=\"\(n(marginLeft + Double(k) * barW + barW * 0.1))\" y=\"\(n(top))\" width=\"\(n(barW * 0.8))\" height=\"\(n(marginTop + plotH - top))\"><title>second \(k): \(c)</title></rect>"
        }
        if let storm {
            // Storm windows shaded, and the paced rate the harness sampled as a line.
            for e in storm.episodes {
                let x0 = marginLeft + max(0, e.startSeconds) * barW
                let x1 = min(marginLeft + plotW, marginLeft + (e.startSeconds + e.durationSeconds) * barW)
                guard x1 > x0 else { continue }
                svg += "<rect class=\"storm\" x=\"\(n(x0))\" y=\"\(n(marginTop))\" width=\"\(n(x1 - x0))\" height=\"\(n(plotH))\"><title>storm at \(format1(e.startSeconds)) s</title></rect>"
            }
            let points = storm.rateSeries.compactMap { p -> String? in
                guard p.count == 2, p[0] >= 0, p[0] <= Double(slots) else { return nil }
                return "\(n(marginLeft + p[0] * barW)),\(n(y(p[1])))"
            }
            if points.count > 1 { svg += "<polyline class=\"paced\" points=\"\(points.joined(separator: " "))\"><title>paced rate (effective_mps)</title></polyline>" }
        }
        let tierY = y(Double(pacing.tier))
        svg += "<line class=\"tier-line\" x1=\"\(n(marginLeft))\" y1=\"\(n(tierY))\" x2=\"\(n(marginLeft + plotW))\" y2=\"\(n(tierY))\"/>"
        svg += "<text x=\"\(n(marginLeft + plotW - 4))\" y=\"\(n(tierY - 4))\" text-anchor=\"end\">tier \(pacing.tier)</text>"
        svg += "<text x=\"\(n(marginLeft + plotW / 2))\" y=\"\(n(chartHeight - 4))\" text-anchor=\"middle\">seconds since the campaign was accepted (0–\(counts.count))</text>"
        return svg + "</svg>"
    }

    /// Percentile curves of lateness behind the schedule: the run and each sender.
    static func latencyChart(_ report: LoadTestReport) -> String {
        var series: [(String, [PercentilePoint])] = [("all senders", report.latency.behindSchedule.curve)]
        for s in report.senders { series.append(("\(s.pacing.phoneNumberID) (tier \(s.pacing.tier))", s.latency.behindSchedule.curve)) }
        let plotW = chartWidth - marginLeft - marginRight
        let plotH = chartHeight - marginTop - marginBottom
        let yMax = max(series.flatMap { $0.1.map(\.milliseconds) }.max() ?? 0, 1) * 1.05
        func x(_ percentile: Double) -> Double {
            let nines = min(-log10(max(1 - percentile / 100, pow(10, -percentileAxisNinesMax))), percentileAxisNinesMax)
            return marginLeft + plotW * nines / percentileAxisNinesMax
        }
        var svg = svgOpen(label: "latency behind schedule by percentile")
        svg += axes(yMax: yMax, yUnit: "ms")
        for (label, tick) in [("0 %", 0.0), ("90 %", 90), ("99 %", 99), ("99.9 %", 99.9), ("99.99 %", 99.99), ("99.999 %", 99.999)] {
            svg += "<text x=\"\(n(x(tick)))\" y=\"\(n(marginTop + plotH + 14))\" text-anchor=\"middle\">\(label)</text>"
        }
        for (i, (label, points)) in series.enumerated() where !points.isEmpty {
            let colour = seriesColours[i % seriesColours.count]
            let coordinates = points.map { "\(n(x($0.percentile))),\(n(marginTop + plotH * (1 - $0.milliseconds / yMax)))" }.joined(separator: " ")
            svg += "<polyline class=\"curve\" stroke=\"\(colour)\" points=\"\(coordinates)\"><title>\(escape(label))</title></polyline>"
            svg += "<text x=\"\(n(marginLeft + 8))\" y=\"\(n(marginTop + 12 + Double(i) * 13))\" fill=\"\(colour)\" style=\"fill:\(colour)\">\(escape(label))</text>"
        }
        svg += "<text x=\"\(n(marginLeft + plotW / 2))\" y=\"\(n(chartHeight - 4))\" text-anchor=\"middle\">percentile (log scale of 1 / (1 − p)); y: ms behind the message's slot on the tier's schedule</text>"
        return svg + "</svg>"
    }

    private static func svgOpen(label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(chartWidth))\" height=\"\(n(chartHeight))\" viewBox=\"0 0 \(n(chartWidth)) \(n(chartHeight))\" role=\"img\" aria-label=\"\(escape(label))\">"
    }

    /// The two axes, four horizontal grid lines with their values.
    private static func axes(yMax: Double, yUnit: String) -> String {
        let plotW = chartWidth - marginLeft - marginRight
        let plotH = chartHeight - marginTop - marginBottom
        var svg = ""
        for step in 1...4 {
            let v = yMax * Double(step) / 4
            let yy = marginTop + plotH * (1 - Double(step) / 4)
            svg += "<line class=\"grid\" x1=\"\(n(marginLeft))\" y1=\"\(n(yy))\" x2=\"\(n(marginLeft + plotW))\" y2=\"\(n(yy))\"/>"
            svg += "<text x=\"\(n(marginLeft - 4))\" y=\"\(n(yy + 4))\" text-anchor=\"end\">\(format1(v))</text>"
        }
        svg += "<line class=\"axis\" x1=\"\(n(marginLeft))\" y1=\"\(n(marginTop))\" x2=\"\(n(marginLeft))\" y2=\"\(n(marginTop + plotH))\"/>"
        svg += "<line class=\"axis\" x1=\"\(n(marginLeft))\" y1=\"\(n(marginTop + plotH))\" x2=\"\(n(marginLeft + plotW))\" y2=\"\(n(marginTop + plotH))\"/>"
        svg += "<text x=\"4\" y=\"\(n(marginTop + 4))\">\(yUnit)</text>"
        return svg
    }

    /// A coordinate with one decimal.
    private static func n(_ v: Double) -> String { format1(v) }

    /// Escapes text for HTML and XML.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
