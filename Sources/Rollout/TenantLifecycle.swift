import Foundation
import KubeClient

/// `coordinator stop|start|teardown`: scale a tenant's workloads to zero and back, or delete
/// everything it owns. "Owns" means exactly: carries the label `bok.io/tenant=<tenant>`.
public struct TenantLifecycle: Sendable {
    /// The annotation that remembers a workload's replica count while it is stopped.
    public static let replicasAnnotation = "bok.io/replicas"

    /// Kinds teardown looks for, deleted in this order (workloads first, namespaces and
    /// cluster-wide volumes last).
    public static let teardownKinds = [
        "Job", "CronJob", "Deployment", "StatefulSet", "DaemonSet", "Pod", "Service",
        "PersistentVolumeClaim", "ConfigMap", "Secret", "ServiceAccount", "RoleBinding", "Role",
        "NetworkPolicy", "Ingress", "Namespace", "PersistentVolume",
    ]

    public let client: KubeClient
    public let tenant: String
    let reporter: @Sendable (String) -> Void

    public init(client: KubeClient, tenant: String, reporter: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client
        self.tenant = tenant
        self.reporter = reporter
    }

    var selector: String { NetworkMaterial.tenantSelector(tenant) }

    /// One workload's replica change.
    public struct ScaleChange: Sendable, Codable, Equatable {
        public var object: String
        public var from: Int
        public var to: Int
        /// False when it already had the wanted count (nothing was written).
        public var changed: Bool
    }

    private func workloads() throws(KubeError) -> [KubeObject] {
        var result: [KubeObject] = []
        for type in [ResourceType.deployment, ResourceType.statefulSet] {
            result += try client.list(type, namespace: nil, labelSelector: selector)
        }
        return result.sorted { $0.ref.description < $1.ref.description }
    }

    /// Scales every Deployment and StatefulSet of the tenant to 0, remembering each count in the
    /// `bok.io/replicas` annotation. A stopped workload is left as it is (its count stays remembered).
    public func stop() throws(KubeError) -> [ScaleChange] {
        var changes: [ScaleChange] = []
        for object in try workloads() {
            let replicas = object["spec", "replicas"]?.intValue ?? 1
            if replicas == 0 {
                let remembered = object.annotations[Self.replicasAnnotation].flatMap(Int.init) ?? 0
                changes.append(ScaleChange(object: object.ref.description, from: remembered, to: 0, changed: false))
                continue
            }
            let patch: JSON = [
                "metadata": ["annotations": [Self.replicasAnnotation: .string(String(replicas))]],
                "spec": ["replicas": 0],
            ]
            try client.patch(object.ref, mergePatch: patch)
            reporter("\(object.ref): \(replicas) → 0")
            changes.append(ScaleChange(object: object.ref.description, from: replicas, to: 0, changed: true))
        }
        return changes
    }

    /// Restores the replica counts `stop` remembered and removes the annotation. Workloads that
    /// were not stopped by BoK are left alone.
    public func start() throws(KubeError) -> [ScaleChange] {
        var changes: [ScaleChange] = []
        for object in try workloads() {
            let current = object["spec", "replicas"]?.intValue ?? 1
            guard let text = object.annotations[Self.replicasAnnotation] else {
                changes.append(ScaleChange(object: object.ref.description, from: current, to: current, changed: false))
                continue
            }
            guard let wanted = Int(text), wanted >= 0 else {
                throw .invalidObject(
                    "\(object.ref) has annotation \(Self.replicasAnnotation)=\"\(text)\", not a replica count; "
                        + "set spec.replicas by hand (kubectl scale) and remove the annotation")
            }
            let patch: JSON = ["metadata": ["annotations": [Self.replicasAnnotation: .null]], "spec": ["replicas": .int(Int64(wanted))]]
            try client.patch(object.ref, mergePatch: patch)
            reporter("\(object.ref): \(current) → \(wanted)")
            changes.append(ScaleChange(object: object.ref.description, from: current, to: wanted, changed: true))
        }
        return changes
    }

    /// What teardown deletes, and the kinds it did not look for because the server does not serve them.
    public struct TeardownPlan: Sendable, Equatable {
        /// Every object labelled with the tenant, in deletion order.
        public var objects: [ObjectRef]
        /// `CronJob (batch)`-style notes: kinds BoK labels that this API server does not serve (skipped).
        public var skippedKinds: [String]
        /// Group versions whose discovery failed (kinds served only there were not looked at).
        public var undiscovered: [String]
    }

    /// What teardown would delete: every object labelled with the tenant, in deletion order.
    public func teardownPlan() throws(KubeError) -> [ObjectRef] { try plan().objects }

    /// The kinds come from the server's discovery: each kind BoK labels (``teardownKinds``) is listed where
    /// the server serves it (its built-in group version when served, else the group's preferred one); a kind
    /// the server does not serve is skipped and said, never fatal. When discovery itself cannot be read,
    /// the built-in table is used and a 404 on a list means the same: not served.
    public func plan() throws(KubeError) -> TeardownPlan {
        var served: ServedResources?
        do {
            served = try client.servedResources()
        } catch {
            guard error.isNotFound || error.statusCode == 403 else { throw error }
            reporter("cannot read the API's discovery (\(error)); looking for the kinds BoK knows")
        }
        for (gv, why) in (served?.failed ?? [:]).sorted(by: { $0.key < $1.key }) {
            reporter("discovery of \(gv) failed (\(why)); kinds served only there are not looked at")
        }
        var refs: [ObjectRef] = []
        var skipped: [String] = []
        for kind in Self.teardownKinds {
            let type: ResourceType
            if let served {
                guard let found = served.listable(kind: kind) else {
                    let known = ResourceType.known(kind: kind).map { " (\($0.plural).\($0.group.isEmpty ? "core" : $0.group))" } ?? ""
                    reporter("the API does not serve \(kind)\(known): skipped, nothing of it to delete")
                    skipped.append(kind)
                    continue
                }
                type = found
            } else {
                guard let known = ResourceType.known(kind: kind) else { continue }
                type = known
            }
            let objects: [KubeObject]
            do {
                objects = try client.list(type, namespace: nil, labelSelector: selector)
            } catch {
                // Discovery can be stale; a server that does not serve a kind (404 on its list) holds nothing of it.
                guard error.isNotFound else { throw error }
                reporter("the API does not serve \(type.plural).\(type.group.isEmpty ? "core" : type.group) (\(kind)); nothing of it to delete")
                skipped.append(kind)
                continue
            }
            for object in objects.sorted(by: { $0.ref.description < $1.ref.description }) where object.deletionTimestamp == nil || kind == "Namespace"
            {
                refs.append(ObjectRef(type, namespace: object.namespace, name: object.name))
            }
        }
        return TeardownPlan(objects: refs, skippedKinds: skipped, undiscovered: (served?.failed.keys).map { $0.sorted() } ?? [])
    }

    /// Deletes the planned objects (namespaced ones first, then namespaces, then volumes) and
    /// waits until they are gone. Returns what was deleted (objects already gone are left out).
    public func teardown(_ plan: [ObjectRef], timeout: Double, pollInterval: Double = 1) throws(KubeError) -> [ObjectRef] {
        var deleted: [ObjectRef] = []
        for ref in plan {
            if try client.delete(ref, propagation: .background) {
                deleted.append(ref)
                reporter("deleted \(ref)")
            }
        }
        reporter("waiting for \(plan.count) object(s) to be gone")
        try client.waitForDeletion(plan, timeout: timeout, pollInterval: pollInterval)
        return deleted
    }
}
