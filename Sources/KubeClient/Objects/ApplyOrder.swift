/// The order objects are applied in, so that nothing is created before what it needs:
/// namespaces, then cluster-wide objects, then configuration and storage, services, workloads,
/// and Jobs last (they run once and read everything else). Kinds BoK does not know (custom
/// resources) come at the very end.
public enum ApplyOrder {
    /// BoK's one apply order, fine-grained: also the `NN-` prefix of the files `coordinator render` writes, so
    /// `kubectl apply -R -f DIR` creates what others refer to first. Stages (``rank(ofKind:)``) group these ranks.
    static let ranks: [String: Int] = [
        "Namespace": 0, "CustomResourceDefinition": 0,
        "NetworkPolicy": 3,
        "StorageClass": 5, "PersistentVolume": 5, "ClusterRole": 5, "ClusterRoleBinding": 5, "PriorityClass": 5,
        "ServiceAccount": 10, "Secret": 10, "Role": 10, "RoleBinding": 10, "ResourceQuota": 10, "LimitRange": 10,
        "ConfigMap": 15, "PersistentVolumeClaim": 20,
        "Service": 30, "Endpoints": 30,
        "Deployment": 40, "StatefulSet": 40, "DaemonSet": 40, "ReplicaSet": 40, "Pod": 40, "PodDisruptionBudget": 40,
        "Ingress": 40, "CronJob": 40,
        "Job": 50,
    ]

    /// The fine-grained rank of a kind (90 for kinds BoK does not know): the rendered files' prefix.
    public static func fileRank(ofKind kind: String) -> Int { ranks[kind] ?? 90 }

    /// The stage of a kind, lower applies first: 0 namespaces, 1 cluster-wide objects and policies, 2 configuration
    /// and storage, 3 services, 4 workloads, 5 Jobs, 6 kinds BoK does not know.
    public static func rank(ofKind kind: String) -> Int {
        switch fileRank(ofKind: kind) {
        case 0: return 0
        case 1..<10: return 1
        case 10..<30: return 2
        case 30..<40: return 3
        case 40..<50: return 4
        case 50..<90: return 5
        default: return 6
        }
    }

    /// The objects grouped in stages; within a stage they keep their given order.
    public static func stages(_ objects: [KubeObject]) -> [[KubeObject]] {
        var buckets: [Int: [KubeObject]] = [:]
        for object in objects { buckets[rank(ofKind: object.kind), default: []].append(object) }
        return buckets.keys.sorted().map { buckets[$0]! }
    }

    /// The objects in apply order (stable within a stage).
    public static func sorted(_ objects: [KubeObject]) -> [KubeObject] { stages(objects).flatMap { $0 } }
}
