import Foundation

/// The stand-in's simulated controllers: what kube-controller-manager, the scheduler, the
/// kubelets and a volume provisioner would do, reduced to status changes after a delay.
/// Deployments, StatefulSets and ReplicaSets become available, Jobs complete, Pods run, claims
/// bind. Pods of workloads are owned by the workload directly (there are no ReplicaSets).
extension StandInStore {
    func condition(_ type: String, _ status: Bool, _ reason: String, _ message: String, _ now: String) -> StandInJSON {
        .object([
            "type": .string(type), "status": status ? "True" : "False", "reason": .string(reason),
            "message": .string(message), "lastTransitionTime": .string(now), "lastUpdateTime": .string(now),
        ])
    }

    /// Status a freshly created object gets at once.
    func initialStatus(_ resource: StandInResource, _ o: inout StandInJSON) {
        switch resource.kind {
        case "Namespace": o["status"] = ["phase": "Active"]
        case "Service": o["status"] = ["loadBalancer": .object([:])]
        case "Pod":
            // The scheduler, simulated: pods land on the nodes in turn.
            if o[path: ["spec", "nodeName"]] == nil, let node = nextNode() { o[path: ["spec", "nodeName"]] = .string(node.0) }
            o["status"] = ["phase": "Pending", "qosClass": "BestEffort"]
        case "PersistentVolume": o["status"] = ["phase": "Available"]
        case "PersistentVolumeClaim":
            // Dynamic provisioning, simulated: the claim binds at once.
            o["status"] = .object([
                "phase": "Bound", "accessModes": o[path: ["spec", "accessModes"]] ?? [],
                "capacity": .object(["storage": o[path: ["spec", "resources", "requests", "storage"]] ?? "1Gi"]),
            ])
            if o[path: ["spec", "volumeName"]] == nil {
                o[path: ["spec", "volumeName"]] = .string("pvc-" + (o[path: ["metadata", "uid"]]?.stringValue ?? UUID().uuidString.lowercased()))
            }
            if o[path: ["spec", "storageClassName"]] == nil { o[path: ["spec", "storageClassName"]] = "standard" }
        default: break
        }
    }

    /// Status right after a workload's spec changed: the controller has seen it, replicas are
    /// on their way but not available yet.
    func progressStatus(_ resource: StandInResource, _ o: inout StandInJSON, old: StandInJSON?) {
        let now = Self.now()
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        let generation = o[path: ["metadata", "generation"]] ?? 1
        let replicas = o[path: ["spec", "replicas"]]?.intValue ?? 1
        var available = min(old?[path: ["status", "availableReplicas"]]?.intValue ?? 0, replicas)
        // The Recreate strategy stops every old pod before the new ones start: nothing is available meanwhile.
        if resource.kind == "Deployment", o[path: ["spec", "strategy", "type"]]?.stringValue == "Recreate",
            old?[path: ["spec", "template"]] != o[path: ["spec", "template"]]
        {
            available = 0
        }
        switch resource.kind {
        case "Deployment", "ReplicaSet":
            var s: [String: StandInJSON] = ["observedGeneration": generation]
            if replicas > 0 {
                s["replicas"] = .int(Int64(replicas))
                s["updatedReplicas"] = .int(Int64(replicas))
            }
            if available > 0 {
                s["availableReplicas"] = .int(Int64(available))
                s["readyReplicas"] = .int(Int64(available))
            }
            if replicas - available > 0 { s["unavailableReplicas"] = .int(Int64(replicas - available)) }
            if resource.kind == "Deployment" {
                s["conditions"] = [
                    condition(
                        "Available", available >= replicas, available >= replicas ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                        available >= replicas ? "Deployment has minimum availability." : "Deployment does not have minimum availability.", now),
                    condition("Progressing", true, "ReplicaSetUpdated", "ReplicaSet \"\(name)-\(templateHash(o))\" is progressing.", now),
                ]
            }
            o["status"] = .object(s)
        case "StatefulSet":
            let revision = "\(name)-\(templateHash(o))"
            o["status"] = .object([
                "observedGeneration": generation, "replicas": .int(Int64(replicas)), "availableReplicas": .int(Int64(available)),
                "currentRevision": .string(revision), "updateRevision": .string(revision), "collisionCount": 0,
            ])
        case "DaemonSet":
            o["status"] = .object([
                "observedGeneration": generation, "currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                "numberMisscheduled": 0, "numberReady": 0,
            ])
        case "Job":
            o["status"] = .object([
                "startTime": .string(now), "active": 1, "ready": 0, "terminating": 0,
                "uncountedTerminatedPods": .object([:]),
            ])
        default:
            break
        }
    }

    func behaviourKey(_ resource: StandInResource, _ o: StandInJSON) -> String {
        resource.kind + "/" + Self.key(o[path: ["metadata", "namespace"]]?.stringValue, o[path: ["metadata", "name"]]?.stringValue ?? "")
    }

    /// After the readiness delay, the workload (at this generation) becomes ready — or fails, or
    /// never does, as the test asked.
    func scheduleReadiness(_ resource: StandInResource, _ o: StandInJSON) {
        guard ["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "Pod"].contains(resource.kind) else { return }
        let ns = o[path: ["metadata", "namespace"]]?.stringValue
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        let generation = o[path: ["metadata", "generation"]]
        let uid = o[path: ["metadata", "uid"]]
        schedule(settings.readinessDelay) { [weak self] in
            guard let self else { return }
            self.lock.lock()
            defer { self.lock.unlock() }
            guard var current = self.object(resource, ns, name), current[path: ["metadata", "uid"]] == uid,
                current[path: ["metadata", "generation"]] == generation
            else { return }
            let behaviour = self.behaviours[self.behaviourKey(resource, current)] ?? .becomesReady
            switch behaviour {
            case .neverReady: return
            case .fails(let message): self.fail(resource, &current, message)
            case .becomesReady: self.makeReady(resource, &current)
            }
            current[path: ["metadata", "resourceVersion"]] = .string(self.nextRevision())
            self.put(resource, current)
        }
    }

    func fail(_ resource: StandInResource, _ o: inout StandInJSON, _ message: String) {
        let now = Self.now()
        switch resource.kind {
        case "Deployment":
            var conditions = o[path: ["status", "conditions"]]?.arrayValue ?? []
            conditions.removeAll { $0["type"]?.stringValue == "Progressing" }
            conditions.append(condition("Progressing", false, "ProgressDeadlineExceeded", message, now))
            o[path: ["status", "conditions"]] = .array(conditions)
        case "Job":
            o["status"] = .object([
                "startTime": o[path: ["status", "startTime"]] ?? .string(now), "failed": 1, "active": 0, "ready": 0, "terminating": 0,
                "uncountedTerminatedPods": .object([:]),
                "conditions": [
                    condition("FailureTarget", true, "BackoffLimitExceeded", message, now),
                    condition("Failed", true, "BackoffLimitExceeded", message, now),
                ],
            ])
            reconcilePods(resource, o, count: 1, phase: "Failed")
        case "Pod":
            o[path: ["status", "phase"]] = "Failed"
            o[path: ["status", "message"]] = .string(message)
        default:
            break
        }
    }

    func makeReady(_ resource: StandInResource, _ o: inout StandInJSON) {
        let now = Self.now()
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        let replicas = o[path: ["spec", "replicas"]]?.intValue ?? 1
        let generation = o[path: ["metadata", "generation"]] ?? 1
        let n = StandInJSON.int(Int64(replicas))
        switch resource.kind {
        case "Deployment", "ReplicaSet":
            var s: [String: StandInJSON] = ["observedGeneration": generation]
            if replicas > 0 {
                for k in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"] { s[k] = n }
            }
            if resource.kind == "Deployment" {
                s["conditions"] = [
                    condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.", now),
                    condition(
                        "Progressing", true, "NewReplicaSetAvailable",
                        "ReplicaSet \"\(name)-\(templateHash(o))\" has successfully progressed.", now),
                ]
            }
            o["status"] = .object(s)
            reconcilePods(resource, o, count: replicas, phase: "Running")
            if resource.kind == "Deployment" {
                workloadEvents.append(
                    .init(
                        event: .ready, workload: "\(o[path: ["metadata", "namespace"]]?.stringValue ?? "")/\(name)",
                        generation: generation.intValue ?? 0))
            }
        case "StatefulSet":
            let revision = "\(name)-\(templateHash(o))"
            o["status"] = .object([
                "observedGeneration": generation, "replicas": n, "readyReplicas": n, "currentReplicas": n, "updatedReplicas": n,
                "availableReplicas": n, "currentRevision": .string(revision), "updateRevision": .string(revision), "collisionCount": 0,
            ])
            reconcilePods(resource, o, count: replicas, phase: "Running")
        case "DaemonSet":
            let count = Int64(settings.nodeIPs.count)
            o["status"] = .object([
                "observedGeneration": generation, "currentNumberScheduled": .int(count),
                "desiredNumberScheduled": .int(count), "numberAvailable": .int(count), "numberReady": .int(count),
                "updatedNumberScheduled": .int(count), "numberMisscheduled": 0,
            ])
        case "Job":
            o["status"] = .object([
                "startTime": o[path: ["status", "startTime"]] ?? .string(now), "completionTime": .string(now),
                "succeeded": o[path: ["spec", "completions"]] ?? 1, "active": 0, "ready": 0, "terminating": 0,
                "uncountedTerminatedPods": .object([:]),
                "conditions": [
                    condition("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods", now),
                    condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods", now),
                ],
            ])
            reconcilePods(resource, o, count: 1, phase: "Succeeded")
        case "Pod":
            o["status"] = podStatus(o, phase: "Running", node: o[path: ["spec", "nodeName"]]?.stringValue)
        default:
            break
        }
    }

    /// `pod-template-hash`: a stable hash of the pod template, in the API's safe alphabet.
    func templateHash(_ o: StandInJSON) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (o[path: ["spec", "template"]] ?? .null).serialized() {
            hash ^= UInt64(b)
            hash = hash &* 0x100_0000_01b3
        }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var out = ""
        for _ in 0..<10 {
            out.append(alphabet[Int(hash % UInt64(alphabet.count))])
            hash /= UInt64(alphabet.count)
        }
        return out
    }

    func nextNode() -> (String, String)? {
        let nodes = settings.nodeIPs.sorted { $0.key < $1.key }
        guard !nodes.isEmpty else { return nil }
        defer { nodeCursor += 1 }
        let n = nodes[nodeCursor % nodes.count]
        return (n.key, n.value)
    }

    func podStatus(_ pod: StandInJSON, phase: String, node: String?) -> StandInJSON {
        let now = Self.now()
        let running = phase == "Running"
        let containers = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).map { c -> StandInJSON in
            var state: [String: StandInJSON] = [:]
            if running {
                state["running"] = .object(["startedAt": .string(now)])
            } else {
                state["terminated"] = .object([
                    "exitCode": .int(phase == "Succeeded" ? 0 : 1), "reason": phase == "Succeeded" ? "Completed" : "Error",
                    "startedAt": .string(now), "finishedAt": .string(now),
                ])
            }
            return .object([
                "name": c["name"] ?? "", "image": c["image"] ?? "", "imageID": "", "ready": .bool(running),
                "started": .bool(running), "restartCount": 0, "state": .object(state),
            ])
        }
        let octet = Int.random(in: 2...250)
        return .object([
            "phase": .string(phase), "qosClass": "BestEffort", "startTime": .string(now),
            "hostIP": .string(node.flatMap { settings.nodeIPs[$0] } ?? "198.18.0.1"),
            "podIP": .string("10.244.\(nodeCursor % 250).\(octet)"),
            "conditions": [
                condition("PodScheduled", true, "", "", now), condition("Initialized", true, "", "", now),
                condition("ContainersReady", running, "", "", now), condition("Ready", running, "", "", now),
            ],
            "containerStatuses": .array(containers),
        ])
    }

    /// Makes the workload own exactly `count` pods of its current template.
    func reconcilePods(_ resource: StandInResource, _ owner: StandInJSON, count: Int, phase: String) {
        guard let ns = owner[path: ["metadata", "namespace"]]?.stringValue,
            let ownerUID = owner[path: ["metadata", "uid"]]?.stringValue,
            let ownerName = owner[path: ["metadata", "name"]]?.stringValue
        else { return }
        let hash = templateHash(owner)
        var existing: [String: StandInJSON] = [:]
        for (key, pod) in tables[StandInResource.pods.id] ?? [:] where key.hasPrefix("\(ns)/") {
            if (pod[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains(where: { $0["uid"]?.stringValue == ownerUID }) {
                existing[key] = pod
            }
        }
        var keep: [String] = []
        for (key, pod) in existing.sorted(by: { $0.key < $1.key }) {
            let current =
                pod[path: ["metadata", "labels", "pod-template-hash"]]?.stringValue == hash
                || resource.kind == "Job"
            if current && keep.count < count { keep.append(key) } else { _ = remove(.pods, key: key) }
        }
        guard keep.count < count else { return }
        let template = owner[path: ["spec", "template"]] ?? .object([:])
        for i in keep.count..<count {
            let podName: String
            switch resource.kind {
            case "StatefulSet": podName = "\(ownerName)-\(i)"
            case "Job": podName = "\(ownerName)-\(Self.randomSuffix())"
            default: podName = "\(ownerName)-\(hash)-\(Self.randomSuffix())"
            }
            if object(.pods, ns, podName) != nil { continue }
            var labels = template[path: ["metadata", "labels"]]?.stringMap ?? [:]
            if resource.kind == "StatefulSet" {
                labels["statefulset.kubernetes.io/pod-name"] = podName
                labels["controller-revision-hash"] = "\(ownerName)-\(hash)"
            } else if resource.kind == "Job" {
                // What the Job controller adds, so `kubectl logs job/<name>` and clients find the pods.
                for key in ["job-name", "batch.kubernetes.io/job-name"] { labels[key] = ownerName }
                for key in ["controller-uid", "batch.kubernetes.io/controller-uid"] { labels[key] = ownerUID }
            } else {
                labels["pod-template-hash"] = hash
            }
            let node = nextNode()
            var pod: StandInJSON = .object([
                "apiVersion": "v1", "kind": "Pod",
                "metadata": .object([
                    "name": .string(podName), "namespace": .string(ns), "uid": .string(UUID().uuidString.lowercased()),
                    "creationTimestamp": .string(Self.now()), "labels": StandInJSON.strings(labels),
                    "ownerReferences": [
                        .object([
                            "apiVersion": .string(resource.apiVersion), "kind": .string(resource.kind),
                            "name": .string(ownerName), "uid": .string(ownerUID), "controller": true,
                            "blockOwnerDeletion": true,
                        ])
                    ],
                ]),
                "spec": template["spec"] ?? .object([:]),
            ])
            if let node { pod[path: ["spec", "nodeName"]] = .string(node.0) }
            pod["status"] = podStatus(pod, phase: phase, node: node?.0)
            pod[path: ["metadata", "resourceVersion"]] = .string(nextRevision())
            put(.pods, pod)
        }
    }
}
