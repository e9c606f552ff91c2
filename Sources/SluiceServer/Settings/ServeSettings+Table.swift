import SluiceCluster
import SluiceEngine

extension ServeSettings {
    /// Every setting of `sluice serve`, in the order `--help` and the README list them.
    public static let table: [ServeSetting] = [
        .string("data-dir", "data_dir", \.dataDir, placeholder: "DIR", help: "LMDB journal (`journal/`), its key `journal.key`, `departures` and `admin.key`") {
            $0.isEmpty ? "must not be empty" : nil
        },
        .optionalString(
            "media-dir", "media_dir", \.mediaDir, placeholder: "DIR", defaultNote: "`<data-dir>/media`",
            help: "the media volume: incoming media, one file per SHA-256") {
            $0.isEmpty ? "must not be empty" : nil
        },
        ServeSetting(
            flag: "listen", key: "listen", kind: .string, placeholder: "HOST:PORT", defaultNote: nil,
            help: "HTTP API address (port 0: any free port)",
            read: { $0.listen.description },
            write: { settings, value throws(SettingsError) in
                if case .string(let text) = value { settings.listen = try ListenAddress(parsing: text) }
            },
            check: { _ in nil }),
        .string("graph-url", "graph_url", \.graphURL, placeholder: "URL", help: "Cloud API base URL") {
            $0.hasPrefix("https://") || $0.hasPrefix("http://") ? nil : "'\($0)' must start with https:// (or http:// for a local endpoint)"
        },
        .string("graph-version", "graph_version", \.graphVersion, placeholder: "VERSION", help: "API version in the send path") {
            $0.hasPrefix("v") && Double($0.dropFirst()) != nil ? nil : "'\($0)' must look like v21.0"
        },
        .file("ca-file", "ca_file", \.caFile, defaultNote: "system CAs", help: "PEM CA bundle for the endpoint (private CA, the mock)"),
        .number(
            "in-doubt-settle", "in_doubt_settle_seconds", \.inDoubtSettleSeconds, placeholder: "SECONDS", range: 0...604_800,
            help: "how long an in-doubt message waits for a status before a resend"),
        .optionalInteger(
            "connections", "connections_per_host", \.connectionsPerHost, range: 1...connectionsMax,
            defaultNote: "`\(EngineConfiguration.connectionsPerHostMax)` (`\(EngineConfiguration.connectionsPerHostMaxHTTP1)` with `http_version = \"1.1\"`)",
            help: "most connections to the endpoint host, opened as requests need them (HTTP/2 carries up to 100 requests on each, HTTP/1.1 one)"),
        .integer(
            "request-timeout-ms", "request_timeout_ms", \.requestTimeoutMilliseconds, placeholder: "MS", range: 100...300_000,
            help: "per-request timeout"),
        .string(
            "http-version", "http_version", \.httpVersion, placeholder: "2|1.1",
            help: "`2`: HTTP/2 where the endpoint offers it over ALPN, HTTP/1.1 keep-alive otherwise; `1.1`: HTTP/1.1 only"
        ) { ["1.1", "2"].contains($0) ? nil : "must be 1.1 or 2, got '\($0)'" },
        .boolean(
            "warm-start", "warm_start", \.warmStart,
            help: "open each number's connections before its messages need them (one per 100 requests of its in-flight bound over HTTP/2), at start, when it is registered and when its tier rises, each with a read of the number's node (`GET /{version}/{phone-number-id}`); off, the first requests of a campaign wait for handshakes"),
        .number(
            "pacing-margin", "pacing_margin", \.pacingMargin, placeholder: "FRACTION", range: 0...0.2,
            help: "sends are spaced this fraction wider than the tier; the window guard counts from when each message left (as the transport reports it), and the margin is the allowance for jitter after that, on the way to WhatsApp"),
        .optionalString(
            "webhook-verify-token", "webhook_verify_token", \.webhookVerifyToken, placeholder: "TOKEN",
            defaultNote: "none (also `$SLUICE_WEBHOOK_VERIFY_TOKEN`)",
            help: "the `hub.verify_token` Meta presents when subscribing `/webhooks/whatsapp`"),
        .integer(
            "pair-spacing-ms", "pair_spacing_ms", \.pairSpacingMilliseconds, placeholder: "MS", range: 0...86_400_000,
            help: "least time between two messages of one sender to the same recipient (WhatsApp's pair limit; `0`: off); a message that would come sooner waits as `retry_at`"),
        .file(
            "tls-cert", "tls_cert", \.tlsCert, defaultNote: "none (plain HTTP)",
            help: "PEM certificate chain: with `tls_key`, the API (and the webhook path) is served over TLS 1.2+"),
        .file("tls-key", "tls_key", \.tlsKey, defaultNote: "none", help: "PEM private key of `tls_cert`"),
        .number(
            "status-deadline-hours", "status_deadline_hours", \.statusDeadlineHours, placeholder: "HOURS", range: 0...720, aboveLowerBound: true,
            help: "a message `sent` this long ago with no later status (`delivered`, `read`, `failed`) ends `unknown` (fractions allowed)"),
        .number(
            "intake-reserve-mb", "intake_reserve_mb", \.intakeReserveMegabytes, placeholder: "MB", range: 0...1_000_000,
            help: "free space the journal's disk keeps for recording outcomes: below it new campaigns are refused with 507 `insufficient_storage` (accepted ones are kept and sent); `0` turns the check off"),
        .number(
            "retention-days", "retention_days", \.retentionDays, placeholder: "DAYS", range: 0...36_500,
            help: "a finished campaign (nothing `queued`, `in_flight`, `retry_at` or `in_doubt`, no status event waiting for a subscriber) whose last change is older than this is removed with its messages (fractions allowed; `0` keeps everything forever)"),
        .number(
            "client-idle-seconds", "client_idle_seconds", \.clientIdleSeconds, placeholder: "SECONDS", range: 1...3_600,
            help: "a client connection that sends nothing this long is closed: request headers still arriving, a stalled body, an idle keep-alive connection"),
        .integer(
            "body-min-rate", "body_min_rate", \.bodyMinRate, placeholder: "BYTES", range: 0...100_000_000,
            help: "bytes per second a request body must keep up: it gets `client_idle_seconds` plus one second per this many bytes, else 408 `body_too_slow` and a campaign upload is discarded (`0` turns the check off)"),
        .integer(
            "max-connections-per-client", "max_connections_per_client", \.maxConnectionsPerClient, range: 0...1_000_000,
            help: "API connections one client address may hold open at once; a request on one more is answered 429 `too_many_connections` and its connection closed (`0`: no cap; behind a proxy all clients share its address)"),
        .optionalString(
            "cluster-etcd", "cluster_etcd", \.clusterEtcd, placeholder: "URL[,URL…]", defaultNote: "none (one node)",
            help: "etcd endpoints (`http://HOST:2379`, comma-separated): this node joins the cluster, sends for a number only while it holds the number's owner key under its 10 s lease, and stops 4 s before the lease could lapse (requests to WhatsApp then time out within 3 s); needs `node_id`") {
            let urls = $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return !urls.isEmpty && urls.allSatisfy({ $0.hasPrefix("http://") || $0.hasPrefix("https://") }) ? nil : "'\($0)' must be http(s) URLs, comma-separated"
        },
        .optionalString(
            "node-id", "node_id", \.nodeID, placeholder: "ID", defaultNote: "none",
            help: "this node's name in the cluster: 1–64 letters, digits, '.', '_' or '-', unique among the nodes") {
            ClusterConfiguration.isNodeID($0) ? nil : "'\($0)' must be 1–64 letters, digits, '.', '_' or '-'"
        },
        .optionalString(
            "advertise", "advertise", \.advertise, placeholder: "URL", defaultNote: "the listen address",
            help: "the URL of this node's API for the other nodes (handovers) and `GET /v1/cluster`; needed when --listen is a wildcard") {
            $0.hasPrefix("http://") || $0.hasPrefix("https://") ? nil : "'\($0)' must start with http:// or https://"
        },
    ]

    static let settingsByKey: [String: ServeSetting] = Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0) })
    static let settingsByFlag: [String: ServeSetting] = Dictionary(uniqueKeysWithValues: table.map { ($0.flag, $0) })

    /// The TOML keys.
    public static var keys: [String] { table.map(\.key) }
}
