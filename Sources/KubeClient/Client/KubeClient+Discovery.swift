import Foundation

/// The cluster DNS service (kube-dns or CoreDNS) in `kube-system`.
public struct ClusterDNS: Sendable, Hashable {
    public var serviceName: String
    /// The ClusterIP that pods (and, through BoK, Docker) use as nameserver.
    public var clusterIP: String

    public init(serviceName: String, clusterIP: String) {
        self.serviceName = serviceName
        self.clusterIP = clusterIP
    }
}

/// A node as an inventory needs it.
public struct NodeInfo: Sendable, Hashable {
    public var name: String
    /// The node's `InternalIP` address, nil when it reports none.
    public var internalIP: String?
    /// The `Ready` condition is true.
    public var ready: Bool
    /// From `node-role.kubernetes.io/<role>` labels (and the older `kubernetes.io/role`), sorted.
    public var roles: [String]
    /// Cordoned (`spec.unschedulable`).
    public var unschedulable: Bool

    public init(name: String, internalIP: String?, ready: Bool, roles: [String], unschedulable: Bool = false) {
        self.name = name
        self.internalIP = internalIP
        self.ready = ready
        self.roles = roles
        self.unschedulable = unschedulable
    }

    /// Reads a `Node` object.
    public init(node: KubeObject) {
        var roles = Set<String>()
        for (key, value) in node.labels {
            if key.hasPrefix("node-role.kubernetes.io/") {
                let role = String(key.dropFirst("node-role.kubernetes.io/".count))
                roles.insert(role.isEmpty ? value : role)
            } else if key == "kubernetes.io/role", !value.isEmpty {
                roles.insert(value)
            }
        }
        roles.remove("")
        let addresses = node.status?["addresses"]?.arrayValue ?? []
        let internalIP = addresses.first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue
        self.init(
            name: node.name, internalIP: internalIP, ready: node.condition("Ready")?.isTrue ?? false,
            roles: roles.sorted(), unschedulable: node["spec", "unschedulable"]?.boolValue ?? false)
    }
}

/// The API server's `/version`.
public struct ServerVersion: Sendable, Hashable {
    public var major: String
    public var minor: String
    public var gitVersion: String
    public var platform: String

    public init(major: String, minor: String, gitVersion: String, platform: String) {
        self.major = major
        self.minor = minor
        self.gitVersion = gitVersion
        self.platform = platform
    }
}

extension KubeClient {
    /// The ClusterIP of the cluster DNS: service `kube-dns` in `kube-system`, else any service
    /// there labelled `k8s-app=kube-dns`, else `coredns`. Headless services do not count.
    public func clusterDNS() throws(KubeError) -> ClusterDNS {
        func usable(_ service: KubeObject) -> ClusterDNS? {
            guard let ip = service["spec", "clusterIP"]?.stringValue, !ip.isEmpty, ip != "None" else { return nil }
            return ClusterDNS(serviceName: service.name, clusterIP: ip)
        }
        var seen: [String] = []
        if let service = try getIfPresent(.service("kube-dns", namespace: "kube-system")) {
            if let dns = usable(service) { return dns }
            seen.append("kube-dns (headless)")
        }
        let labelled = try list(.service, namespace: "kube-system", labelSelector: "k8s-app=kube-dns")
        for service in labelled.sorted(by: { $0.name < $1.name }) {
            if let dns = usable(service) { return dns }
            seen.append("\(service.name) (headless)")
        }
        if let service = try getIfPresent(.service("coredns", namespace: "kube-system")) {
            if let dns = usable(service) { return dns }
            seen.append("coredns (headless)")
        }
        let found = seen.isEmpty ? "" : " (found only \(seen.joined(separator: ", ")))"
        throw .clusterDNSNotFound(
            "kube-system has no service kube-dns, none labelled k8s-app=kube-dns and no coredns with a ClusterIP\(found)")
    }

    /// Every node with its InternalIP, readiness and roles, sorted by name.
    public func listNodes() throws(KubeError) -> [NodeInfo] {
        try list(.node).map(NodeInfo.init(node:)).sorted { $0.name < $1.name }
    }

    /// The server's version: a cheap reachability preflight. Most clusters serve `/version` to
    /// anyone, so it does not prove the credentials; `listNodes` does.
    public func serverVersion() throws(KubeError) -> ServerVersion {
        let json = try sendJSON("GET", "/version", retry: true)
        guard let git = json["gitVersion"]?.stringValue else {
            throw .invalidResponse(method: "GET", path: "/version", reason: "no gitVersion")
        }
        return ServerVersion(
            major: json["major"]?.stringValue ?? "", minor: json["minor"]?.stringValue ?? "",
            gitVersion: git, platform: json["platform"]?.stringValue ?? "")
    }
}
