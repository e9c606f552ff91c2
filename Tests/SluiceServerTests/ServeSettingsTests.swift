import Foundation
import SluiceEngine
import SluiceServer
import Testing

@Suite struct ServeSettingsTests {
    @Test func retentionDaysFeedTheEngineAndAreBounded() throws {
        #expect(ServeSettings().engineConfiguration().retentionMilliseconds == 30 * 86_400_000)
        var s = ServeSettings()
        try s.apply(toml: "retention_days = 0.5", source: "test.toml")
        try s.validate()
        #expect(s.engineConfiguration().retentionMilliseconds == 43_200_000)
        #expect(s.engineConfiguration().retentionSweepIntervalMilliseconds == 3_600_000)
        try s.apply(toml: "retention_days = 0", source: "test.toml")
        #expect(s.engineConfiguration().retentionMilliseconds == 0)
        s.retentionDays = -1
        #expect(throws: SettingsError.self) { try s.validate() }
        #expect(throws: SettingsError.self) { try s.apply(toml: #"retention_days = "long""#, source: "test.toml") }
    }

    @Test func slowClientLimitsHaveDefaultsAndBounds() throws {
        #expect(ServeSettings().slowClients == SlowClientGuard(idleSeconds: 30, bodyMinBytesPerSecond: 500, maxConnectionsPerClient: 256))
        var s = ServeSettings()
        try s.apply(toml: "client_idle_seconds = 5\nbody_min_rate = 0\nmax_connections_per_client = 0", source: "test.toml")
        try s.validate()
        #expect(s.slowClients == SlowClientGuard(idleSeconds: 5, bodyMinBytesPerSecond: 0, maxConnectionsPerClient: 0))
        s.maxConnectionsPerClient = -1
        #expect(throws: SettingsError.self) { try s.validate() }
        s.maxConnectionsPerClient = 10
        #expect(s.slowClients.channelConfiguration.idleTimeout == .seconds(5))
        for idle: Double in [0, 0.5, 3601] {
            s = ServeSettings()
            s.clientIdleSeconds = idle
            #expect(throws: SettingsError.self, "client_idle_seconds \(idle)") { try s.validate() }
        }
        s = ServeSettings()
        s.bodyMinRate = -1
        #expect(throws: SettingsError.self) { try s.validate() }
        #expect(throws: SettingsError.self) { try s.apply(toml: #"body_min_rate = "fast""#, source: "test.toml") }
    }

    @Test func tomlOverridesDefaultsAndFeedsTheEngine() throws {
        var s = ServeSettings()
        try s.apply(toml: """
            data_dir = "/var/lib/sluice"
            listen = "0.0.0.0:9090"
            graph_url = "https://127.0.0.1:9443"
            graph_version = "v22.0"
            in_doubt_settle_seconds = 30
            connections_per_host = 16
            request_timeout_ms = 5000
            http_version = "1.1"
            pacing_margin = 0.02
            status_deadline_hours = 0.5
            warm_start = false
            """, source: "test.toml")
        try s.validate()
        #expect(s.listen == ListenAddress(host: "0.0.0.0", port: 9090))
        let engine = s.engineConfiguration()
        #expect(engine.dataDirectory == "/var/lib/sluice")
        #expect(engine.graphURL == "https://127.0.0.1:9443")
        #expect(engine.graphVersion == "v22.0")
        #expect(engine.outcome.inDoubtSettleMilliseconds == 30_000)
        #expect(engine.transport.connectionsPerHostMax == 16)
        #expect(engine.transport.requestTimeoutMilliseconds == 5_000)
        #expect(engine.transport.httpVersion == .http1)
        #expect(engine.scheduler.safetyMargin == 0.02)
        #expect(engine.statusDeadlineMilliseconds == 1_800_000)
        #expect(!engine.warmStart)
        let defaults = ServeSettings().engineConfiguration()
        #expect(defaults.statusDeadlineMilliseconds == 24 * 3_600_000)
        #expect(defaults.transport.httpVersion == .http2)
        #expect(defaults.transport.connectionsPerHostMax == EngineConfiguration.connectionsPerHostMax)
        var http1 = ServeSettings()
        http1.httpVersion = "1.1"
        #expect(http1.engineConfiguration().transport.connectionsPerHostMax == EngineConfiguration.connectionsPerHostMaxHTTP1)
        #expect(defaults.scheduler.sizesInFlightFromLatency)
        #expect(defaults.warmStart)
    }

    @Test func badSettingsAreNamed() throws {
        let cases: [(String, String)] = [
            ("colour = 1", "unknown setting 'colour'"),
            ("listen = 8080", "listen must be a string"),
            ("connections_per_host = \"many\"", "connections_per_host must be an integer"),
            ("warm_start = \"yes\"", "warm_start must be true or false"),
            ("data_dir = ", "not valid TOML"),
        ]
        for (toml, expected) in cases {
            var s = ServeSettings()
            do {
                try s.apply(toml: toml, source: "bad.toml")
                Issue.record("accepted: \(toml)")
            } catch {
                #expect("\(error)".contains(expected), "\(toml) → \(error)")
                #expect("\(error)".contains("bad.toml"))
            }
        }
        var s = ServeSettings()
        s.graphVersion = "21"
        #expect(throws: SettingsError.self) { try s.validate() }
        s = ServeSettings()
        s.httpVersion = "3"
        #expect(throws: SettingsError.self) { try s.validate() }
        s = ServeSettings()
        s.caFile = "/nonexistent/ca.pem"
        #expect(throws: SettingsError.self) { try s.validate() }
        for hours: Double in [0, -1, 721] {
            s = ServeSettings()
            s.statusDeadlineHours = hours
            #expect(throws: SettingsError.self) { try s.validate() }
        }
    }

    @Test func listenAddressesParse() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:0") == ListenAddress(host: "127.0.0.1", port: 0))
        #expect(try ListenAddress(parsing: "[::1]:8080") == ListenAddress(host: "::1", port: 8080))
        #expect(try ListenAddress(parsing: ":8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(throws: SettingsError.self) { try ListenAddress(parsing: "localhost") }
        #expect(throws: SettingsError.self) { try ListenAddress(parsing: "127.0.0.1:70000") }
    }

    @Test func flagsAreReadFromTheTable() throws {
        var s = ServeSettings()
        try s.apply(arguments: ["--listen", "[::1]:9090", "--retention-days=0.5", "--no-warm-start", "--connections", "8", "--ca-file", "/etc/hostname"])
        try s.validate()
        #expect(s.listen == ListenAddress(host: "::1", port: 9090))
        #expect(s.retentionDays == 0.5 && !s.warmStart && s.connectionsPerHost == 8 && s.caFile == "/etc/hostname")
        try s.apply(arguments: ["--warm-start"])
        #expect(s.warmStart)
        let refused: [([String], String)] = [
            (["--listen"], "--listen needs a value"),
            (["--retention-days", "soon"], "--retention-days must be a number, got 'soon'"),
            (["--connections", "8.5"], "--connections must be an integer"),
            (["--colour", "1"], "unknown option '--colour'"),
            (["--no-listen"], "unknown option '--no-listen'"),
            (["8080"], "unexpected argument '8080'"),
        ]
        for (arguments, expected) in refused {
            var t = ServeSettings()
            #expect(throws: SettingsError.self, "\(arguments)") { try t.apply(arguments: arguments) }
            do { try t.apply(arguments: arguments) } catch { #expect(error.description.contains(expected), "\(arguments) → \(error)") }
        }
        var t = ServeSettings()
        try t.apply(arguments: ["--pacing-margin", "0.5"])
        do {
            try t.validate()
            Issue.record("pacing margin 0.5 passed")
        } catch {
            #expect(error.description == "--pacing-margin (pacing_margin) must be from 0 to 0.2, got 0.5")
        }
    }

    /// Each default, given back as a flag and as a TOML value, reads as itself: what the
    /// README and `--help` show as the default is the default.
    @Test func eachDefaultReadsBackAsItself() throws {
        let defaults = ServeSettings()
        for setting in ServeSettings.table {
            guard let text = setting.read(defaults) else { continue }
            var flagged = defaults
            try flagged.apply(arguments: setting.kind == .boolean ? ["--\(setting.flag)=\(text)"] : ["--\(setting.flag)", text])
            #expect(flagged == defaults, "--\(setting.flag) \(text)")
            var tomlled = defaults
            let value = setting.kind == .string ? "\"\(text)\"" : text
            try tomlled.apply(toml: "\(setting.key) = \(value)", source: "defaults.toml")
            #expect(tomlled == defaults, "\(setting.key) = \(value)")
        }
        try defaults.validate()
        #expect(Set(ServeSettings.table.map(\.flag)).count == ServeSettings.table.count)
    }

    @Test func theReadmeListsEverySetting() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md").standardizedFileURL
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "<!-- settings: ServeSettings.table"))
        let body = try #require(text.range(of: "-->\n", range: start.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "\n<!-- end of settings -->", range: body.upperBound..<text.endIndex))
        let table = String(text[body.upperBound..<end.lowerBound])
        #expect(table == ServeSettings.markdownTable, "README.md's settings table differs from ServeSettings.table; it should read:\n\(ServeSettings.markdownTable)")
    }
}
