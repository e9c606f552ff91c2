import CoreMetrics
import Foundation
import Prometheus
import SluiceEngine
import SluiceCore

/// `GET /metrics` in the Prometheus text format: the HTTP metrics that Hummingbird's
/// `MetricsMiddleware` records through swift-metrics, then the dispatcher's own, read
/// from its snapshots and the journal at scrape time.
///
/// ```swift
/// let metrics = ServerMetrics(dispatcher: dispatcher)
/// router.add(middleware: MetricsMiddleware())
/// router.get("metrics") { _, _ in metrics.response() }
/// ```
public final class ServerMetrics: Sendable {
    /// swift-metrics has one backend per process: the first `ServerMetrics` bootstraps it
    /// with this registry and every later one shares it.
    static let http: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    let dispatcher: Dispatcher
    /// Per dispatcher, so that two dispatchers in one process never share counters.
    let registry = PrometheusCollectorRegistry()
    /// Cumulative values already added to each counter, keyed by name and labels.
    private let reported = Locked<[String: UInt64]>([:])
    /// Every series the last scrape set, keyed by name and labels: a series not set again
    /// (a deleted sender or subscription, a limit removed) is unregistered.
    private let series = Locked<[String: Series]>([:])

    private enum Series: Sendable {
        case gauge(Prometheus.Gauge)
        case counter(Prometheus.Counter)
    }

    public init(dispatcher: Dispatcher) {
        _ = Self.http
        self.dispatcher = dispatcher
    }

    /// Refreshes the dispatcher's metrics and renders everything.
    public func render() throws -> String {
        try update()
        return Self.http.emitToString() + registry.emitToString()
    }

    func update() throws {
        var touched: Set<String> = []
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
            touched.insert(Self.key(name, labels))
            setGauge(name, unit, help, labels, value)
        }
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ total: UInt64) {
            touched.insert(Self.key(name, labels))
            addCounter(name, help, labels, total)
        }
        if let node = dispatcher.configuration.nodeID {
            // Every series here is this node's own: a scrape per node, summed by the scraper.
            gauge("cluster_node_info", "", "1, labelled with this node's id in its cluster: these metrics are this node's own.", [("node", node)], 1)
        }
        for s in dispatcher.senderSnapshots() {
            let sender = [("sender", s.phoneNumberID)]
            gauge("sender_tier", "messages_per_second", "The sender's rate tier.", sender, s.tierMessagesPerSecond)
            gauge("sender_effective", "messages_per_second", "The rate the sender is paced at now (below the tier after throttles).",
                  sender, s.effectiveMessagesPerSecond)
            gauge("sender_inbound_reserve", "messages_per_second", "The rate left free for the number's incoming messages (inbound counts toward the tier).",
                  sender, s.inboundReserveMessagesPerSecond)
            gauge("sender_paused", "", "1 while the sender is paused.", sender, s.paused ? 1 : 0)
            gauge("sender_owned", "", "1 while this node paces the number (always outside a cluster; in one, while it holds the number's owner key and its lease is alive).", sender, s.owned ? 1 : 0)
            gauge("sender_queue_depth", "", "Messages paged in and waiting for a send slot.", sender, Double(s.staged))
            gauge("sender_in_flight", "", "Sends on the wire.", sender, Double(s.inFlight))
            gauge("sender_in_flight_limit", "", "Most sends the sender may have on the wire now (rate × endpoint p99 latency × headroom).",
                  sender, Double(s.inFlightLimit))
            gauge("sender_send_rate", "messages_per_second", "Messages sent per second now, smoothed over about two seconds.", sender, s.sendRate)
            gauge("sender_endpoint_unreachable", "", "1 while the sender's endpoint cannot be reached (its messages wait).", sender, s.endpointError == nil ? 0 : 1)
            gauge("sender_unique_recipients_24h", "", "Unique recipients in the sender group's messaging-limit window (0 when unlimited).",
                  sender, Double(s.uniqueRecipients24h))
            if let limit = s.messagingLimit {
                gauge("sender_messaging_limit", "", "The messaging limit that applies to the sender (unique recipients per 24 h).", sender, Double(limit))
            }
            gauge("sender_messaging_limited", "", "1 while the messaging limit is reached and messages to new recipients wait.",
                  sender, s.limitedUntilMilliseconds == nil ? 0 : 1)
            counter("messages_sent", "Messages WhatsApp accepted.", sender, s.sent)
            counter("messages_failed", "Messages that ended failed.", sender, s.failed)
            counter("messages_retried", "Sends that will be retried after a backoff.", sender, s.retried)
            counter("messages_in_doubt", "Sends whose outcome is unknown (timeouts after the body went out).", sender, s.inDoubt)
            counter("sender_throttles", "130429 and other throttle answers.", sender, s.throttled)
            for (code, count) in s.errors {
                counter("send_errors", "Unsuccessful sends by WhatsApp error code, HTTP status, not_sent or in_doubt.",
                        sender + [("code", code)], count)
            }
        }
        let journal = try dispatcher.journalStatistics()
        gauge("journal_map", "bytes", "Size of the LMDB map.", [], Double(journal.mapSizeBytes))
        gauge("journal_used", "bytes", "Bytes of the map in use.", [], Double(journal.usedBytes))
        gauge("journal_messages", "", "Messages in the journal.", [], Double(journal.messages))
        gauge("journal_queued_messages", "", "Messages queued to send.", [], Double(journal.pending))
        gauge("journal_waiting_messages", "", "Messages waiting to retry or in doubt.", [], Double(journal.due))
        gauge("journal_in_flight_messages", "", "Messages journaled in flight.", [], Double(journal.inFlight))
        gauge("outbox_pending", "", "Status events waiting for delivery to subscribers.", [], Double(journal.outbox))
        for record in try dispatcher.subscriptions() {
            let subscription = [("subscription", record.publicID)]
            gauge("subscription_pending", "", "Status events waiting for this subscriber.", subscription, Double(record.counters.pending))
            counter("subscription_delivered", "Status events the subscriber answered with a 2xx.", subscription, record.counters.delivered)
            counter("subscription_failed_attempts", "Delivery attempts without a 2xx answer.", subscription, record.counters.failedAttempts)
            counter("subscription_dead", "Status events given up on after the retry period.", subscription, record.counters.dead)
        }
        gauge("pacing_lag", "seconds", "How late the dispatch loop woke for a paced send, worst in the last 200 ms.", [],
              dispatcher.dispatchLagSeconds())
        gauge("endpoint_latency_p99", "seconds", "The endpoint's answer time at p99 over recent seconds; sizes the senders' in-flight limits.", [],
              dispatcher.endpointLatencySeconds())
        gauge("dispatch_campaigns_held", "", "Campaigns the dispatch loop holds in memory; retention removes them.", [],
              Double(dispatcher.campaignsHeld()))
        removeSeries(except: touched)
    }

    /// Unregisters the series this scrape did not set.
    private func removeSeries(except touched: Set<String>) {
        let stale = series.withLock { series in
            let gone = series.filter { !touched.contains($0.key) }
            for key in gone.keys { series[key] = nil }
            return gone
        }
        guard !stale.isEmpty else { return }
        reported.withLock { reported in for key in stale.keys { reported[key] = nil } }
        for value in stale.values {
            switch value {
            case .gauge(let g): registry.unregisterGauge(g)
            case .counter(let c): registry.unregisterCounter(c)
            }
        }
    }

    private func setGauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
        let descriptor = MetricNameDescriptor(namespace: "sluice", metricName: name, unitName: unit, helpText: help)
        let gauge = registry.makeGauge(descriptor: descriptor, labels: labels)
        gauge.set(value)
        series.withLock { $0[Self.key(name, labels)] = .gauge(gauge) }
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + labels.map { "|\($0.0)=\($0.1)" }.joined()
    }

    /// Prometheus counters only go up: add what the cumulative snapshot value gained.
    private func addCounter(_ name: String, _ help: String, _ labels: [(String, String)], _ total: UInt64) {
        let key = Self.key(name, labels)
        let delta = reported.withLock { reported -> UInt64 in
            let previous = reported[key] ?? 0
            guard total > previous else { return 0 }
            reported[key] = total
            return total - previous
        }
        let descriptor = MetricNameDescriptor(namespace: "sluice", metricName: name, unitName: "total", helpText: help)
        let counter = registry.makeCounter(descriptor: descriptor, labels: labels)
        if delta > 0 { counter.increment(by: Int64(clamping: delta)) }
        series.withLock { $0[key] = .counter(counter) }
    }
}
