import BoKSystem
import Foundation
import KubeClient

/// Brings a set of objects to the cluster with as few requests as possible: one LIST per kind
/// to see what is there, then a server-side apply only for objects that are missing or whose
/// rendered fields differ from what is stored. A converged re-run therefore sends no write
/// at all; anything changed by hand is put back.
struct ObjectSync: Sendable {
    let client: KubeClient
    let tenantSelector: String
    /// Objects applied at once within an apply stage.
    let concurrency: Int

    /// What the cluster holds of the tenant, per object reference.
    func snapshot(kinds: Set<String>) throws(KubeError) -> [ObjectRef: KubeObject] {
        var stored: [ObjectRef: KubeObject] = [:]
        for kind in kinds.sorted(by: { (ApplyOrder.rank(ofKind: $0), $0) < (ApplyOrder.rank(ofKind: $1), $1) }) {
            guard let type = ResourceType.known(kind: kind) else { continue }
            for object in try client.list(type, namespace: nil, labelSelector: tenantSelector) {
                stored[Self.key(object.ref)] = object
            }
        }
        return stored
    }

    /// The metadata (identity, labels, uid, resourceVersion) of what the cluster holds of the tenant: the cheap look
    /// a converged rollout takes.
    func metadataSnapshot(kinds: Set<String>) throws(KubeError) -> [ObjectRef: KubeObject] {
        var stored: [ObjectRef: KubeObject] = [:]
        for kind in kinds.sorted() {
            guard let type = ResourceType.known(kind: kind) else { continue }
            for object in try client.listMetadata(type, namespace: nil, labelSelector: tenantSelector) {
                stored[Self.key(object.ref)] = object
            }
        }
        return stored
    }

    /// Refs compare without apiVersion differences (`apps/v1` vs a list item's).
    static func key(_ ref: ObjectRef) -> ObjectRef {
        ObjectRef(apiVersion: "", kind: ref.kind, namespace: ref.namespace, name: ref.name)
    }

    /// What applying `objects` would do, given what is stored.
    static func plan(_ objects: [KubeObject], stored: [ObjectRef: KubeObject]) -> [ObjectChange] {
        objects.map { object in
            guard let existing = stored[key(object.ref)] else { return ObjectChange(object: object.ref.description, action: .create) }
            if isSubset(object.json, of: existing.json, path: []) {
                return ObjectChange(object: object.ref.description, action: .unchanged)
            }
            return ObjectChange(object: object.ref.description, action: object.kind == "Job" ? .recreate : .update)
        }
    }

    /// True when every field set in `wanted` has the same value in `stored` (server defaults
    /// and status may add more). Lists must have the same length, element by element.
    static func isSubset(_ wanted: JSON, of stored: JSON, path: [String]) -> Bool {
        switch (wanted, stored) {
        case (.object(let w), .object(let s)):
            for (k, v) in w {
                // Server-managed metadata never counts.
                if path == ["metadata"], ["resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"].contains(k) {
                    continue
                }
                guard let sv = s[k] else {
                    if case .null = v { continue }
                    if case .object(let o) = v, o.isEmpty { continue }
                    if case .array(let a) = v, a.isEmpty { continue }
                    return false
                }
                if !isSubset(v, of: sv, path: path + [k]) { return false }
            }
            return true
        case (.array(let w), .array(let s)):
            guard w.count == s.count else { return false }
            for (a, b) in zip(w, s) where !isSubset(a, of: b, path: path) { return false }
            return true
        case (.int, _), (.double, _):
            guard let a = wanted.doubleValue, let b = stored.doubleValue else { return false }
            return a == b
        default:
            return wanted == stored
        }
    }

    /// Why applying stopped: the object that failed, its error, and what was applied before.
    struct Failure: Error {
        var object: ObjectRef
        var error: KubeError
        var changes: [ObjectChange]
    }

    /// Applies the objects that need it, in `ApplyOrder` stages. Jobs whose rendered spec
    /// differs are deleted and created again (a Job's template cannot change). Calls
    /// `progress(done, total)` after each object.
    func apply(
        _ objects: [KubeObject], stored: [ObjectRef: KubeObject], jobTimeout: Double,
        progress: @escaping @Sendable (Int, Int) -> Void
    ) throws(Failure) -> [ObjectChange] {
        let planned = Self.plan(objects, stored: stored)
        let actions = Dictionary(zip(objects.map { Self.key($0.ref) }, planned.map(\.action)), uniquingKeysWith: { a, _ in a })
        let work = objects.filter { actions[Self.key($0.ref)] != .unchanged }
        var changes = planned.filter { $0.action == .unchanged }
        let total = objects.count
        let counter = ProgressCounter(start: changes.count)
        progress(counter.value, total)
        for stage in ApplyOrder.stages(work) {
            let client = self.client
            let results = ConcurrentWork.map(count: stage.count, concurrency: concurrency) { i -> Result<ObjectChange, KubeError> in
                let object = stage[i]
                let action = actions[Self.key(object.ref)] ?? .update
                defer { progress(counter.increment(), total) }
                do throws(KubeError) {
                    if action == .recreate {
                        try client.delete(object.ref, propagation: .background)
                        try client.waitForDeletion([object.ref], timeout: jobTimeout, pollInterval: 0.5)
                    }
                    try client.apply(object)
                    return .success(ObjectChange(object: object.ref.description, action: action))
                } catch {
                    return .failure(error)
                }
            }
            var failure: (ObjectRef, KubeError)?
            for (i, result) in results.enumerated() {
                switch result {
                case .success(let change): changes.append(change)
                case .failure(let error):
                    changes.append(ObjectChange(object: stage[i].ref.description, action: .failed, message: error.description))
                    if failure == nil { failure = (stage[i].ref, error) }
                }
            }
            if let failure { throw Failure(object: failure.0, error: failure.1, changes: changes) }
        }
        return changes
    }
}

/// A thread-safe counter for progress.
final class ProgressCounter: Sendable {
    private let count: Locked<Int>
    init(start: Int) { count = Locked(start) }
    var value: Int { count.value }
    func increment() -> Int {
        count.withLock { count in
            count += 1
            return count
        }
    }
}
