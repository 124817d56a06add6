/// One REST resource of the Kubernetes API: where objects of a kind live and whether they
/// belong to a namespace. This is the client's static "REST mapper".
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    /// API group; empty for the core group (`/api/v1`).
    public let group: String
    public let version: String
    public let kind: String
    /// The lower-case plural used in paths (`services`, `statefulsets`).
    public let plural: String
    public let namespaced: Bool

    public init(group: String, version: String, kind: String, plural: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
    }

    /// `v1` or `apps/v1`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `/api/v1` or `/apis/apps/v1`.
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The collection path: `/api/v1/namespaces/ns/services`, or across all namespaces (and for
    /// cluster-scoped kinds) `/api/v1/services`.
    public func collectionPath(namespace: String?) -> String {
        if namespaced, let namespace {
            return "\(groupVersionPath)/namespaces/\(PathEscaping.segment(namespace))/\(plural)"
        }
        return "\(groupVersionPath)/\(plural)"
    }

    /// The path of one object.
    public func objectPath(namespace: String?, name: String) -> String {
        "\(collectionPath(namespace: namespace))/\(PathEscaping.segment(name))"
    }

    public var description: String { "\(kind) (\(apiVersion), \(plural))" }

    /// The resources BoK creates, reads or deletes, and what the Fabric renderer emits.
    public static let known: [ResourceType] = [
        .init(group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false),
        .init(group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false),
        .init(group: "", version: "v1", kind: "PersistentVolume", plural: "persistentvolumes", namespaced: false),
        .init(group: "", version: "v1", kind: "Service", plural: "services", namespaced: true),
        .init(group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true),
        .init(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true),
        .init(group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true),
        .init(group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true),
        .init(group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true),
        .init(group: "", version: "v1", kind: "Endpoints", plural: "endpoints", namespaced: true),
        .init(group: "", version: "v1", kind: "Event", plural: "events", namespaced: true),
        .init(group: "", version: "v1", kind: "ResourceQuota", plural: "resourcequotas", namespaced: true),
        .init(group: "", version: "v1", kind: "LimitRange", plural: "limitranges", namespaced: true),
        .init(group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true),
        .init(group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true),
        .init(group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", namespaced: true),
        .init(group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true),
        .init(group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true),
        .init(group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", namespaced: true),
        .init(group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", namespaced: true),
        .init(group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true),
        .init(group: "policy", version: "v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", namespaced: true),
        .init(group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true),
        .init(group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true),
        .init(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false),
        .init(
            group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings",
            namespaced: false),
        .init(group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", namespaced: false),
    ]

    private static let byKey: [String: ResourceType] = Dictionary(
        known.map { ("\($0.apiVersion)|\($0.kind)", $0) }, uniquingKeysWith: { first, _ in first })

    /// The known resource for an apiVersion and kind, or nil (the client then asks discovery).
    public static func known(apiVersion: String, kind: String) -> ResourceType? {
        byKey["\(apiVersion)|\(kind)"]
    }

    /// The known resource for a kind alone (`Deployment`), in its current API version.
    public static func known(kind: String) -> ResourceType? {
        known.first { $0.kind == kind }
    }

    public static let namespace = known(kind: "Namespace")!
    public static let node = known(kind: "Node")!
    public static let service = known(kind: "Service")!
    public static let pod = known(kind: "Pod")!
    public static let deployment = known(kind: "Deployment")!
    public static let statefulSet = known(kind: "StatefulSet")!
    public static let job = known(kind: "Job")!
    public static let secret = known(kind: "Secret")!
    public static let configMap = known(kind: "ConfigMap")!
}

/// Percent-escaping for path segments and query values.
enum PathEscaping {
    private static let unreserved: Set<UInt8> = Set(
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))

    static func segment(_ s: String) -> String { escape(s) }

    static func queryValue(_ s: String) -> String { escape(s) }

    private static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if unreserved.contains(b) {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                let hex = Array("0123456789ABCDEF")
                out.append("%")
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xf)])
            }
        }
        return out
    }
}
