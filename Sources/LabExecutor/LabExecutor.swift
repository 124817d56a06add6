import BoKSystem
import DockerEngine
import Foundation
import KubeClient
import Lab

#if canImport(Glibc)
    import Glibc
#endif

/// The lab's kubelet and workload controllers in one loop: turns the Deployments and Jobs applied to the Kubernetes
/// API into real processes from a Fabric release (see `PodSandboxes`), keeps the lab's kube-dns answering every
/// Service's name with its ClusterIP, and writes back what really happened: Pods with their phase, IP and container
/// states, Deployment availability from the process being up and its readiness probe, Job completion from the exit
/// status. Containers whose image no Fabric release holds (CouchDB, the explorer) are reported as not run.
public final class LabExecutor: @unchecked Sendable {
    // @unchecked: its tables are read and swapped under `lock`; the reconcile loop, one thread, is their only writer.
    public let kube: KubeClient
    public let lab: LabState
    public let sandboxes: PodSandboxes
    private let say: @Sendable (String) -> Void
    private var pods: [String: RunningPod] = [:]
    private var writtenStatus: [String: JSON] = [:]
    private var dnsRecords: [String: String] = [:]
    /// The NetworkPolicy rules loaded into each pod's namespace (by pod key), so unchanged rules are not reloaded.
    private var loadedRules: [String: String] = [:]
    private let lock = NSLock()

    /// Pod addresses when no Service selects the pod: 198.18.<subnet>.60–98; Services get .100–.254.
    public static let podSlots = 1...39

    public init(kube: KubeClient, lab: LabState, release: String, log: @escaping @Sendable (String) -> Void) {
        self.kube = kube
        self.lab = lab
        self.sandboxes = PodSandboxes(lab: lab, release: release)
        self.say = log
    }

    /// One pod the executor runs for a workload.
    struct RunningPod {
        var key: String
        var ownerKind: String
        var owner: KubeObject
        var podName: String
        var templateHash: String
        var sandbox: PodSandbox
        var plan: PodPlan
        var processes: [String: ContainerProcess] = [:]
        var restarts: [String: Int] = [:]
        var lastExit: [String: Int32] = [:]
        var restartAt: [String: Date] = [:]
        var ready = false
        var failures = 0
        var finished: String?  // "Succeeded" or "Failed" for Job pods
        var launched = false
        var created = Date()
        var message: String?
    }

    // MARK: loop

    /// Reconciles every `interval` seconds until `shouldStop` says so, then stops every pod.
    public func run(interval: Double = 1, shouldStop: @escaping () -> Bool) {
        while !shouldStop() {
            let started = Date()
            do { try reconcile() } catch { say("executor: \(error) (retrying)") }
            let rest = interval - Date().timeIntervalSince(started)
            if rest > 0 { usleep(useconds_t(rest * 1e6)) }
        }
        stopAll()
    }

    /// Stops every pod's processes and removes their sandboxes (claims and logs stay).
    public func stopAll() {
        lock.lock()
        let all = pods.values
        pods = [:]
        lock.unlock()
        for pod in all { stop(pod, reason: "executor stopping") }
    }

    /// The log of a container of a pod the executor ran, for the API's `pods/log`.
    public func log(namespace: String, pod: String, container: String?) -> String? {
        let base = "\(sandboxes.logsDirectory)/\(namespace)_\(pod)"
        if let container { return try? String(contentsOfFile: "\(base)_\(container).log", encoding: .utf8) }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sandboxes.logsDirectory)) ?? []
        guard let first = names.sorted().first(where: { $0.hasPrefix("\(namespace)_\(pod)_") }) else { return nil }
        return try? String(contentsOfFile: "\(sandboxes.logsDirectory)/\(first)", encoding: .utf8)
    }

    public func reconcile() throws {
        let services = try kube.list(apiVersion: "v1", kind: "Service")
        updateDNS(services)
        let deployments = try kube.list(apiVersion: "apps/v1", kind: "Deployment")
        let jobs = try kube.list(apiVersion: "batch/v1", kind: "Job")
        var desired: [String: (kind: String, owner: KubeObject, hash: String, index: Int)] = [:]
        for d in deployments where d.metadata["deletionTimestamp"] == nil {
            let replicas = d["spec", "replicas"]?.intValue ?? 1
            for i in 0..<max(0, replicas) {
                desired["Deployment/\(d.namespace ?? "")/\(d.name)/\(i)"] = ("Deployment", d, Self.hash(d["spec", "template"]), i)
            }
        }
        for j in jobs where j.metadata["deletionTimestamp"] == nil {
            desired["Job/\(j.namespace ?? "")/\(j.name)/0"] = ("Job", j, j.metadata["uid"]?.stringValue ?? "", 0)
        }
        lock.lock()
        let current = pods
        lock.unlock()
        // Gone, or changed: the Recreate strategy (what BoK renders) stops the old pod before the new one starts.
        for (key, pod) in current {
            guard let want = desired[key], want.hash == pod.templateHash else {
                stop(pod, reason: desired[key] == nil ? "its \(pod.ownerKind) is gone" : "its pod template changed")
                deletePodObject(pod)
                lock.lock()
                pods[key] = nil
                lock.unlock()
                continue
            }
        }
        var secrets: [String: [String: KubeObject]] = [:]
        var configMaps: [String: [String: KubeObject]] = [:]
        let missing = desired.keys.filter { pods[$0] == nil }
        if !missing.isEmpty {
            for s in try kube.list(apiVersion: "v1", kind: "Secret") { secrets[s.namespace ?? "", default: [:]][s.name] = s }
            for c in try kube.list(apiVersion: "v1", kind: "ConfigMap") { configMaps[c.namespace ?? "", default: [:]][c.name] = c }
        }
        for key in missing.sorted() {
            guard let want = desired[key] else { continue }
            // A Job that already finished keeps its status; its pod is not run again.
            if want.kind == "Job", !WorkloadReadiness.job(want.owner).isPending { continue }
            startPod(
                key: key, kind: want.kind, owner: want.owner, hash: want.hash, index: want.index, services: services,
                secrets: secrets[want.owner.namespace ?? ""] ?? [:], configMaps: configMaps[want.owner.namespace ?? ""] ?? [:])
        }
        lock.lock()
        let keys = Array(pods.keys)
        lock.unlock()
        for key in keys { supervise(key) }
        try enforceNetworkPolicies()
        launchPending()
        writeWorkloadStatus(deployments: deployments, jobs: jobs)
    }

    // MARK: NetworkPolicies

    private func enforceNetworkPolicies() throws {
        lock.lock()
        let running = pods.values.filter { $0.finished == nil }
        lock.unlock()
        loadedRules = loadedRules.filter { key, _ in running.contains { $0.key == key } }
        guard !running.isEmpty else { return }
        let policies = try kube.list(apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy")
        var namespaceLabels: [String: [String: String]] = [:]
        for ns in try kube.list(apiVersion: "v1", kind: "Namespace") {
            var labels = ns.metadata["labels"]?.stringMap ?? [:]
            labels["kubernetes.io/metadata.name"] = ns.name
            namespaceLabels[ns.name] = labels
        }
        let all = running.map { PolicyPod(namespace: $0.plan.namespace, labels: $0.plan.labels, addresses: $0.sandbox.addresses) }
        for pod in running {
            let me = PolicyPod(namespace: pod.plan.namespace, labels: pod.plan.labels, addresses: pod.sandbox.addresses)
            let rules = NetworkPolicyEnforcer.rules(for: me, policies: policies, namespaceLabels: namespaceLabels, pods: all, host: lab.gateway)
            let text = rules ?? ""
            guard loadedRules[pod.key] != text else { continue }
            do {
                try NetworkPolicyEnforcer.apply(rules, to: pod.sandbox)
                loadedRules[pod.key] = text
                if rules != nil || !text.isEmpty {
                    say("executor: NetworkPolicies of \(pod.plan.namespace)/\(pod.podName) loaded (\(text.split(separator: "\n").count) lines)")
                }
            } catch {
                say("executor: \(error)")
            }
        }
    }

    // MARK: DNS

    private func updateDNS(_ services: [KubeObject]) {
        var records: [String: String] = [:]
        for s in services {
            guard let ip = s["spec", "clusterIP"]?.stringValue, !ip.isEmpty, ip != "None", let ns = s.namespace else { continue }
            records["\(s.name).\(ns).svc.cluster.local"] = ip
        }
        guard records != dnsRecords else { return }
        let text = records.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: "\n") + "\n"
        let dir = lab.root + "/dns"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/cluster.hosts.tmp"))
            guard rename(dir + "/cluster.hosts.tmp", dir + "/cluster.hosts") == 0 else { return }
        } catch {
            say("executor: cannot write the kube-dns hosts file in \(dir): \(error)")
            return
        }
        if let text = try? String(contentsOfFile: dir + "/kube-dns.pid", encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
        {
            kill(pid, SIGHUP)  // dnsmasq re-reads its hosts files
        }
        dnsRecords = records
        say("executor: kube-dns answers \(records.count) service name(s)")
    }

    // MARK: pods

    private func startPod(
        key: String, kind: String, owner: KubeObject, hash: String, index: Int, services: [KubeObject],
        secrets: [String: KubeObject], configMaps: [String: KubeObject]
    ) {
        let ns = owner.namespace ?? "default"
        let template = owner["spec", "template"] ?? .object([:])
        let labels = template[path: ["metadata", "labels"]]?.stringMap ?? [:]
        lock.lock()
        let used = Set(pods.values.map(\.sandbox.slot))
        let perNode = Dictionary(grouping: pods.values, by: \.sandbox.node).mapValues(\.count)
        // Spread like the scheduler's default topology spread: pods of one kind (peers, orderers) on different nodes.
        let app = labels["app.kubernetes.io/name"]
        let sameKind = Dictionary(
            grouping: pods.values.filter { app != nil && $0.plan.labels["app.kubernetes.io/name"] == app },
            by: \.sandbox.node
        ).mapValues(\.count)
        lock.unlock()
        guard let slot = Self.podSlots.first(where: { !used.contains($0) }) else {
            say("executor: no free pod slot for \(key) (the lab runs at most \(Self.podSlots.count) pods); waiting")
            return
        }
        guard
            let node = lab.nodes.min(by: {
                (sameKind[$0.name] ?? 0, perNode[$0.name] ?? 0, $0.index) < (sameKind[$1.name] ?? 0, perNode[$1.name] ?? 0, $1.index)
            })
        else { return }
        // Every Service of the namespace that selects the pod lends it its ClusterIP (the first replica only).
        var addresses: [String] = []
        if index == 0 {
            for s in services where s.namespace == ns {
                let selector = s["spec", "selector"]?.stringMap ?? [:]
                guard !selector.isEmpty, selector.allSatisfy({ labels[$0.key] == $0.value }),
                    let ip = s["spec", "clusterIP"]?.stringValue, ip.hasPrefix("198.18.\(lab.subnet).")
                else { continue }
                addresses.append(ip)
            }
        }
        if addresses.isEmpty { addresses = ["198.18.\(lab.subnet).\(59 + slot)"] }
        let podName = kind == "Job" ? "\(owner.name)-\(Self.suffix())" : "\(owner.name)-\(hash.prefix(10))-\(Self.suffix())"
        let planner = PodPlanner(
            secrets: secrets, configMaps: configMaps,
            fields: [
                "metadata.name": podName, "metadata.namespace": ns, "spec.nodeName": node.name, "status.podIP": addresses[0],
                "status.hostIP": node.address, "spec.serviceAccountName": "default",
            ])
        let plan: PodPlan
        do {
            plan = try planner.plan(namespace: ns, template: template)
        } catch {
            recordWaiting(key: key, owner: owner, message: error.description)
            return
        }
        let sandbox: PodSandbox
        do {
            sandbox = try sandboxes.create(namespace: ns, name: podName, node: node, addresses: addresses, slot: slot)
        } catch {
            say("executor: \(key): \(error)")
            return
        }
        let pod = RunningPod(key: key, ownerKind: kind, owner: owner, podName: podName, templateHash: hash, sandbox: sandbox, plan: plan)
        for notRun in plan.notRun { say("executor: \(ns)/\(podName): container \(notRun.container) NOT RUN: \(notRun.reason)") }
        createPodObject(pod)
        lock.lock()
        pods[key] = pod
        lock.unlock()
    }

    /// Starts the containers of pods made this round: after the NetworkPolicies know their addresses, so a Job's first
    /// connection is not refused by a peer that has not heard of it yet.
    private func launchPending() {
        lock.lock()
        let pending = pods.values.filter { !$0.launched }
        lock.unlock()
        for var pod in pending {
            guard let node = lab.nodes.first(where: { $0.name == pod.sandbox.node }) else { continue }
            for container in pod.plan.containers {
                do {
                    pod.processes[container.name] = try sandboxes.start(container, of: pod.plan, in: pod.sandbox, node: node, restartCount: 0)
                } catch {
                    pod.message = error.description
                    say("executor: \(pod.key): \(error)")
                }
            }
            pod.launched = true
            say(
                "executor: started pod \(pod.plan.namespace)/\(pod.podName) on \(node.name) at \(pod.sandbox.addresses.joined(separator: ",")) "
                    + "(\(pod.plan.containers.map { "\($0.name): \($0.argv.first ?? "")" }.joined(separator: ", ")))")
            lock.lock()
            pods[pod.key] = pod
            lock.unlock()
            updatePodObject(pod)
        }
    }

    private func recordWaiting(key: String, owner: KubeObject, message: String) {
        if writtenStatus["waiting:" + key]?.stringValue != message {
            say("executor: \(key) cannot start yet: \(message)")
            writtenStatus["waiting:" + key] = .string(message)
        }
    }

    /// Exits, restarts with back-off, readiness.
    private func supervise(_ key: String) {
        lock.lock()
        guard var pod = pods[key] else {
            lock.unlock()
            return
        }
        lock.unlock()
        guard pod.finished == nil, pod.launched else { return }
        let node = lab.nodes.first { $0.name == pod.sandbox.node }!
        var changed = false
        for container in pod.plan.containers {
            if let process = pod.processes[container.name] {
                guard let status = CommandRunner.exitStatus(ifExited: process.pid) else { continue }
                pod.processes[container.name] = nil
                pod.lastExit[container.name] = status
                changed = true
                say("executor: \(pod.plan.namespace)/\(pod.podName): container \(container.name) exited with \(status)")
                if pod.ownerKind == "Job" {
                    if status == 0 { continue }
                    pod.failures += 1
                    let limit = pod.owner["spec", "backoffLimit"]?.intValue ?? 6
                    if pod.failures > limit {
                        pod.finished = "Failed"
                        pod.message = "container \(container.name) exited with \(status) \(pod.failures) time(s); backoffLimit \(limit) reached"
                        continue
                    }
                }
                let restarts = pod.restarts[container.name, default: 0]
                pod.restartAt[container.name] = Date().addingTimeInterval(min(30, 2 * pow(2, Double(min(restarts, 4)))))
            } else if let at = pod.restartAt[container.name], Date() >= at, pod.finished == nil {
                pod.restartAt[container.name] = nil
                pod.restarts[container.name, default: 0] += 1
                changed = true
                do {
                    pod.processes[container.name] = try sandboxes.start(
                        container, of: pod.plan, in: pod.sandbox, node: node,
                        restartCount: pod.restarts[container.name]!)
                } catch {
                    pod.message = error.description
                }
            }
        }
        if pod.ownerKind == "Job", pod.finished == nil, !pod.plan.containers.isEmpty,
            pod.plan.containers.allSatisfy({ pod.lastExit[$0.name] == 0 && pod.processes[$0.name] == nil })
        {
            pod.finished = "Succeeded"
        }
        if pod.finished != nil {
            changed = true
            stop(pod, reason: "its Job pod \(pod.finished!.lowercased())", keepObject: true)
        }
        let ready =
            pod.finished == nil && pod.plan.notRun.isEmpty && !pod.plan.containers.isEmpty
            && pod.plan.containers.allSatisfy { c in
                guard let process = pod.processes[c.name], process.started.timeIntervalSinceNow < -0.5 else { return false }
                return c.readiness.map { ReadinessProbe.check($0, address: pod.sandbox.podIP) } ?? true
            }
        if ready != pod.ready && pod.finished == nil {
            pod.ready = ready
            changed = true
            say("executor: \(pod.plan.namespace)/\(pod.podName) is \(ready ? "ready" : "not ready")")
        }
        lock.lock()
        pods[key] = pod
        lock.unlock()
        if changed { updatePodObject(pod) }
    }

    private func stop(_ pod: RunningPod, reason: String, keepObject: Bool = false) {
        for (_, process) in pod.processes {
            kill(-process.pid, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, pod.processes.values.contains(where: { CommandRunner.exitStatus(ifExited: $0.pid) == nil && kill($0.pid, 0) == 0 }) {
            usleep(50_000)
        }
        for (_, process) in pod.processes where kill(process.pid, 0) == 0 {
            kill(-process.pid, SIGKILL)
            _ = CommandRunner.exitStatus(ifExited: process.pid)
        }
        sandboxes.remove(pod.sandbox)
        say("executor: stopped pod \(pod.plan.namespace)/\(pod.podName) (\(reason))")
    }

    // MARK: API objects

    private func podObjectRef(_ pod: RunningPod) -> ObjectRef {
        ObjectRef(apiVersion: "v1", kind: "Pod", namespace: pod.plan.namespace, name: pod.podName)
    }

    private func createPodObject(_ pod: RunningPod) {
        var labels = pod.plan.labels
        if pod.ownerKind == "Job" {
            labels["job-name"] = pod.owner.name
            labels["batch.kubernetes.io/job-name"] = pod.owner.name
            labels["controller-uid"] = pod.owner.metadata["uid"]?.stringValue ?? ""
        } else {
            labels["pod-template-hash"] = String(pod.templateHash.prefix(10))
        }
        var spec = pod.owner["spec", "template", "spec"] ?? .object([:])
        spec["nodeName"] = .string(pod.sandbox.node)
        let object: JSON = [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": [
                "name": .string(pod.podName), "namespace": .string(pod.plan.namespace), "labels": JSON(labels),
                "ownerReferences": [
                    [
                        "apiVersion": .string(pod.owner.apiVersion), "kind": .string(pod.owner.kind), "name": .string(pod.owner.name),
                        "uid": pod.owner.metadata["uid"] ?? "", "controller": true, "blockOwnerDeletion": true,
                    ]
                ],
            ],
            "spec": spec,
        ]
        do {
            _ = try kube.create(try KubeObject(object))
        } catch {
            say("executor: creating the Pod object \(pod.plan.namespace)/\(pod.podName): \(error)")
        }
        updatePodObject(pod)
    }

    private func updatePodObject(_ pod: RunningPod) {
        let now = Date().formatted(.iso8601)
        var statuses: [JSON] = pod.plan.containers.map { c in
            var state: JSON
            if pod.processes[c.name] != nil {
                state = ["running": ["startedAt": .string(now)]]
            } else if let code = pod.lastExit[c.name] {
                state = [
                    "terminated": ["exitCode": .int(Int64(code)), "reason": .string(code == 0 ? "Completed" : "Error"), "finishedAt": .string(now)]
                ]
                if pod.restartAt[c.name] != nil { state = ["waiting": ["reason": "CrashLoopBackOff", "message": .string("exited with \(code)")]] }
            } else {
                state = ["waiting": ["reason": "ContainerCreating", "message": .string(pod.message ?? "")]]
            }
            return [
                "name": .string(c.name), "image": .string(c.image), "imageID": "", "ready": .bool(pod.ready && pod.processes[c.name] != nil),
                "started": .bool(pod.processes[c.name] != nil), "restartCount": .int(Int64(pod.restarts[c.name] ?? 0)), "state": state,
            ]
        }
        statuses += pod.plan.notRun.map { n in
            [
                "name": .string(n.container), "image": .string(n.image), "imageID": "", "ready": false, "started": false, "restartCount": 0,
                "state": ["waiting": ["reason": "NotRunInLab", "message": .string(n.reason)]],
            ]
        }
        let phase = pod.finished ?? (pod.processes.isEmpty && pod.restartAt.isEmpty ? "Pending" : "Running")
        let status: JSON = [
            "phase": .string(phase), "podIP": .string(pod.sandbox.podIP), "podIPs": .array(pod.sandbox.addresses.map { ["ip": .string($0)] }),
            "hostIP": .string(lab.nodes.first { $0.name == pod.sandbox.node }?.address ?? ""),
            "startTime": .string(pod.created.formatted(.iso8601)), "qosClass": "BestEffort",
            "conditions": [["type": "Ready", "status": pod.ready ? "True" : "False", "lastTransitionTime": .string(now)]],
            "containerStatuses": .array(statuses),
        ]
        do {
            _ = try kube.patch(podObjectRef(pod), mergePatch: ["status": status], subresource: "status", fieldManager: "bok-lab-executor")
        } catch {
            if !error.isNotFound { say("executor: updating the status of Pod \(pod.plan.namespace)/\(pod.podName): \(error)") }
        }
    }

    private func deletePodObject(_ pod: RunningPod) {
        _ = try? kube.delete(podObjectRef(pod))
    }

    private func writeWorkloadStatus(deployments: [KubeObject], jobs: [KubeObject]) {
        lock.lock()
        let all = pods
        lock.unlock()
        let now = Date().formatted(.iso8601)
        func condition(_ type: String, _ ok: Bool, _ reason: String, _ message: String) -> JSON {
            [
                "type": .string(type), "status": ok ? "True" : "False", "reason": .string(reason), "message": .string(message),
                "lastTransitionTime": .string(now), "lastUpdateTime": .string(now),
            ]
        }
        for d in deployments where d.metadata["deletionTimestamp"] == nil {
            let prefix = "Deployment/\(d.namespace ?? "")/\(d.name)/"
            let mine = all.values.filter { $0.key.hasPrefix(prefix) }
            let replicas = d["spec", "replicas"]?.intValue ?? 1
            let ready = mine.filter(\.ready).count
            let notRun = mine.flatMap(\.plan.notRun).map { "\($0.container) (\($0.image))" }
            var message = ready >= replicas ? "Deployment has minimum availability." : "Deployment does not have minimum availability."
            if !notRun.isEmpty { message += " Not run in the lab: \(Set(notRun).sorted().joined(separator: ", "))." }
            var s: [String: JSON] = ["observedGeneration": d.generation.map { .int(Int64($0)) } ?? 1]
            if replicas > 0 {
                s["replicas"] = .int(Int64(mine.count))
                s["updatedReplicas"] = .int(Int64(mine.count))
                if ready > 0 {
                    s["readyReplicas"] = .int(Int64(ready))
                    s["availableReplicas"] = .int(Int64(ready))
                }
                if replicas - ready > 0 { s["unavailableReplicas"] = .int(Int64(replicas - ready)) }
            }
            // A container the lab cannot run never becomes ready: say so at once instead of letting a rollout wait.
            let progressing =
                notRun.isEmpty
                ? condition("Progressing", true, ready >= replicas ? "NewReplicaSetAvailable" : "ReplicaSetUpdated", "run by the BoK lab executor")
                : condition(
                    "Progressing", false, "ProgressDeadlineExceeded",
                    "the lab runs only Fabric's own images and cannot run \(Set(notRun).sorted().joined(separator: ", ")); "
                        + "use StateDatabase: LevelDB and Explorer: false on the lab (configs/lab-cluster-config.yaml)")
            s["conditions"] = [
                condition("Available", ready >= replicas, ready >= replicas ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable", message),
                progressing,
            ]
            writeStatus(d, .object(s))
        }
        for j in jobs where j.metadata["deletionTimestamp"] == nil {
            guard let pod = all["Job/\(j.namespace ?? "")/\(j.name)/0"] else { continue }
            var s: [String: JSON] = [
                "startTime": .string(pod.created.formatted(.iso8601)), "ready": 0, "terminating": 0,
                "uncountedTerminatedPods": .object([:]),
            ]
            switch pod.finished {
            case "Succeeded":
                s["succeeded"] = 1
                s["active"] = 0
                s["completionTime"] = .string(now)
                s["conditions"] = [
                    condition("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods"),
                    condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods"),
                ]
            case "Failed":
                s["failed"] = .int(Int64(pod.failures))
                s["active"] = 0
                let message =
                    (pod.message ?? "Job has reached the specified backoff limit") + "; log: kubectl logs -n \(j.namespace ?? "") \(pod.podName)"
                s["conditions"] = [
                    condition("FailureTarget", true, "BackoffLimitExceeded", message),
                    condition("Failed", true, "BackoffLimitExceeded", message),
                ]
            default:
                s["active"] = 1
                if pod.failures > 0 { s["failed"] = .int(Int64(pod.failures)) }
            }
            writeStatus(j, .object(s))
        }
    }

    /// Writes a workload's status when what it says changed (times aside), so a converged lab makes no writes.
    private func writeStatus(_ object: KubeObject, _ status: JSON) {
        let key = "\(object.kind)/\(object.namespace ?? "")/\(object.name)/\(object.metadata["uid"]?.stringValue ?? "")"
        let comparable = Self.withoutTimes(status)
        if writtenStatus[key] == comparable, Self.withoutTimes(object.status ?? .null) == comparable { return }
        do {
            _ = try kube.patch(object.ref, mergePatch: ["status": status], subresource: "status", fieldManager: "bok-lab-executor")
            writtenStatus[key] = comparable
        } catch {
            if !error.isNotFound { say("executor: writing the status of \(object.kind) \(object.namespace ?? "")/\(object.name): \(error)") }
        }
    }

    static func withoutTimes(_ json: JSON) -> JSON {
        switch json {
        case .object(let o):
            var out: [String: JSON] = [:]
            for (k, v) in o where !k.hasSuffix("Time") && k != "startedAt" && k != "finishedAt" { out[k] = withoutTimes(v) }
            return .object(out)
        case .array(let a): return .array(a.map(withoutTimes))
        default: return json
        }
    }

    // MARK: helpers

    static func hash(_ json: JSON?) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (json ?? .null).serialized() {
            hash ^= UInt64(b)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    static func suffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}

extension ReadinessState {
    var isPending: Bool {
        if case .pending = self { return true }
        return false
    }
}
