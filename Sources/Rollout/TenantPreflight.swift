import AgentProtocol
import FabricTopology
import Fleet
import Foundation
import KubeClient

/// How `coordinator preflight` finds the nodes and judges them.
public struct PreflightOptions: Sendable {
    /// The nodes and their agents; nil: every worker node of the cluster, agent at `<InternalIP>:<agentPort>`.
    public var inventory: Inventory?
    public var caDir: String?
    public var agentPort = 7443
    /// kube-dns' ClusterIP; nil: from the API (kube-system), else the inventory's.
    public var kubeDNS: String?
    public var agentConnectTimeout: Double = 5
    public var thresholds = PreflightThresholds()
    /// The NFS port probed for `Storage.NFS`.
    public var nfsPort = 2049

    public init() {}
}

/// `coordinator preflight`: every check `coordinator rollout` makes before writing anything, and the ones
/// that look at the nodes, reported all at once. Writes nothing (the API permission check is a dry run).
public struct TenantPreflight: Sendable {
    public let topology: FabricTopology
    public let client: KubeClient
    public let options: PreflightOptions
    let reporter: @Sendable (String) -> Void

    public init(topology: FabricTopology, client: KubeClient, options: PreflightOptions, reporter: @escaping @Sendable (String) -> Void = { _ in }) {
        self.topology = topology
        self.client = client
        self.options = options
        self.reporter = reporter
    }

    public func run() async -> PreflightReport {
        let started = Date()
        var checks: [PreflightCheck] = []
        func cluster(_ name: String, _ status: CheckStatus, _ detail: String) {
            checks.append(PreflightCheck(scope: "cluster", name: name, status: status, detail: detail))
            reporter("cluster \(name): \(status.rawValue) — \(detail)")
        }
        let client = self.client
        // The API: reachable, and this user may create the tenant's namespaces (a dry run writes nothing).
        var apiUp = false
        do {
            let version = try await blocking { try client.serverVersion() }
            let namespace = topology.ordererOrgs[0].namespace
            let probe = KubeObject(apiVersion: "v1", kind: "Namespace", name: namespace, labels: [NetworkMaterial.tenantLabel: topology.tenant])
            do {
                _ = try await blocking { try client.apply(probe, dryRun: true) }
                cluster("api", .ok, "Kubernetes \(version.gitVersion) at \(client.config.server); applying objects allowed (dry run)")
            } catch {
                cluster("api", .fail, "Kubernetes \(version.gitVersion) refused a dry-run apply of Namespace \(namespace): \(Self.text(error))")
            }
            apiUp = true
        } catch {
            cluster("api", .fail, "Kubernetes API at \(client.config.server) does not answer: \(Self.text(error)); check --kubeconfig/--context")
        }

        // kube-dns.
        var kubeDNS = options.kubeDNS
        if kubeDNS == nil, apiUp {
            kubeDNS = try? await blocking { try client.clusterDNS().clusterIP }
        }
        kubeDNS = kubeDNS ?? options.inventory?.kubeDNS
        if let kubeDNS {
            cluster("kube-dns-address", .ok, "kube-dns at \(kubeDNS)")
        } else {
            cluster(
                "kube-dns-address", .fail,
                "no kube-dns address: kube-system has no kube-dns/CoreDNS Service with a ClusterIP, and neither --kube-dns nor the inventory's kubeDNS is set"
            )
        }

        // The nodes.
        var inventory = options.inventory
        if inventory == nil, apiUp {
            do {
                let caDir = options.caDir
                let port = options.agentPort
                let found = try await blocking { try ClusterInventory.load(client, caDir: caDir, agentPort: port) }
                inventory = found.inventory
                for (node, reason) in found.skipped.sorted(by: { $0.key < $1.key }) { reporter("node \(node) left out: \(reason)") }
            } catch {
                cluster("nodes", .fail, "cannot list the cluster's nodes: \(Self.text(error)); pass --inventory FILE")
            }
        }
        if var inventory {
            if let caDir = options.caDir { inventory.caDir = caDir }
            do {
                let tls = try inventory.trust.clientTLS()
                if let kubeDNS {
                    reporter("checking \(inventory.nodes.count) node(s) through their agents")
                    let runner = FleetRunner(inventory: inventory, tls: tls, connectTimeout: options.agentConnectTimeout)
                    let nodeChecks = await NodePreflight(runner: runner, kubeDNS: kubeDNS, thresholds: options.thresholds).run()
                    for c in nodeChecks { reporter("\(c.scope) \(c.name): \(c.status.rawValue) — \(c.detail)") }
                    checks += nodeChecks
                }
            } catch {
                cluster("agents", .fail, "cannot load the coordinator's client certificate: \(error); run `coordinator ca init` or pass --ca-dir DIR")
            }
        }

        // Storage and NodePorts.
        if apiUp {
            var clusterChecks = ClusterPreflight(client: client, topology: topology)
            clusterChecks.nfsPort = options.nfsPort
            let topologyChecks = clusterChecks
            for c in await blockingChecks({ [topologyChecks.storage(), topologyChecks.nodePorts()] }) {
                cluster(c.name, c.status, c.detail)
            }
        }
        return PreflightReport(
            tenant: topology.tenant, success: !checks.contains { $0.status == .fail }, kubeDNS: kubeDNS, checks: checks,
            seconds: Date().timeIntervalSince(started))
    }

    static func text(_ error: Error) -> String {
        if let kube = error as? KubeError { return KubeErrorText.describe(kube) }
        return "\(error)"
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    private func blockingChecks(_ body: @escaping @Sendable () -> [PreflightCheck]) async -> [PreflightCheck] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }
}
