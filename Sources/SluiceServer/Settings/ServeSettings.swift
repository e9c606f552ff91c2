import Foundation
import SluiceCluster
import SluiceEngine
import SluiceTransport

/// The settings of `sluice serve`: defaults, overridden by the TOML file given with
/// `--config`, overridden by flags. `ServeSettings.table` describes each one once (flag,
/// TOML key, type, check, help); the flags, the TOML reader, `validate` and the README's
/// table are read from it.
public struct ServeSettings: Equatable, Sendable {
    public var dataDir = "./sluice-data"
    /// The media volume; nil: `<data-dir>/media`.
    public var mediaDir: String?
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
    /// etcd endpoints, comma-separated: with them this node joins a cluster.
    public var clusterEtcd: String?
    public var nodeID: String?
    public var advertise: String?

    /// `connections_per_host`, or by protocol: HTTP/2 carries 100 requests a connection,
    /// HTTP/1.1 one.
    public var connectionsPerHostInForce: Int {
        connectionsPerHost ?? (httpVersion == "1.1" ? EngineConfiguration.connectionsPerHostMaxHTTP1 : EngineConfiguration.connectionsPerHostMax)
    }

    /// Highest `connections_per_host` accepted (each is a file descriptor and a TLS session).
    public static let connectionsMax = 4_096

    public init() {}

    /// The API server's limits on slow clients.
    public var slowClients: SlowClientGuard {
        SlowClientGuard(idleSeconds: clientIdleSeconds, bodyMinBytesPerSecond: bodyMinRate, maxConnectionsPerClient: maxConnectionsPerClient)
    }

    /// How incoming media is downloaded: through the same trust store as the sends.
    public var mediaFetcher: MediaFetcherConfiguration {
        var c = MediaFetcherConfiguration()
        c.caFile = caFile
        return c
    }

    /// The cluster this node joins; nil without `cluster_etcd`.
    public var cluster: ClusterConfiguration? {
        guard let clusterEtcd, let nodeID else { return nil }
        let endpoints = clusterEtcd.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return ClusterConfiguration(etcdEndpoints: endpoints, nodeID: nodeID, advertiseURL: advertise)
    }

    public func engineConfiguration() -> EngineConfiguration {
        var c = EngineConfiguration(dataDirectory: dataDir)
        if let cluster {
            c.clustered = true
            c.nodeID = cluster.nodeID
            // Nothing of this node may be on the wire when its lease could lapse.
            c.transport.requestTimeoutMilliseconds = min(requestTimeoutMilliseconds, cluster.sendTimeoutMilliseconds)
            c.transport.connectTimeoutMilliseconds = min(c.transport.connectTimeoutMilliseconds, cluster.sendTimeoutMilliseconds)
        }
        c.mediaDirectory = mediaDir
        c.graphURL = graphURL
        c.graphVersion = graphVersion
        c.transport.caFile = caFile
        c.transport.connectionsPerHostMax = connectionsPerHostInForce
        if !c.clustered { c.transport.requestTimeoutMilliseconds = requestTimeoutMilliseconds }
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
