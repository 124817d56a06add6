import BoKSystem
import DockerEngine
import Foundation
import KubeAPIStandIn
import KubeClient
import Lab

#if canImport(Glibc)
    import Glibc
#endif

/// The lab's control plane for `lab up --fabric`: the Kubernetes API stand-in (the lab's nodes, kube-dns at the lab's
/// address, ClusterIPs from the lab subnet) with the executor as its kubelet and controllers. Runs in the foreground
/// of `coordinator lab serve` until SIGTERM, then stops every pod it started.
public enum LabAPIServer {
    /// Files of the lab's control plane under `<lab>/executor`.
    public static func pidFile(_ lab: LabState) -> String { LabFabricInfo.servePIDFile(root: lab.root) }
    public static func kubeconfig(_ lab: LabState) -> String { lab.root + "/kubeconfig" }
    public static func logFile(_ lab: LabState) -> String { lab.root + "/executor/serve.log" }

    /// Serves until SIGTERM or SIGINT. `release` is a Fabric release directory (bin/, config/).
    public static func run(lab: LabState, release: String, say: @escaping @Sendable (String) -> Void) throws {
        let stopFlag = Locked(false)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stopFlag.value = true }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }

        let executorBox = Locked<LabExecutor?>(nil)
        var options = KubeStandIn.Options()
        options.nodes = lab.nodes.map { KubeStandIn.Node(name: $0.name, internalIP: $0.address, roles: []) }
        options.clusterDNS = KubeStandIn.DNSService(clusterIP: lab.kubeDNS)
        options.workloads = .external(podLogs: { namespace, pod, container in
            executorBox.value?.log(namespace: namespace, pod: pod, container: container)
        })
        options.serviceAddresses = (first: "198.18.\(lab.subnet).100", last: "198.18.\(lab.subnet).254")
        let api = try KubeStandIn(options: options)
        defer { api.stop() }
        let path = kubeconfig(lab)
        let fd = open(path + ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ExecutorError("writing the lab's kubeconfig \(path): \(String(cString: strerror(errno)))") }
        _ = api.kubeconfig.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
        rename(path + ".tmp", path)
        let kube = try KubeClient(config: KubeConfig.load(path: path))
        // What a kind/local-path cluster has: a default StorageClass; the executor binds claims to lab directories.
        var storageClass = KubeObject(apiVersion: "storage.k8s.io/v1", kind: "StorageClass", name: "standard")
        storageClass["metadata", "annotations"] = ["storageclass.kubernetes.io/is-default-class": "true"]
        storageClass["provisioner"] = "bok.io/lab-directories"
        try kube.apply(storageClass, fieldManager: "bok-lab")
        let executor = LabExecutor(kube: kube, lab: lab, release: release, log: say)
        executorBox.value = executor
        say("lab api: Kubernetes API at \(api.url), kubeconfig \(path); executor running pods from \(release)")
        executor.run(interval: 1, shouldStop: { stopFlag.value })
        unlink(path)
        say("lab api: stopped")
    }

    /// Starts `coordinator lab serve` in the background and waits for its kubeconfig. Returns its PID.
    public static func start(lab: LabState, release: String, coordinator: String) throws(ExecutorError) -> pid_t {
        let pidPath = pidFile(lab)
        try? FileManager.default.createDirectory(atPath: lab.root + "/executor", withIntermediateDirectories: true)
        unlink(kubeconfig(lab))
        let argv = [coordinator, "lab", "serve", "--dir", lab.root, "--fabric-release", release]
        let pid: pid_t
        switch CommandRunner.spawnDetached(argv, logPath: logFile(lab)) {
        case .success(let p): pid = p
        case .failure(let e): throw ExecutorError("starting the lab's Kubernetes API and executor: \(e)")
        }
        try? "\(pid)\n".write(toFile: pidPath, atomically: true, encoding: .utf8)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: kubeconfig(lab)) { return pid }
            if let code = CommandRunner.exitStatus(ifExited: pid) {
                let log = (try? String(contentsOfFile: logFile(lab), encoding: .utf8)) ?? ""
                throw ExecutorError(
                    "the lab's Kubernetes API exited with \(code) while starting; its log (\(logFile(lab))):\n"
                        + log.split(separator: "\n").suffix(10).joined(separator: "\n"))
            }
            usleep(100_000)
        }
        throw ExecutorError("the lab's Kubernetes API did not write \(kubeconfig(lab)) within 30 s; see \(logFile(lab))")
    }
}
