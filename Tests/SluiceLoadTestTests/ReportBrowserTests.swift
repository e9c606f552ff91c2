import Foundation
import Testing

@testable import SluiceLoadTest

/// Opens report.html in a real browser (headless Chromium, installed by scripts/bootstrap)
/// and checks that the charts are laid out and drawn, not merely present in the text.
@Suite(.timeLimit(.minutes(2)))
struct ReportBrowserTests {
    /// What the probe script found for one `<svg role="img">`.
    struct ChartLayout: Decodable {
        var label: String
        var width: Double
        var height: Double
        /// Elements of each kind whose rendered bounding box is not empty.
        var bars: Int
        var tierLines: Int
        var curves: Int
    }

    /// Runs after the charts are parsed; `getBBox` forces layout, so a chart that the
    /// browser could not draw reports zero-sized elements.
    static let probe = """
        <script>
        const charts = [...document.querySelectorAll('svg[role=img]')].map(svg => {
          const box = svg.getBoundingClientRect();
          const drawn = selector => [...svg.querySelectorAll(selector)]
            .filter(e => { const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length;
          return { label: svg.getAttribute('aria-label'), width: box.width, height: box.height,
                   bars: drawn('rect.bar'), tierLines: drawn('line.tier-line'), curves: drawn('polyline.curve') };
        });
        document.body.setAttribute('data-layout', JSON.stringify(charts));
        </script>
        """

    @Test func chromiumDrawsEveryChart() async throws {
        let report = ReportRendererTests().sampleReport()
        let html = ReportRenderer.html(report)
        let closing = try #require(html.range(of: "</body>"), "report.html ends its body")
        let probed = html.replacingCharacters(in: closing.lowerBound..<closing.lowerBound, with: Self.probe)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-report-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("report.html")
        try Data(probed.utf8).write(to: page)

        let dom = try await Self.dumpDOM(page, profile: directory.appendingPathComponent("profile").path)
        let charts = try Self.layout(fromDOM: dom)

        // The latency chart comes first, then one arrivals chart per sender.
        #expect(charts.count == report.senders.count + 1)
        for chart in charts {
            #expect(chart.width > 100 && chart.height > 50, "\(chart.label) is laid out")
        }
        let latency = try #require(charts.first)
        #expect(latency.label.hasPrefix("latency"))
        #expect(latency.curves >= 1)
        for (chart, sender) in zip(charts.dropFirst(), report.senders) {
            #expect(chart.label.contains(sender.pacing.phoneNumberID))
            #expect(chart.tierLines == 1, "\(chart.label) draws its tier line")
            #expect(chart.bars == sender.pacing.arrivalsPerSecond.filter { $0 > 0 }.count, "\(chart.label) draws a bar per busy second")
        }
    }

    /// The `data-layout` attribute the probe wrote, HTML-unescaped and decoded.
    static func layout(fromDOM dom: String) throws -> [ChartLayout] {
        let marker = "data-layout=\""
        let start = try #require(dom.range(of: marker), "the probe ran (no data-layout in the dumped DOM)")
        let rest = dom[start.upperBound...]
        let end = try #require(rest.firstIndex(of: "\""))
        let json = rest[..<end]
            .replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
        return try JSONDecoder().decode([ChartLayout].self, from: Data(json.utf8))
    }

    /// `chromium --headless --dump-dom`, bounded to 60 s.
    static func dumpDOM(_ page: URL, profile: String) async throws -> String {
        let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        let browser = try #require(
            candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
            "no headless browser: run scripts/bootstrap (installs Debian's chromium)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=\(profile)", "--dump-dom", page.absoluteString,
        ]
        let output = directoryFile(profile + ".out")
        let errors = directoryFile(profile + ".err")
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        // Awaited, not slept: a blocked thread would stall the tests beside this one.
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            process.terminate()
            while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
            Issue.record("chromium did not finish within 60 s")
        }
        let dom = try String(contentsOf: output, encoding: .utf8)
        if process.terminationStatus != 0 || dom.isEmpty {
            let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            Issue.record("chromium exited \(process.terminationStatus): \(stderr.suffix(2000))")
        }
        return dom
    }

    private static func directoryFile(_ path: String) -> URL {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return URL(fileURLWithPath: path)
    }
}
