import Foundation

extension KubeClient {
    /// Waits until the named Deployments of a namespace are available (see
    /// `WorkloadReadiness.deployment`). Polls with one LIST per round, not one GET per object.
    /// Throws `timedOut` naming what each pending Deployment still lacks, or `workloadFailed`
    /// as soon as one is past its progress deadline.
    public func waitForDeploymentsAvailable(
        namespace: String, names: [String], timeout: Double,
        pollInterval: Double = 1
    ) throws(KubeError) {
        try waitForWorkloads(
            .deployment, namespace: namespace, names: names, timeout: timeout, pollInterval: pollInterval,
            what: "Deployments in \(namespace) to become available", rule: WorkloadReadiness.deployment)
    }

    /// Waits until the named StatefulSets of a namespace have all replicas ready.
    public func waitForStatefulSetsReady(
        namespace: String, names: [String], timeout: Double,
        pollInterval: Double = 1
    ) throws(KubeError) {
        try waitForWorkloads(
            .statefulSet, namespace: namespace, names: names, timeout: timeout, pollInterval: pollInterval,
            what: "StatefulSets in \(namespace) to become ready", rule: WorkloadReadiness.statefulSet)
    }

    /// Waits until a Job completes and returns it. A Job whose `Failed` condition turns true
    /// throws `workloadFailed` at once, with the Job's reason and message.
    @discardableResult
    public func waitForJobComplete(
        namespace: String, name: String, timeout: Double,
        pollInterval: Double = 1
    ) throws(KubeError) -> KubeObject {
        let ref = ObjectRef.job(name, namespace: namespace)
        let deadline = Date().addingTimeInterval(timeout)
        var lastReason = "not found"
        while true {
            if let job = try getIfPresent(ref) {
                switch WorkloadReadiness.job(job) {
                case .ready: return job
                case .failed(let reason): throw .workloadFailed(ref, reason: reason)
                case .pending(let reason): lastReason = reason
                }
            }
            guard try pause(until: deadline, pollInterval: pollInterval) else {
                throw .timedOut(waitingFor: "Job \(namespace)/\(name) to complete", seconds: timeout, pending: ["\(name): \(lastReason)"])
            }
        }
    }

    /// Waits until none of the objects exists any more (namespaces take a while to terminate).
    /// A few objects are checked with one GET each; many with one LIST per kind and namespace
    /// per poll, so a large tenant's teardown does not cost a request per object per second.
    public func waitForDeletion(_ refs: [ObjectRef], timeout: Double, pollInterval: Double = 1) throws(KubeError) {
        let deadline = Date().addingTimeInterval(timeout)
        var pending = refs
        while true {
            pending = try stillPresent(pending)
            if pending.isEmpty { return }
            guard try pause(until: deadline, pollInterval: pollInterval) else {
                throw .timedOut(waitingFor: "objects to be deleted", seconds: timeout, pending: pending.map(\.description))
            }
        }
    }

    /// The refs that still exist.
    private func stillPresent(_ refs: [ObjectRef]) throws(KubeError) -> [ObjectRef] {
        struct Group: Hashable {
            var apiVersion, kind: String
            var namespace: String?
        }
        var groups: [Group: [ObjectRef]] = [:]
        for ref in refs { groups[Group(apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace), default: []].append(ref) }
        var present: [ObjectRef] = []
        for (group, members) in groups {
            if members.count <= 2 {
                for ref in members where try getIfPresent(ref) != nil { present.append(ref) }
                continue
            }
            let type = try resourceType(apiVersion: group.apiVersion, kind: group.kind)
            let names = Set(try list(type, namespace: group.namespace).map(\.name))
            present += members.filter { names.contains($0.name) }
        }
        let stillThere = Set(present)
        return refs.filter { stillThere.contains($0) }
    }

    private func waitForWorkloads(
        _ type: ResourceType, namespace: String, names: [String], timeout: Double,
        pollInterval: Double, what: String,
        rule: (KubeObject) -> ReadinessState
    ) throws(KubeError) {
        let deadline = Date().addingTimeInterval(timeout)
        let wanted = Set(names)
        while true {
            var pending: [String] = []
            if !wanted.isEmpty {
                let found = Dictionary(
                    try list(type, namespace: namespace).filter { wanted.contains($0.name) }.map { ($0.name, $0) },
                    uniquingKeysWith: { a, _ in a })
                for name in names.sorted() {
                    guard let object = found[name] else {
                        pending.append("\(name): not found")
                        continue
                    }
                    switch rule(object) {
                    case .ready: break
                    case .pending(let reason): pending.append("\(name): \(reason)")
                    case .failed(let reason): throw .workloadFailed(object.ref, reason: reason)
                    }
                }
            }
            if pending.isEmpty { return }
            guard try pause(until: deadline, pollInterval: pollInterval) else {
                throw .timedOut(waitingFor: what, seconds: timeout, pending: pending)
            }
        }
    }

    /// Sleeps one poll interval (or less, up to the deadline). False when the deadline has passed.
    private func pause(until deadline: Date, pollInterval: Double) throws(KubeError) -> Bool {
        let left = deadline.timeIntervalSinceNow
        if left <= 0 { return false }
        Thread.sleep(forTimeInterval: min(pollInterval, left))
        return true
    }
}
