import Foundation
import SluiceEngine
import SluiceTransport
import TOMLKit

/// The settings of `sluice serve`: defaults, overridden by the TOML file given with
/// `--config`, overridden by flags. One schema: the keys are the flags' names with `_`.
public struct ServeSettings: Equatable, Sendable {
    public var dataDir = "./sluice-data"
    public var listen = ListenAddress(host: "127.0.0.1", port: 8080)
    public var graphURL = "https://graph.facebook.com"
    public var graphVersion = "v21.0"
    public var caFile: String?
    public var inDoubtSettleSeconds: Double = 600
    /// Most connections to the endpoint host (opened as needed); nil: by protocol, see
    /// `connectionsPerHostInForce`.
    public var connectionsPerHost: Int?
    public var requestTimeoutMilliseconds = 15_000
    public var httpVersion = "2"
    public var pacingMargin = EngineConfiguration.defaultPacingMargin
    /// Open each sender's connections ahead of its messages (see `EngineConfiguration.warmStart`).
    public var warmStart = true
    /// Least milliseconds between two messages of one sender to the same recipient.
    public var pairSpacingMilliseconds = 6_000
    /// The `hub.verify_token` Meta must present to subscribe this server's webhook URL.
    public var webhookVerifyToken: String?
    /// PEM certificate chain and private key: the API is served over TLS when both are set.
    public var tlsCert: String?
    public var tlsKey: String?
    /// A `sent` message with no further status this long after the send ends `unknown`.
    public var statusDeadlineHours: Double = 24
    /// Free space (MB) the journal's disk keeps for outcomes: intake answers 507 below it.
    public var intakeReserveMegabytes: Double = 128
    /// Days after its last change a finished campaign is removed with its messages (0: kept
    /// forever).
    public var retentionDays: Double = 30
    /// A connection silent this long is closed; a request body gets this long plus one
    /// second per `bodyMinRate` bytes (see ``SlowClientGuard``).
    public var clientIdleSeconds: Double = SlowClientGuard.default.idleSeconds
    /// Bytes per second a request body must keep up (0: no rate check).
    public var bodyMinRate: Int = SlowClientGuard.default.bodyMinBytesPerSecond
    /// API connections one client address may hold open at once (0: no cap); one more is
    /// answered 429 `too_many_connections` and closed.
    public var maxConnectionsPerClient: Int = SlowClientGuard.default.maxConnectionsPerClient

    public static let keys: Set<String> = [
        "data_dir", "listen", "graph_url", "graph_version", "ca_file", "in_doubt_settle_seconds",
        "connections_per_host", "request_timeout_ms", "http_version", "pacing_margin", "webhook_verify_token",
        "tls_cert", "tls_key", "pair_spacing_ms", "status_deadline_hours", "intake_reserve_mb", "retention_days",
        "client_idle_seconds", "body_min_rate", "max_connections_per_client", "warm_start",
    ]

    /// `connections_per_host`, or by protocol: HTTP/2 carries 100 requests a connection,
    /// HTTP/1.1 one.
    public var connectionsPerHostInForce: Int {
        connectionsPerHost ?? (httpVersion == "1.1" ? EngineConfiguration.connectionsPerHostMaxHTTP1 : EngineConfiguration.connectionsPerHostMax)
    }

    /// Highest `connections_per_host` accepted (each is a file descriptor and a TLS session).
    public static let connectionsMax = 4_096

    public init() {}

    /// Applies a TOML document; unknown keys and wrong types are errors that name the key.
    public mutating func apply(toml text: String, source: String) throws {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch {
            throw SettingsError("\(source) is not valid TOML: \(error)")
        }
        for key in table.keys where !Self.keys.contains(key) {
            throw SettingsError("\(source): unknown setting '\(key)' (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = table[key] else { return nil }
            guard let s = value.string else { throw SettingsError("\(source): \(key) must be a string") }
            return s
        }
        func int(_ key: String) throws -> Int? {
            guard let value = table[key] else { return nil }
            guard let i = value.int else { throw SettingsError("\(source): \(key) must be an integer") }
            return i
        }
        if let v = try string("data_dir") { dataDir = v }
        if let v = try string("listen") { listen = try ListenAddress(parsing: v) }
        if let v = try string("graph_url") { graphURL = v }
        if let v = try string("graph_version") { graphVersion = v }
        if let v = try string("ca_file") { caFile = v }
        if let value = table["in_doubt_settle_seconds"] {
            guard let d = value.double ?? value.int.map(Double.init) else { throw SettingsError("\(source): in_doubt_settle_seconds must be a number") }
            inDoubtSettleSeconds = d
        }
        if let v = try int("connections_per_host") { connectionsPerHost = v }
        if let v = try int("request_timeout_ms") { requestTimeoutMilliseconds = v }
        if let v = try string("http_version") { httpVersion = v }
        if let v = try string("webhook_verify_token") { webhookVerifyToken = v }
        if let v = try int("pair_spacing_ms") { pairSpacingMilliseconds = v }
        if let v = try string("tls_cert") { tlsCert = v }
        if let v = try string("tls_key") { tlsKey = v }
        if let value = table["intake_reserve_mb"] {
            guard let d = value.double ?? value.int.map(Double.init) else { throw SettingsError("\(source): intake_reserve_mb must be a number") }
            intakeReserveMegabytes = d
        }
        if let value = table["retention_days"] {
            guard let d = value.double ?? value.int.map(Double.init) else { throw SettingsError("\(source): retention_days must be a number") }
            retentionDays = d
        }
        if let value = table["client_idle_seconds"] {
            guard let d = value.double ?? value.int.map(Double.init) else { throw SettingsError("\(source): client_idle_seconds must be a number") }
            clientIdleSeconds = d
        }
        if let v = try int("body_min_rate") { bodyMinRate = v }
        if let v = try int("max_connections_per_client") { maxConnectionsPerClient = v }
        if let value = table["status_deadline_hours"] {
            guard let d = value.double ?? value.int.map(Double.init) else { throw SettingsError("\(source): status_deadline_hours must be a number") }
            statusDeadlineHours = d
        }
        if let value = table["warm_start"] {
            guard let b = value.bool else { throw SettingsError("\(source): warm_start must be true or false") }
            warmStart = b
        }
        if let value = table["pacing_margin"] {
            guard let d = value.double else { throw SettingsError("\(source): pacing_margin must be a number such as 0.01") }
            pacingMargin = d
        }
    }

    public func validate() throws {
        guard graphURL.hasPrefix("https://") || graphURL.hasPrefix("http://") else {
            throw SettingsError("graph-url '\(graphURL)' must start with https:// (or http:// for a local endpoint)")
        }
        guard graphVersion.hasPrefix("v"), Double(graphVersion.dropFirst()) != nil else {
            throw SettingsError("graph-version '\(graphVersion)' must look like v21.0")
        }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw SettingsError("ca-file '\(caFile)' does not exist or is not readable")
        }
        guard inDoubtSettleSeconds >= 0, inDoubtSettleSeconds <= 7 * 86_400 else {
            throw SettingsError("in-doubt-settle must be between 0 and 604800 seconds")
        }
        guard intakeReserveMegabytes >= 0, intakeReserveMegabytes <= 1_000_000 else {
            throw SettingsError("intake_reserve_mb must be from 0 to 1000000, got \(intakeReserveMegabytes)")
        }
        guard retentionDays >= 0, retentionDays <= 36_500 else {
            throw SettingsError("retention-days must be from 0 (keep forever) to 36500, got \(retentionDays)")
        }
        guard clientIdleSeconds >= 1, clientIdleSeconds <= 3600 else {
            throw SettingsError("client-idle-seconds must be from 1 to 3600, got \(clientIdleSeconds)")
        }
        guard maxConnectionsPerClient >= 0, maxConnectionsPerClient <= 1_000_000 else {
            throw SettingsError("max-connections-per-client must be from 0 (no cap) to 1000000, got \(maxConnectionsPerClient)")
        }
        guard bodyMinRate >= 0, bodyMinRate <= 100_000_000 else {
            throw SettingsError("body-min-rate must be from 0 (no check) to 100000000 bytes/s, got \(bodyMinRate)")
        }
        guard statusDeadlineHours > 0, statusDeadlineHours <= 720 else {
            throw SettingsError("status-deadline-hours must be more than 0 and at most 720 (30 days)")
        }
        if let connectionsPerHost, !(1...Self.connectionsMax).contains(connectionsPerHost) {
            throw SettingsError("connections must be between 1 and \(Self.connectionsMax), got \(connectionsPerHost)")
        }
        guard (0...86_400_000).contains(pairSpacingMilliseconds) else { throw SettingsError("pair-spacing-ms must be between 0 and 86400000") }
        guard (0...0.2).contains(pacingMargin) else { throw SettingsError("pacing-margin must be between 0 and 0.2 (a fraction of a second)") }
        guard ["1.1", "2"].contains(httpVersion) else { throw SettingsError("http-version must be 1.1 or 2, got '\(httpVersion)'") }
        guard (100...300_000).contains(requestTimeoutMilliseconds) else {
            throw SettingsError("request-timeout-ms must be between 100 and 300000")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw SettingsError("tls-cert and tls-key go together: give both or neither") }
        for (flag, path) in [("tls-cert", tlsCert), ("tls-key", tlsKey)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw SettingsError("\(flag) '\(path)' does not exist or is not readable")
            }
        }
    }

    /// The API server's limits on slow clients.
    public var slowClients: SlowClientGuard {
        SlowClientGuard(idleSeconds: clientIdleSeconds, bodyMinBytesPerSecond: bodyMinRate, maxConnectionsPerClient: maxConnectionsPerClient)
    }

    public func engineConfiguration() -> EngineConfiguration {
        var c = EngineConfiguration(dataDirectory: dataDir)
        c.graphURL = graphURL
        c.graphVersion = graphVersion
        c.transport.caFile = caFile
        c.transport.connectionsPerHostMax = connectionsPerHostInForce
        c.transport.requestTimeoutMilliseconds = requestTimeoutMilliseconds
        c.transport.httpVersion = httpVersion == "2" ? .http2 : .http1
        c.scheduler.safetyMargin = pacingMargin
        c.warmStart = warmStart
        c.pairSpacingMilliseconds = Int64(pairSpacingMilliseconds)
        c.outcome.inDoubtSettleMilliseconds = Int64(inDoubtSettleSeconds * 1000)
        c.statusDeadlineMilliseconds = max(1, Int64(statusDeadlineHours * 3_600_000))
        c.intakeFreeBytesMin = UInt64(intakeReserveMegabytes * 1_000_000)
        // A short deadline (tests) is checked often; a day-long one every 10 s.
        c.statusSweepIntervalMilliseconds = min(10_000, max(50, c.statusDeadlineMilliseconds / 4))
        c.retentionMilliseconds = Int64(retentionDays * 86_400_000)
        // A short period (tests) is looked at often; a month-long one every hour.
        c.retentionSweepIntervalMilliseconds = min(3_600_000, max(50, c.retentionMilliseconds / 4))
        return c
    }
}

/// `HOST:PORT`, `[::1]:PORT` or `:PORT`.
public struct ListenAddress: Equatable, Sendable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws {
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw SettingsError("listen address '\(text)' must look like HOST:PORT or [IPv6]:PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw SettingsError("listen address '\(text)' must look like HOST:PORT") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        if hostPart.isEmpty { hostPart = "127.0.0.1" }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw SettingsError("listen address '\(text)': port must be a number from 0 to 65535")
        }
        host = String(hostPart)
        self.port = port
    }
}

/// A setting that cannot be used, with the reason; the CLI prints it and exits non-zero.
public struct SettingsError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
