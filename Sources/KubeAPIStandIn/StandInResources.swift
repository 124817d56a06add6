/// One resource the stand-in serves, with what discovery says about it.
struct StandInResource: Hashable, Sendable {
    let group: String
    let version: String
    let kind: String
    let plural: String
    let singular: String
    let namespaced: Bool
    let shortNames: [String]
    /// Has a `/status` subresource: writes to the main resource ignore `status`.
    let hasStatus: Bool
    let hasScale: Bool
    /// The controller bumps `metadata.generation` on spec changes.
    let tracksGeneration: Bool
    let categories: [String]

    var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    var groupVersion: String { apiVersion }
    /// Unique id in the store: `apps/deployments`.
    var id: String { "\(group)/\(plural)" }
    /// The name used in error messages: `services`, `deployments.apps`.
    var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }

    init(
        _ group: String, _ version: String, _ kind: String, _ plural: String, namespaced: Bool,
        short: [String] = [], status: Bool = true, scale: Bool = false, generation: Bool = false, all: Bool = false
    ) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.singular = kind.lowercased()
        self.namespaced = namespaced
        self.shortNames = short
        self.hasStatus = status
        self.hasScale = scale
        self.tracksGeneration = generation
        self.categories = all ? ["all"] : []
    }

    static let all: [StandInResource] = [
        .init("", "v1", "Namespace", "namespaces", namespaced: false, short: ["ns"]),
        .init("", "v1", "Node", "nodes", namespaced: false, short: ["no"]),
        .init("", "v1", "PersistentVolume", "persistentvolumes", namespaced: false, short: ["pv"]),
        .init("", "v1", "Service", "services", namespaced: true, short: ["svc"], all: true),
        .init("", "v1", "Secret", "secrets", namespaced: true, status: false),
        .init("", "v1", "ConfigMap", "configmaps", namespaced: true, short: ["cm"], status: false),
        .init("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", namespaced: true, short: ["pvc"]),
        .init("", "v1", "Pod", "pods", namespaced: true, short: ["po"], all: true),
        .init("", "v1", "ServiceAccount", "serviceaccounts", namespaced: true, short: ["sa"], status: false),
        .init("", "v1", "Endpoints", "endpoints", namespaced: true, short: ["ep"], status: false),
        .init("", "v1", "Event", "events", namespaced: true, short: ["ev"], status: false),
        .init("apps", "v1", "Deployment", "deployments", namespaced: true, short: ["deploy"], scale: true, generation: true, all: true),
        .init("apps", "v1", "StatefulSet", "statefulsets", namespaced: true, short: ["sts"], scale: true, generation: true, all: true),
        .init("apps", "v1", "DaemonSet", "daemonsets", namespaced: true, short: ["ds"], generation: true, all: true),
        .init("apps", "v1", "ReplicaSet", "replicasets", namespaced: true, short: ["rs"], scale: true, generation: true, all: true),
        .init("batch", "v1", "Job", "jobs", namespaced: true, generation: true, all: true),
        .init("batch", "v1", "CronJob", "cronjobs", namespaced: true, short: ["cj"], generation: true, all: true),
        .init("networking.k8s.io", "v1", "Ingress", "ingresses", namespaced: true, short: ["ing"]),
        .init(
            "networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", namespaced: true, short: ["netpol"], status: false,
            generation: true),
        .init("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", namespaced: true, short: ["pdb"], generation: true),
        .init("rbac.authorization.k8s.io", "v1", "Role", "roles", namespaced: true, status: false),
        .init("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", namespaced: true, status: false),
        .init("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced: false, status: false),
        .init("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced: false, status: false),
        .init("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced: false, short: ["sc"], status: false),
        // Not in KubeClient's built-in table: the client finds it through discovery.
        .init("coordination.k8s.io", "v1", "Lease", "leases", namespaced: true, status: false),
    ]

    private static let byGroupVersionPlural: [String: StandInResource] =
        Dictionary(all.map { ("\($0.groupVersion)|\($0.plural)", $0) }, uniquingKeysWith: { a, _ in a })

    static func find(groupVersion: String, plural: String) -> StandInResource? {
        byGroupVersionPlural["\(groupVersion)|\(plural)"]
    }

    static func find(kind: String) -> StandInResource? { all.first { $0.kind == kind } }

    /// Group versions in discovery order (core first).
    static var groupVersions: [(group: String, version: String)] {
        var seen = Set<String>()
        var result: [(String, String)] = []
        for r in all where seen.insert(r.groupVersion).inserted { result.append((r.group, r.version)) }
        return result
    }

    var verbs: [String] { ["create", "delete", "deletecollection", "get", "list", "patch", "update"] }
}
