import AgentProtocol
import FabricTopology
import Fleet
import Foundation
import KubeClient

/// Where preflight draws the line between ok, warn and fail.
public struct PreflightThresholds: Sendable, Equatable {
    /// Clock offset from the coordinator, seconds: TLS certificates and Raft leases care.
    public var clockWarn: Double = 2
    public var clockFail: Double = 30
    /// Free space where Docker keeps images: warn below 5 GiB or 10 %, fail below 1 GiB or 2 %
    /// (a chaincode build needs fabric-ccenv's 0.5 GB plus the chaincode image per peer).
    public var diskWarnBytes: Int = 5 << 30
    public var diskFailBytes: Int = 1 << 30
    public var diskWarnFraction: Double = 0.10
    public var diskFailFraction: Double = 0.02

    public init() {}
}

/// One preflight check: `scope` is `cluster` or a node's name.
public struct PreflightCheck: Codable, Sendable, Equatable {
    public var scope: String
    public var name: String
    public var status: CheckStatus
    public var detail: String

    public init(scope: String, name: String, status: CheckStatus, detail: String) {
        self.scope = scope
        self.name = name
        self.status = status
        self.detail = detail
    }
}

/// The outcome of `coordinator preflight` (`--json`).
public struct PreflightReport: Codable, Sendable, Equatable {
    public var tenant: String
    /// True when no check failed (warnings allowed).
    public var success: Bool
    public var kubeDNS: String?
    public var checks: [PreflightCheck]
    public var seconds: Double

    public var failures: [PreflightCheck] { checks.filter { $0.status == .fail } }
    public var warnings: [PreflightCheck] { checks.filter { $0.status == .warn } }
}

/// The verdicts, as pure functions of what the agents and the API said.
public enum PreflightVerdict {
    /// The agent's clock minus the coordinator's, as NTP computes it from the four times of one request:
    /// sent (coordinator), received and answered (agent), received (coordinator). The network delay is
    /// assumed the same both ways; `delay` is the round trip without the agent's own work.
    public static func clockOffset(sent: Double, agentReceived: Double, agentAnswered: Double, received: Double)
        -> (offset: Double, delay: Double)
    {
        let offset = ((agentReceived - sent) + (agentAnswered - received)) / 2
        let delay = max(0, (received - sent) - (agentAnswered - agentReceived))
        return (offset, delay)
    }

    public static func clock(node: String, offset: Double, delay: Double, thresholds: PreflightThresholds) -> PreflightCheck {
        let magnitude = abs(offset)
        let text = String(
            format: "%@ %.3f s %@ the coordinator (round trip %.1f ms)", node, magnitude, offset >= 0 ? "ahead of" : "behind", delay * 1000)
        if magnitude > thresholds.clockFail {
            return PreflightCheck(
                scope: node, name: "clock", status: .fail,
                detail: text
                    + String(
                        format: "; more than %.0f s breaks TLS validity and Raft timing: fix NTP (timedatectl, chrony) on the node or here",
                        thresholds.clockFail))
        }
        if magnitude > thresholds.clockWarn {
            return PreflightCheck(
                scope: node, name: "clock", status: .warn,
                detail: text + String(format: "; more than %.0f s: check NTP (timedatectl status)", thresholds.clockWarn))
        }
        return PreflightCheck(scope: node, name: "clock", status: .ok, detail: text)
    }

    public static func disk(node: String, path: String, available: Int, total: Int, thresholds: PreflightThresholds) -> PreflightCheck {
        let fraction = total > 0 ? Double(available) / Double(total) : 0
        let text = String(format: "%.1f GiB (%.0f%%) free under %@", Double(available) / Double(1 << 30), fraction * 100, path)
        if available < thresholds.diskFailBytes || fraction < thresholds.diskFailFraction {
            return PreflightCheck(
                scope: node, name: "disk", status: .fail,
                detail: text
                    + String(
                        format:
                            "; below %.1f GiB or %.0f%%: chaincode builds will fail. Free space (coordinator chaincode prune, docker system prune) or grow the disk",
                        Double(thresholds.diskFailBytes) / Double(1 << 30), thresholds.diskFailFraction * 100))
        }
        if available < thresholds.diskWarnBytes || fraction < thresholds.diskWarnFraction {
            return PreflightCheck(
                scope: node, name: "disk", status: .warn,
                detail: text
                    + String(
                        format: "; below %.1f GiB or %.0f%%: coordinator chaincode prune frees unused chaincode images",
                        Double(thresholds.diskWarnBytes) / Double(1 << 30), thresholds.diskWarnFraction * 100))
        }
        return PreflightCheck(scope: node, name: "disk", status: .ok, detail: text)
    }

    /// kube-dns asked from the node for `name`.
    public static func kubeDNS(node: String, server: String, name: String, result: Result<ResolveResult, AgentClientError>) -> PreflightCheck {
        switch result {
        case .success(let r) where r.rcode == "NOERROR" && !r.answers.isEmpty:
            return PreflightCheck(
                scope: node, name: "kube-dns", status: .ok, detail: "\(r.server) answers \(name) from \(node): \(r.answers.joined(separator: ", "))")
        case .success(let r):
            return PreflightCheck(
                scope: node, name: "kube-dns", status: .fail,
                detail:
                    "\(r.server) answers from \(node) but \(name) gives \(r.rcode): that server is not the cluster's DNS; check --kube-dns (kubectl -n kube-system get svc kube-dns)"
            )
        case .failure(let e):
            return PreflightCheck(
                scope: node, name: "kube-dns", status: .fail,
                detail:
                    "kube-dns at \(server) does not answer from \(node) (\(e.rpcError?.message ?? e.description)): chaincode containers there will not resolve their peer; check the node's route to the service network (kube-proxy) and --kube-dns"
            )
        }
    }

    /// NodePorts the tenant's Services will hold that a Service outside the tenant already holds.
    public static func nodePortConflicts(wanted: [TenantNodePort], services: [KubeObject], tenant: String) -> [String] {
        var holders: [Int: [String]] = [:]
        for service in services {
            let ours = service.labels[NetworkMaterial.tenantLabel] == tenant
            for port in service["spec", "ports"]?.arrayValue ?? [] {
                guard let nodePort = port["nodePort"]?.intValue else { continue }
                let name = "\(service.namespace ?? "")/\(service.name)"
                // The tenant's own Service from an earlier rollout holds its port rightly.
                if ours, wanted.contains(where: { $0.port == nodePort && $0.namespace == service.namespace && $0.service == service.name }) {
                    continue
                }
                holders[Int(nodePort), default: []].append(name)
            }
        }
        return wanted.compactMap { want in
            holders[want.port].map {
                "NodePort \(want.port) (for \(want.namespace)/\(want.service)) is held by Service \($0.joined(separator: ", "))"
            }
        }
    }
}

/// A NodePort the tenant's rendered Services ask for.
public struct TenantNodePort: Sendable, Equatable {
    public var port: Int
    public var namespace: String
    public var service: String

    /// Every NodePort of the topology: the explorer's, each org's CA, each orderer's (as the renderer names them).
    public static func all(_ topology: FabricTopology) -> [TenantNodePort] {
        var result: [TenantNodePort] = []
        if let port = topology.nodePorts.explorer, let org = topology.explorerOrg {
            result.append(TenantNodePort(port: port, namespace: org.namespace, service: "explorer"))
        }
        for org in topology.organizations {
            if let port = topology.caNodePort(for: org) { result.append(TenantNodePort(port: port, namespace: org.namespace, service: "ca")) }
        }
        for org in topology.ordererOrgs {
            for node in org.nodes {
                if let port = topology.ordererNodePort(for: node) {
                    result.append(TenantNodePort(port: port, namespace: org.namespace, service: "\(node.hostname)-nodeport"))
                }
            }
        }
        return result.sorted { $0.port < $1.port }
    }
}

/// The per-node checks, through each node's agent: runtime (`node.health`'s verdict), clock offset, free
/// space under Docker's root, and kube-dns answering from the node. Reads only.
public struct NodePreflight: Sendable {
    public static let probeName = "kubernetes.default.svc.cluster.local"
    public let runner: FleetRunner
    public let kubeDNS: String
    public var thresholds: PreflightThresholds
    public var probeName: String

    public init(
        runner: FleetRunner, kubeDNS: String, thresholds: PreflightThresholds = PreflightThresholds(),
        probeName: String = NodePreflight.probeName
    ) {
        self.runner = runner
        self.kubeDNS = kubeDNS
        self.thresholds = thresholds
        self.probeName = probeName
    }

    public func run() async -> [PreflightCheck] {
        let kubeDNS = self.kubeDNS
        let probe = probeName
        let thresholds = self.thresholds
        let outcomes = await runner.run { client throws(AgentClientError) -> [PreflightCheck] in
            let node = client.node
            var checks: [PreflightCheck] = []
            do throws(AgentClientError) {
                let (facts, sent, received) = try await retryingReadOnly { () throws(AgentClientError) in try await client.preflight() }
                checks += facts.checks.map { PreflightCheck(scope: node, name: $0.name, status: $0.status, detail: $0.detail) }
                let (offset, delay) = PreflightVerdict.clockOffset(
                    sent: sent, agentReceived: facts.receivedTime, agentAnswered: facts.time, received: received)
                checks.append(PreflightVerdict.clock(node: node, offset: offset, delay: delay, thresholds: thresholds))
                if let path = facts.dockerRootDir, let available = facts.diskAvailableBytes, let total = facts.diskTotalBytes {
                    checks.append(PreflightVerdict.disk(node: node, path: path, available: available, total: total, thresholds: thresholds))
                } else if facts.checks.allSatisfy({ $0.status != .fail }) {
                    checks.append(
                        PreflightCheck(scope: node, name: "disk", status: .warn, detail: "free space under Docker's root could not be read"))
                }
            } catch {
                guard error.rpcError?.code == RPCErrorCode.methodNotFound.rawValue else { throw error }
                checks.append(
                    PreflightCheck(
                        scope: node, name: "agent", status: .warn,
                        detail:
                            "the agent on \(node) predates node.preflight: runtime, clock and disk not checked; upgrade it (coordinator agents install)"
                    ))
            }
            let answer: Result<ResolveResult, AgentClientError>
            do throws(AgentClientError) {
                answer = .success(
                    try await retryingReadOnly { () throws(AgentClientError) in
                        try await client.resolve(ResolveParams(name: probe, type: "A", server: kubeDNS))
                    })
            } catch {
                answer = .failure(error)
            }
            checks.append(PreflightVerdict.kubeDNS(node: node, server: kubeDNS, name: probe, result: answer))
            return checks
        }
        return outcomes.flatMap { outcome -> [PreflightCheck] in
            switch outcome.result {
            case .success(let checks): return checks
            case .failure(let error):
                return [
                    PreflightCheck(
                        scope: outcome.node.name, name: "agent", status: .fail, detail: "agent at \(outcome.node.agent) does not answer: \(error)")
                ]
            }
        }
    }
}

/// The cluster-wide checks: the storage the topology names, and the tenant's NodePorts. Reads only.
public struct ClusterPreflight: Sendable {
    public let client: KubeClient
    public let topology: FabricTopology
    /// The NFS port probed for `Storage.NFS` (2049; tests use another).
    public var nfsPort = 2049
    public var connectTimeout: Double = 3

    public init(client: KubeClient, topology: FabricTopology) {
        self.client = client
        self.topology = topology
    }

    /// The StorageClass the claims use exists (the named one, or a default); with NFS, the server answers on TCP 2049.
    public func storage() -> PreflightCheck {
        func check(_ status: CheckStatus, _ detail: String) -> PreflightCheck {
            PreflightCheck(scope: "cluster", name: "storage", status: status, detail: detail)
        }
        switch topology.storage {
        case .nfs(let server, let path, _):
            if let error = TCPProbe.connect(host: server, port: nfsPort, timeout: connectTimeout) {
                return check(
                    .fail, "NFS server \(server):\(nfsPort) (Storage.NFS) does not answer: \(error); start the NFS server or fix Storage.NFS.Server")
            }
            return check(.ok, "NFS server \(server):\(nfsPort) answers (export \(path))")
        case .storageClass(let name?, _):
            do {
                let ref = ObjectRef(apiVersion: "storage.k8s.io/v1", kind: "StorageClass", name: name)
                guard try client.getIfPresent(ref) != nil else {
                    return check(
                        .fail,
                        "StorageClass \(name) (Storage.StorageClass in the topology) does not exist; create it, name another one (kubectl get storageclass), or set Storage.NFS"
                    )
                }
                return check(.ok, "StorageClass \(name)")
            } catch {
                return check(.fail, "cannot read StorageClass \(name): \(KubeErrorText.describe(error))")
            }
        case .storageClass(nil, _):
            let classes: [KubeObject]
            do { classes = try client.list(apiVersion: "storage.k8s.io/v1", kind: "StorageClass") } catch {
                return check(.fail, "cannot list the StorageClasses: \(KubeErrorText.describe(error))")
            }
            let key = "storageclass.kubernetes.io/is-default-class"
            let defaults = classes.filter {
                $0.annotations[key] == "true" || $0.annotations["storageclass.beta.kubernetes.io/is-default-class"] == "true"
            }
            guard let chosen = defaults.first else {
                let names = classes.map(\.name).sorted()
                return check(
                    .fail,
                    "the cluster has no default StorageClass (annotation \(key)=true)"
                        + (names.isEmpty ? " and no StorageClass at all" : "; it has \(names.joined(separator: ", "))")
                        + "; name one in the topology (Storage.StorageClass), mark one as default, or set Storage.NFS")
            }
            return check(.ok, "default StorageClass \(chosen.name)")
        }
    }

    /// No Service outside the tenant holds a NodePort the tenant's Services need.
    public func nodePorts() -> PreflightCheck {
        let wanted = TenantNodePort.all(topology)
        guard !wanted.isEmpty else {
            return PreflightCheck(scope: "cluster", name: "nodeports", status: .ok, detail: "the topology asks for no NodePorts")
        }
        let services: [KubeObject]
        do { services = try client.list(.service) } catch {
            return PreflightCheck(
                scope: "cluster", name: "nodeports", status: .fail, detail: "cannot list the Services: \(KubeErrorText.describe(error))")
        }
        let conflicts = PreflightVerdict.nodePortConflicts(wanted: wanted, services: services, tenant: topology.tenant)
        if conflicts.isEmpty {
            return PreflightCheck(
                scope: "cluster", name: "nodeports", status: .ok,
                detail: "\(wanted.count) NodePort(s) free: \(wanted.map { String($0.port) }.joined(separator: ", "))")
        }
        return PreflightCheck(
            scope: "cluster", name: "nodeports", status: .fail,
            detail: conflicts.joined(separator: "; ") + "; choose other NodePorts in the topology (NodePorts:) or remove that Service")
    }
}

/// A TCP connect with a timeout: nil when something accepts, else why not.
enum TCPProbe {
    static func connect(host: String, port: Int, timeout: Double) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { return "cannot resolve \(host): \(String(cString: gai_strerror(rc)))" }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return nil }
            guard errno == EINPROGRESS else {
                lastError = String(cString: strerror(errno))
                continue
            }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&p, 1, Int32(timeout * 1000)) > 0 else {
                lastError = "no answer within \(timeout) s"
                continue
            }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err == 0 { return nil }
            lastError = String(cString: strerror(err))
        }
        return lastError
    }
}
