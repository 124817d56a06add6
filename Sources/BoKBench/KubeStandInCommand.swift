import ArgumentParser
import BoKTesting
import Foundation

/// `bok-bench kube-stand-in`: runs the Kubernetes stand-in on its own until Ctrl-C, to try
/// kubectl (or the coordinator) against it by hand.
struct KubeStandInCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-stand-in",
        abstract: "Run the Kubernetes stand-in until interrupted and print a kubectl command for it.")

    @Option(help: "Seconds until created or changed workloads become ready.")
    var readinessDelay = 2.0

    @Option(help: "ClusterIP of the pre-created kube-system/kube-dns service.")
    var clusterDNS = "10.96.0.10"

    @Flag(help: "Serve plain HTTP without authentication instead of HTTPS with a client certificate.")
    var http = false

    func run() throws {
        var options = KubeStandIn.Options()
        options.readinessDelay = readinessDelay
        options.clusterDNS = .init(clusterIP: clusterDNS)
        if http {
            options.scheme = .http
            options.authentication = .none
        }
        let standIn = try KubeStandIn(options: options)
        print("Kubernetes stand-in listening at \(standIn.url)")
        print("  kubectl --kubeconfig \(standIn.kubeconfigPath) get ns,svc,deploy -A")
        print("Ctrl-C stops it and deletes the kubeconfig.")
        fflush(nil)  // all output streams: stdout may be a pipe
        // A plain handler and a flag: libdispatch signal sources miss signals that a shell
        // set to ignored for background jobs.
        signal(SIGINT, { _ in stopRequested = 1 })
        signal(SIGTERM, { _ in stopRequested = 1 })
        while stopRequested == 0 { usleep(100_000) }
        standIn.stop()
    }
}

/// Set by the SIGINT/SIGTERM handler; the only state a signal handler may touch.
nonisolated(unsafe) private var stopRequested: sig_atomic_t = 0
