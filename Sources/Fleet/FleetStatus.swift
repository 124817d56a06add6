import AgentProtocol
import BoKSystem
import Foundation

/// One node's row of `coordinator status` / `health`.
public struct NodeStatus: Sendable, Codable, Equatable {
    public var node: String
    public var address: String
    public var reachable: Bool
    public var agentVersion: String?
    public var status: CheckStatus
    public var checks: [HealthCheck]
    public var dnsInForce: [String]
    public var dnsSource: String?
    public var dnsDesired: [String]?
    public var dnsMatches: Bool?
    public var chaincode: [ChaincodeContainerInfo]
    public var error: String?
    /// notAfter (ISO 8601) of the agent's link certificate, as its hello said; nil with --insecure or unreachable.
    public var certificateNotAfter: String? = nil
}

/// Collects status from every agent of the fleet.
public struct FleetStatusCollector: Sendable {
    public let runner: FleetRunner
    public let kubeDNS: String?
    public let includeChaincode: Bool

    public init(runner: FleetRunner, kubeDNS: String?, includeChaincode: Bool = true) {
        self.runner = runner
        self.kubeDNS = kubeDNS
        self.includeChaincode = includeChaincode
    }

    public func collect() async -> [NodeStatus] {
        let kubeDNS = self.kubeDNS
        let includeChaincode = self.includeChaincode
        let outcomes = await runner.run { client throws(AgentClientError) -> NodeStatus in
            // Connecting over TLS already said hello; ask again only on plain connections.
            let hello: HelloResult
            if let greeting = client.connectHello {
                hello = greeting
            } else {
                hello = try await retryingReadOnly { () throws(AgentClientError) in try await client.hello() }
            }
            var desired: DNSParams? = nil
            if let kubeDNS {
                let up = try await retryingReadOnly { () throws(AgentClientError) in try await client.upstreamDNS() }
                desired = DNSRolloutSpec(kubeDNS: kubeDNS).desired(upstream: up.nameservers)
            }
            let params = HealthParams(desired: desired)
            var health = try await retryingReadOnly { () throws(AgentClientError) in try await client.health(params) }
            if let check = CertificateExpiry.check(hello) {
                health.checks.append(check)
                if check.status == .warn && health.status == .ok { health.status = .warn }
            }
            let dns = try? await client.dnsGet()
            let chaincode = includeChaincode ? ((try? await client.chaincodeList())?.containers ?? []) : []
            let inForce = dns?.running?.nameservers ?? dns?.nameservers ?? []
            return NodeStatus(
                node: client.node, address: client.address, reachable: true, agentVersion: hello.version,
                status: health.status, checks: health.checks, dnsInForce: inForce, dnsSource: dns?.source,
                dnsDesired: desired?.nameservers, dnsMatches: desired.map { $0.nameservers == inForce },
                chaincode: chaincode, error: nil, certificateNotAfter: hello.certNotAfter)
        }
        return outcomes.map { o in
            switch o.result {
            case .success(let s): return s
            case .failure(let e):
                return NodeStatus(
                    node: o.node.name, address: o.node.agent, reachable: false, agentVersion: nil, status: .fail,
                    checks: [HealthCheck(name: "agent", status: .fail, detail: e.description)], dnsInForce: [],
                    dnsSource: nil, dnsDesired: nil, dnsMatches: nil, chaincode: [], error: e.description)
            }
        }
    }
}

extension TextTable {
    /// `coordinator status`: one row per node.
    public static func status(_ nodes: [NodeStatus]) -> String {
        let rows = nodes.map { n -> [String] in
            let docker =
                n.checks.first { $0.name == "docker" }.map {
                    $0.status == .ok ? $0.detail.replacingOccurrences(of: "Docker ", with: "") : $0.status.rawValue
                } ?? "-"
            let cc = n.chaincode
            let running = cc.filter { $0.state == "running" }.count
            return [
                n.node, n.reachable ? (n.agentVersion ?? "?") : "UNREACHABLE", n.reachable ? docker : "-",
                n.dnsInForce.isEmpty ? "(none)" : n.dnsInForce.joined(separator: ","),
                n.dnsDesired?.joined(separator: ",") ?? "-",
                n.dnsMatches.map { $0 ? "yes" : "NO" } ?? "-",
                "\(running)/\(cc.count)", n.status.rawValue.uppercased(),
            ]
        }
        return render(["NODE", "AGENT", "DOCKER", "DNS IN FORCE", "DESIRED", "MATCH", "CHAINCODE", "STATUS"], rows)
    }
}

/// `health`: an agent certificate that expires within 30 days is a warning (renew with `coordinator certs rotate`).
public enum CertificateExpiry {
    public static let warnDays = 30.0

    public static func check(_ hello: HelloResult, now: Date = Date()) -> HealthCheck? {
        guard let text = hello.certNotAfter, let notAfter = ISO8601DateFormatter().date(from: text) else { return nil }
        let days = notAfter.timeIntervalSince(now) / 86_400
        let serial = hello.certSerial ?? "?"
        if days < warnDays {
            return HealthCheck(
                name: "agent-certificate", status: .warn,
                detail: days <= 0
                    ? "certificate \(serial) expired \(text): renew it with `coordinator certs rotate --nodes \(hello.node)`"
                    : "certificate \(serial) expires in \(Int(days)) days (\(text)): renew it with `coordinator certs rotate --nodes \(hello.node)`")
        }
        return HealthCheck(name: "agent-certificate", status: .ok, detail: "certificate \(serial) valid until \(text)")
    }
}
