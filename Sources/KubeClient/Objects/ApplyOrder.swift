/// The order objects are applied in, so that nothing is created before what it needs:
/// namespaces, then cluster-wide objects, then configuration and storage, services, workloads,
/// and Jobs last (they run once and read everything else). Kinds BoK does not know (custom
/// resources) come at the very end.
public enum ApplyOrder {
    static let ranks: [String: Int] = [
        "Namespace": 0, "CustomResourceDefinition": 0,
        "StorageClass": 1, "PersistentVolume": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "PriorityClass": 1,
        "ServiceAccount": 2, "Secret": 2, "ConfigMap": 2, "PersistentVolumeClaim": 2, "Role": 2, "RoleBinding": 2,
        "ResourceQuota": 2, "LimitRange": 2, "NetworkPolicy": 2,
        "Service": 3, "Endpoints": 3,
        "Deployment": 4, "StatefulSet": 4, "DaemonSet": 4, "ReplicaSet": 4, "Pod": 4, "PodDisruptionBudget": 4,
        "Ingress": 4, "CronJob": 4,
        "Job": 5,
    ]

    /// The stage of a kind: lower applies first.
    public static func rank(ofKind kind: String) -> Int { ranks[kind] ?? 6 }

    /// The objects grouped in stages; within a stage they keep their given order.
    public static func stages(_ objects: [KubeObject]) -> [[KubeObject]] {
        var buckets: [Int: [KubeObject]] = [:]
        for object in objects { buckets[rank(ofKind: object.kind), default: []].append(object) }
        return buckets.keys.sorted().map { buckets[$0]! }
    }

    /// The objects in apply order (stable within a stage).
    public static func sorted(_ objects: [KubeObject]) -> [KubeObject] { stages(objects).flatMap { $0 } }
}
