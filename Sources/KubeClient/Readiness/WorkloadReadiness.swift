/// Where a workload stands: done, still on its way (and why), or failed for good.
public enum ReadinessState: Sendable, Hashable {
    case ready
    case pending(String)
    case failed(String)

    public var isReady: Bool { self == .ready }
}

/// Readiness rules for workloads, as `kubectl rollout status` and `kubectl wait` apply them.
/// Pure functions over objects read from the API.
public enum WorkloadReadiness {
    /// A Deployment is available when the controller has seen its latest spec, every replica
    /// runs the new template, no old replica is left and all of them are available.
    public static func deployment(_ object: KubeObject) -> ReadinessState {
        let status = object.status ?? .object([:])
        let wanted = object["spec", "replicas"]?.intValue ?? 1
        if let generation = object.generation, (status["observedGeneration"]?.intValue ?? 0) < generation {
            return .pending("the controller has not yet seen generation \(generation)")
        }
        if let progressing = object.condition("Progressing"), progressing.reason == "ProgressDeadlineExceeded" {
            return .failed("progress deadline exceeded" + (progressing.message.map { ": \($0)" } ?? ""))
        }
        let updated = status["updatedReplicas"]?.intValue ?? 0
        let current = status["replicas"]?.intValue ?? 0
        let available = status["availableReplicas"]?.intValue ?? 0
        if updated < wanted { return .pending("\(updated) of \(wanted) replicas updated") }
        if current > updated { return .pending("\(current - updated) old replicas are pending termination") }
        if available < updated {
            var reason = "\(available) of \(wanted) replicas available"
            if let c = object.condition("Available"), !c.isTrue, let r = c.reason { reason += " (\(r))" }
            return .pending(reason)
        }
        return .ready
    }

    /// A StatefulSet is ready when the controller has seen its latest spec and all replicas are
    /// ready on the current revision.
    public static func statefulSet(_ object: KubeObject) -> ReadinessState {
        let status = object.status ?? .object([:])
        let wanted = object["spec", "replicas"]?.intValue ?? 1
        if let generation = object.generation, (status["observedGeneration"]?.intValue ?? 0) < generation {
            return .pending("the controller has not yet seen generation \(generation)")
        }
        let ready = status["readyReplicas"]?.intValue ?? 0
        if ready < wanted { return .pending("\(ready) of \(wanted) replicas ready") }
        if object["spec", "updateStrategy", "type"]?.stringValue != "OnDelete" {
            let updated = status["updatedReplicas"]?.intValue ?? 0
            if updated < wanted { return .pending("\(updated) of \(wanted) replicas updated") }
            if let current = status["currentRevision"]?.stringValue, let update = status["updateRevision"]?.stringValue,
                current != update
            {
                return .pending("rolling update to revision \(update) in progress")
            }
        }
        return .ready
    }

    /// A Job is done when its `Complete` condition is true, and failed for good when `Failed` is.
    public static func job(_ object: KubeObject) -> ReadinessState {
        if let failed = object.condition("Failed"), failed.isTrue {
            return .failed([failed.reason, failed.message].compactMap { $0 }.joined(separator: ": "))
        }
        if let complete = object.condition("Complete"), complete.isTrue { return .ready }
        let succeeded = object.status?["succeeded"]?.intValue ?? 0
        let completions = object["spec", "completions"]?.intValue ?? 1
        let active = object.status?["active"]?.intValue ?? 0
        return .pending("\(succeeded) of \(completions) completions, \(active) active")
    }

    /// A Pod is ready when its `Ready` condition is true; `Failed` is final.
    public static func pod(_ object: KubeObject) -> ReadinessState {
        let phase = object.status?["phase"]?.stringValue ?? "Pending"
        if phase == "Failed" { return .failed("phase Failed" + (object.status?["message"]?.stringValue.map { ": \($0)" } ?? "")) }
        if phase == "Succeeded" { return .ready }
        if let ready = object.condition("Ready"), ready.isTrue { return .ready }
        return .pending("phase \(phase)")
    }

    /// The rule for the object's kind; kinds without a rollout are ready once they exist.
    public static func state(of object: KubeObject) -> ReadinessState {
        switch object.kind {
        case "Deployment": return deployment(object)
        case "StatefulSet": return statefulSet(object)
        case "Job": return job(object)
        case "Pod": return pod(object)
        default: return .ready
        }
    }
}
