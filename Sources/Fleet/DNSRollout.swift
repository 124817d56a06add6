import AgentProtocol
import DockerConfig
import Foundation

/// How many nodes may restart Docker at the same time: a count or a percentage of the fleet.
public enum MaxUnavailable: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Int)

    public init?(_ text: String) {
        if text.hasSuffix("%"), let p = Int(text.dropLast()), (1...100).contains(p) {
            self = .percent(p)
        } else if let n = Int(text), n >= 1 {
            self = .count(n)
        } else {
            return nil
        }
    }

    public func batchSize(nodes: Int) -> Int {
        switch self {
        case .count(let n): return max(1, min(n, nodes))
        case .percent(let p): return max(1, nodes * p / 100)
        }
    }

    public var description: String {
        switch self {
        case .count(let n): return String(n)
        case .percent(let p): return "\(p)%"
        }
    }
}

/// The node-side rollout: kube-dns first, then the node's own upstream resolvers.
public struct DNSRolloutSpec: Sendable {
    public var kubeDNS: String
    public var search: [String]
    public var options: [String]
    public var maxUnavailable: MaxUnavailable
    public var continueOnError: Bool

    public static let defaultSearch = ["default.svc.cluster.local", "svc.cluster.local"]
    public static let defaultOptions = ["ndots:2", "timeout:2", "attempts:2"]

    public init(
        kubeDNS: String, search: [String] = DNSRolloutSpec.defaultSearch, options: [String] = DNSRolloutSpec.defaultOptions,
        maxUnavailable: MaxUnavailable = .count(1), continueOnError: Bool = false
    ) {
        self.kubeDNS = kubeDNS
        self.search = search
        self.options = options
        self.maxUnavailable = maxUnavailable
        self.continueOnError = continueOnError
    }

    /// Validates the spec's own values (before any node is touched).
    public func validate() throws(FleetError) {
        do { _ = try DNSSettings(nameservers: [kubeDNS], search: search, options: options) } catch {
            throw FleetError("invalid DNS settings: \(error)")
        }
    }

    /// kube-dns, then the node's upstreams (loopback and duplicates dropped), at most 3 (glibc's limit).
    public func desired(upstream: [String]) -> DNSParams {
        var servers = [kubeDNS]
        for s in upstream where !servers.contains(s) && !s.hasPrefix("127.") && s != "::1" && servers.count < 3 {
            servers.append(s)
        }
        return DNSParams(nameservers: servers, search: search, options: options)
    }
}

/// What happened on one node.
public struct NodeDNSReport: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable { case unchanged, applied, planned, failed, skipped }
    public var node: String
    public var outcome: Outcome
    public var desired: DNSParams?
    public var diff: String
    public var restartSeconds: Double
    public var message: String
    public var rolledBack: Bool?
    public var stoppedContainers: [StoppedContainer]
    public var warnings: [String]
}

/// Progress events, for a live display.
public enum DNSRolloutEvent: Sendable {
    case batchStarted(index: Int, of: Int, nodes: [String])
    case nodeStarted(String)
    case nodeFinished(NodeDNSReport)
    case stopping(reason: String)
}

/// Plans or applies the DNS settings across the fleet, batch by batch.
public struct DNSRollout: Sendable {
    public let runner: FleetRunner
    public let spec: DNSRolloutSpec

    public init(runner: FleetRunner, spec: DNSRolloutSpec) {
        self.runner = runner
        self.spec = spec
    }

    public func plan() async -> [NodeDNSReport] {
        let spec = self.spec
        let outcomes = await runner.run { client throws(AgentClientError) in
            let up = try await retryingReadOnly { () throws(AgentClientError) in try await client.upstreamDNS() }
            let desired = spec.desired(upstream: up.nameservers)
            let plan = try await retryingReadOnly { () throws(AgentClientError) in try await client.dnsPlan(desired) }
            return (desired, plan)
        }
        return outcomes.map { o in
            switch o.result {
            case .success(let (desired, plan)):
                return NodeDNSReport(
                    node: o.node.name, outcome: plan.changed ? .planned : .unchanged, desired: desired, diff: plan.diff,
                    restartSeconds: 0, message: plan.changed ? "would change \(plan.path ?? "the file")" : "already as desired",
                    rolledBack: nil, stoppedContainers: [], warnings: plan.warnings)
            case .failure(let e):
                return NodeDNSReport(
                    node: o.node.name, outcome: .failed, desired: nil, diff: "", restartSeconds: 0, message: e.description,
                    rolledBack: nil, stoppedContainers: [], warnings: [])
            }
        }
    }

    public func apply(progress: @escaping @Sendable (DNSRolloutEvent) -> Void = { _ in }) async -> [NodeDNSReport] {
        let nodes = runner.inventory.nodes
        let size = spec.maxUnavailable.batchSize(nodes: nodes.count)
        let batches = stride(from: 0, to: nodes.count, by: size).map { Array(nodes[$0..<min($0 + size, nodes.count)]) }
        var reports: [NodeDNSReport] = []
        var stopped: String? = nil
        for (i, batch) in batches.enumerated() {
            if let reason = stopped {
                reports += batch.map {
                    NodeDNSReport(
                        node: $0.name, outcome: .skipped, desired: nil, diff: "", restartSeconds: 0,
                        message: "not started: \(reason)", rolledBack: nil, stoppedContainers: [], warnings: [])
                }
                continue
            }
            progress(.batchStarted(index: i + 1, of: batches.count, nodes: batch.map(\.name)))
            let spec = self.spec
            let outcomes = await runner.run(batch) { client throws(AgentClientError) in
                progress(.nodeStarted(client.node))
                let up = try await retryingReadOnly { () throws(AgentClientError) in try await client.upstreamDNS() }
                let desired = spec.desired(upstream: up.nameservers)
                return (desired, try await client.dnsApply(desired))
            }
            for o in outcomes {
                let report: NodeDNSReport
                switch o.result {
                case .success(let (desired, r)):
                    report = NodeDNSReport(
                        node: o.node.name, outcome: r.restarted || r.changed ? .applied : .unchanged, desired: desired,
                        diff: r.diff, restartSeconds: r.restartSeconds,
                        message: r.restarted
                            ? String(format: "applied, Docker restarted in %.1fs", r.restartSeconds) : "already as desired, nothing restarted",
                        rolledBack: nil, stoppedContainers: r.stoppedContainers, warnings: r.warnings)
                case .failure(let e):
                    var rolledBack: Bool? = nil
                    if let code = e.rpcError?.code {
                        if code == RPCErrorCode.applyFailedRolledBack.rawValue { rolledBack = true }
                        if code == RPCErrorCode.rollbackFailed.rawValue { rolledBack = false }
                    }
                    // Docker's own reason (e.g. a flag that daemon.json also sets) is in the error's data:
                    // a report without it would send the operator to the node's journal.
                    var message = e.description
                    if case .array(let lines)? = e.rpcError?.data?["dockerLog"] {
                        // dockerd's own lines, not systemd's generic "Failed to start …" around them.
                        let last = lines.compactMap(\.stringValue).filter {
                            !$0.isEmpty && !$0.hasPrefix("docker.service:") && !$0.hasPrefix("Failed to start") && !$0.hasPrefix("Start")
                                && !$0.hasPrefix("Stopped")
                        }.suffix(2)
                        if !last.isEmpty { message += "\nDocker's last log lines on \(o.node.name): " + last.joined(separator: " | ") }
                    }
                    report = NodeDNSReport(
                        node: o.node.name, outcome: .failed, desired: nil, diff: "", restartSeconds: 0, message: message,
                        rolledBack: rolledBack, stoppedContainers: [], warnings: [])
                }
                progress(.nodeFinished(report))
                reports.append(report)
            }
            if !spec.continueOnError, let failed = reports.first(where: { $0.outcome == .failed }) {
                stopped = "the rollout stopped after \(failed.node) failed (use --continue-on-error to go on)"
                if i + 1 < batches.count { progress(.stopping(reason: stopped!)) }
            }
        }
        return reports
    }
}
