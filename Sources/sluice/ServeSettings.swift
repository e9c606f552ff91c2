import ArgumentParser
import Foundation
import SluiceEngine
import SluiceTransport
import TOMLKit

/// The settings of `sluice serve`: defaults, overridden by the TOML file given with
/// `--config`, overridden by flags. One schema: the keys are the flags' names with `_`.
struct ServeSettings: Equatable {
    var dataDir = "./sluice-data"
    var listen = ListenAddress(host: "127.0.0.1", port: 8080)
    var graphURL = "https://graph.facebook.com"
    var graphVersion = "v21.0"
    var caFile: String?
    var inDoubtSettleSeconds: Double = 600
    var connectionsPerHost = 64
    var requestTimeoutMilliseconds = 15_000
    var httpVersion = "1.1"
    var pacingMargin = EngineConfiguration.defaultPacingMargin


    static let keys: Set<String> = [
        "data_dir", "listen", "graph_url", "graph_version", "ca_file", "in_doubt_settle_seconds",
        "connections_per_host", "request_timeout_ms", "http_version", "pacing_margin",
    ]

    /// Applies a TOML document; unknown keys and wrong types are errors that name the key.
    mutating func apply(toml text: String, source: String) throws {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch {
            throw ValidationError("\(source) is not valid TOML: \(error)")
        }
        for key in table.keys where !Self.keys.contains(key) {
            throw ValidationError("\(source): unknown setting '\(key)' (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = table[key] else { return nil }
            guard let s = value.string else { throw ValidationError("\(source): \(key) must be a string") }
            return s
        }
        func int(_ key: String) throws -> Int? {
            guard let value = table[key] else { return nil }
            guard let i = value.int else { throw ValidationError("\(source): \(key) must be an integer") }
            return i
        }
        if let v = try string("data_dir") { dataDir = v }
        if let v = try string("listen") { listen = try ListenAddress(parsing: v) }
        if let v = try string("graph_url") { graphURL = v }
        if let v = try string("graph_version") { graphVersion = v }
        if let v = try string("ca_file") { caFile = v }
        if let value = table["in_doubt_settle_seconds"] {
            guard let d = value.double ?? value.int.map(Double.init) else { throw ValidationError("\(source): in_doubt_settle_seconds must be a number") }
            inDoubtSettleSeconds = d
        }
        if let v = try int("connections_per_host") { connectionsPerHost = v }
        if let v = try int("request_timeout_ms") { requestTimeoutMilliseconds = v }
        if let v = try string("http_version") { httpVersion = v }
        if let value = table["pacing_margin"] {
            guard let d = value.double else { throw ValidationError("\(source): pacing_margin must be a number such as 0.01") }
            pacingMargin = d
        }
    }

    func validate() throws {
        guard graphURL.hasPrefix("https://") || graphURL.hasPrefix("http://") else {
            throw ValidationError("graph-url '\(graphURL)' must start with https:// (or http:// for a local endpoint)")
        }
        guard graphVersion.hasPrefix("v"), Double(graphVersion.dropFirst()) != nil else {
            throw ValidationError("graph-version '\(graphVersion)' must look like v21.0")
        }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw ValidationError("ca-file '\(caFile)' does not exist or is not readable")
        }
        guard inDoubtSettleSeconds >= 0, inDoubtSettleSeconds <= 7 * 86_400 else {
            throw ValidationError("in-doubt-settle must be between 0 and 604800 seconds")
        }
        guard (1...1024).contains(connectionsPerHost) else { throw ValidationError("connections must be between 1 and 1024") }
        guard (0...0.2).contains(pacingMargin) else { throw ValidationError("pacing-margin must be between 0 and 0.2 (a fraction of a second)") }
        guard ["1.1", "2"].contains(httpVersion) else { throw ValidationError("http-version must be 1.1 or 2, got '\(httpVersion)'") }
        guard (100...300_000).contains(requestTimeoutMilliseconds) else {
            throw ValidationError("request-timeout-ms must be between 100 and 300000")
        }
    }

    func engineConfiguration() -> EngineConfiguration {
        var c = EngineConfiguration(dataDirectory: dataDir)
        c.graphURL = graphURL
        c.graphVersion = graphVersion
        c.transport.caFile = caFile
        c.transport.connectionsPerHostMax = connectionsPerHost
        c.transport.requestTimeoutMilliseconds = requestTimeoutMilliseconds
        c.transport.httpVersion = httpVersion == "2" ? .http2 : .http1
        c.scheduler.safetyMargin = pacingMargin
        c.outcome.inDoubtSettleMilliseconds = Int64(inDoubtSettleSeconds * 1000)
        return c
    }
}
