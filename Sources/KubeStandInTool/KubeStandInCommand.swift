import ArgumentParser
import Foundation
import KubeAPIStandIn
import KubeClient

/// `kube-standin`: runs the Kubernetes API stand-in on its own until Ctrl-C, to try kubectl (or the coordinator)
/// against it by hand. Tests use the same library (`KubeAPIStandIn`) in-process; `coordinator lab serve` runs it with
/// the lab's executor behind it.
@main
struct KubeStandInCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-standin",
        abstract: "Run the Kubernetes stand-in until interrupted and print a kubectl command for it.")

    @Option(help: "Seconds until created or changed workloads become ready.")
    var readinessDelay = 2.0

    @Option(help: "ClusterIP of the pre-created kube-system/kube-dns service.")
    var clusterDNS = "10.96.0.10"

    @Flag(help: "Serve plain HTTP without authentication instead of HTTPS with a client certificate.")
    var http = false

    @Option(name: .customLong("node"), help: ArgumentHelp("A worker Node object (repeatable; default: three made-up nodes).", valueName: "NAME=IP"))
    var nodes: [String] = []

    @Option(help: ArgumentHelp("Create this StorageClass, marked as the default one (as most clusters have).", valueName: "NAME"))
    var defaultStorageClass: String?

    @Option(help: ArgumentHelp("Also copy the kubeconfig to this path (removed again on exit).", valueName: "FILE"))
    var kubeconfigOut: String?

    func validate() throws {
        for node in nodes where node.split(separator: "=").count != 2 {
            throw ValidationError("--node must be NAME=IP, got '\(node)'")
        }
    }

    func run() throws {
        var options = KubeStandIn.Options()
        options.readinessDelay = readinessDelay
        options.clusterDNS = .init(clusterIP: clusterDNS)
        if http {
            options.scheme = .http
            options.authentication = .none
        }
        if !nodes.isEmpty {
            options.nodes = nodes.map { pair in
                let parts = pair.split(separator: "=").map(String.init)
                return KubeStandIn.Node(name: parts[0], internalIP: parts[1])
            }
        }
        let standIn = try KubeStandIn(options: options)
        if let defaultStorageClass {
            var storageClass = KubeObject(apiVersion: "storage.k8s.io/v1", kind: "StorageClass", name: defaultStorageClass)
            storageClass["metadata", "annotations"] = ["storageclass.kubernetes.io/is-default-class": "true"]
            storageClass["provisioner"] = "rancher.io/local-path"
            try KubeClient(config: try KubeConfig.load(path: standIn.kubeconfigPath)).apply(storageClass)
        }
        var kubeconfig = standIn.kubeconfigPath
        if let kubeconfigOut {
            try? FileManager.default.removeItem(atPath: kubeconfigOut)
            try FileManager.default.copyItem(atPath: standIn.kubeconfigPath, toPath: kubeconfigOut)
            kubeconfig = kubeconfigOut
        }
        print("Kubernetes stand-in listening at \(standIn.url)")
        print("  kubectl --kubeconfig \(kubeconfig) get ns,svc,deploy -A")
        print("Ctrl-C stops it and deletes the kubeconfig.")
        fflush(nil)  // all output streams: stdout may be a pipe
        // A plain handler and a flag: libdispatch signal sources miss signals that a shell
        // set to ignored for background jobs.
        signal(SIGINT, { _ in stopRequested = 1 })
        signal(SIGTERM, { _ in stopRequested = 1 })
        while stopRequested == 0 { usleep(100_000) }
        standIn.stop()
        if let kubeconfigOut { try? FileManager.default.removeItem(atPath: kubeconfigOut) }
    }
}

/// Set by the SIGINT/SIGTERM handler; the only state a signal handler may touch.
nonisolated(unsafe) private var stopRequested: sig_atomic_t = 0
