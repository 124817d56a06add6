import Dispatch
import Metrics
import NIOConcurrencyHelpers
import Prometheus

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Every metric the agent exports, behind one-line calls. Names all start `bok_agent_`; label values are
/// bounded sets (method names, result codes, container states), never free text, never secrets.
///
/// The metrics are recorded through swift-metrics (`Counter`, `Gauge`) into BoK's own swift-prometheus
/// registry (``registry``), not the process-wide `MetricsSystem`: nothing else the process links can add
/// series to `/metrics`, and tests can run several agents in one process. Counters are process-wide.
public enum AgentMetrics {
    /// The registry `/metrics` renders.
    public static let registry = PrometheusCollectorRegistry()
    static let factory = PrometheusMetricsFactory(registry: registry)

    /// Docker's container states (`docker ps --format {{.State}}`): the `state` label of
    /// `bok_agent_chaincode_containers` (every state is exported, 0 when none).
    public static let containerStates = ["created", "running", "paused", "restarting", "removing", "exited", "dead"]

    /// Every metric name, for the README and the tests.
    public static let names = [
        "bok_agent_requests_total", "bok_agent_connections_refused_total", "bok_agent_dns_applies_total",
        "bok_agent_docker_restarts_total", "bok_agent_rollbacks_total", "bok_agent_docker_dns_in_sync",
        "bok_agent_docker_dns_info", "bok_agent_chaincode_containers", "bok_agent_certificate_expiry_seconds",
        "bok_agent_docker_up", "bok_agent_scrape_refresh_seconds",
    ]

    // MARK: one-line calls

    /// One JSON-RPC request answered: `method` (unknown names are counted as `unknown`), `result` `ok` or the error name.
    public static func requestFinished(method: String, result: String) {
        let m = knownMethods.withLockedValue { $0.contains(method) } ? method : "unknown"
        counter("bok_agent_requests_total", [("method", m), ("result", label(result))])
    }

    /// A connection refused before any method ran: `limit`, `tls_handshake`, `no_certificate`, `policy` (role, EKU, revoked …).
    public static func connectionRefused(reason: String) {
        counter("bok_agent_connections_refused_total", [("reason", label(reason))])
    }

    /// A `docker.dns.apply` finished: `applied`, `unchanged`, `rolled_back`, `rollback_failed` or `failed`.
    public static func applyFinished(result: String) {
        counter("bok_agent_dns_applies_total", [("result", label(result))])
    }

    /// The agent restarted Docker (an apply, its rollback, `docker.restart`, recovery).
    public static func dockerRestarted(ok: Bool) {
        counter("bok_agent_docker_restarts_total", [("result", ok ? "ok" : "failed")])
    }

    /// An apply was rolled back (file restored, Docker restarted again).
    public static func rolledBack() {
        counter("bok_agent_rollbacks_total", [])
    }

    /// The nameservers of the running dockerd (`inForce`) against those Docker's configuration file asks for (`desired`).
    /// `bok_agent_docker_dns_in_sync` is 1 when they agree; `bok_agent_docker_dns_info{in_force,desired}` is 1 for the current pair.
    public static func setDNS(inForce: [String], desired: [String]) {
        let pair = (inForce.joined(separator: ","), desired.joined(separator: ","))
        gauge("bok_agent_docker_dns_in_sync", []).record(inForce == desired ? 1 : 0)
        let old = dnsInfo.withLockedValue { current -> Metrics.Gauge? in
            if let current, current.labels == [pair.0, pair.1] { return nil }
            let previous = current?.gauge
            current = (gauge("bok_agent_docker_dns_info", [("in_force", pair.0), ("desired", pair.1)]), [pair.0, pair.1])
            return previous
        }
        old?.destroy()
        dnsInfo.withLockedValue { _ = $0?.gauge.record(1) }
    }

    /// The chaincode containers on the node by Docker state (states absent from `counts` are set to 0).
    public static func setChaincodeContainers(_ counts: [String: Int]) {
        for state in containerStates { gauge("bok_agent_chaincode_containers", [("state", state)]).record(counts[state] ?? 0) }
        for (state, n) in counts where !containerStates.contains(state) {
            gauge("bok_agent_chaincode_containers", [("state", label(state))]).record(n)
        }
    }

    /// Seconds until the agent's own certificate expires (negative once it has).
    public static func setCertificateExpiry(seconds: Double) {
        gauge("bok_agent_certificate_expiry_seconds", []).record(seconds.rounded())
    }

    /// Whether Docker answered the last scrape's questions (1) or not (0).
    public static func setDockerUp(_ up: Bool) {
        gauge("bok_agent_docker_up", []).record(up ? 1 : 0)
    }

    /// How long the last scrape's refresh (Docker, files, certificate) took.
    public static func setRefreshSeconds(_ seconds: Double) {
        gauge("bok_agent_scrape_refresh_seconds", []).record(seconds)
    }

    /// The method names counted by their name (others are `unknown`, so a client cannot grow the label set).
    public static func register(methods: [String]) {
        knownMethods.withLockedValue { $0.formUnion(methods) }
        for m in methods { _ = Metrics.Counter(label: "bok_agent_requests_total", dimensions: [("method", m), ("result", "ok")], factory: factory) }
        // Counters exist (at 0) from the start, so `rate()` and `increase()` see their first event.
        for r in ["applied", "unchanged", "rolled_back", "rollback_failed", "failed"] {
            _ = Metrics.Counter(label: "bok_agent_dns_applies_total", dimensions: [("result", r)], factory: factory)
        }
        for r in ["ok", "failed"] { _ = Metrics.Counter(label: "bok_agent_docker_restarts_total", dimensions: [("result", r)], factory: factory) }
        _ = Metrics.Counter(label: "bok_agent_rollbacks_total", dimensions: [], factory: factory)
    }

    /// The metrics in Prometheus text exposition format (version 0.0.4).
    public static func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    // MARK: internals

    private static let knownMethods = NIOLockedValueBox<Set<String>>([])
    private static let dnsInfo = NIOLockedValueBox<(gauge: Metrics.Gauge, labels: [String])?>(nil)

    private static func counter(_ name: String, _ dimensions: [(String, String)]) {
        Metrics.Counter(label: name, dimensions: dimensions, factory: factory).increment()
    }

    private static func gauge(_ name: String, _ dimensions: [(String, String)]) -> Metrics.Gauge {
        Metrics.Gauge(label: name, dimensions: dimensions, factory: factory)
    }

    /// Label values from code paths: snake_case (`dockerUnavailable` → `docker_unavailable`), letters, digits and `_`,
    /// at most 64 characters.
    static func label(_ s: String) -> String {
        var out = ""
        for c in s.prefix(64) {
            if c.isASCII && c.isUppercase {
                if !out.isEmpty && !out.hasSuffix("_") { out.append("_") }
                out.append(Character(c.lowercased()))
            } else {
                out.append(c.isASCII && (c.isLetter || c.isNumber) ? c : "_")
            }
        }
        return String(out.prefix(64))
    }
}
