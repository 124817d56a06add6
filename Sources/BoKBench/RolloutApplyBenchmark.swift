import ArgumentParser
import BoKTesting
import FabricTopology
import Fleet
import Foundation
import KubeClient
import Rollout

/// `bok-bench rollout-apply`: the Kubernetes side of `coordinator rollout` (preflight, crypto,
/// apply, waits, channel, explorer, summary) for a rendered N-org topology against the stand-in,
/// then a converged re-run; prints time, requests per object and writes. No nodes: the node-DNS
/// step is measured by `dns apply` benchmarks.
struct RolloutApplyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout-apply",
        abstract: "Roll out a rendered 100-org topology to the Kubernetes stand-in twice; print time and requests per object.")

    @Option(help: "Peer organisations.")
    var orgs = 100

    @Option(help: "Peers per organisation.")
    var peers = 10

    @Option(help: "Objects applied at once within a stage.")
    var concurrency = 8

    @Option(help: "Converged re-runs after the first run (their median is compared with the 1 s target).")
    var reruns = 3

    func validate() throws {
        guard orgs > 0, peers > 0, concurrency > 0, reruns > 0 else {
            throw ValidationError("--orgs, --peers, --concurrency and --reruns must be positive")
        }
    }

    func run() async throws {
        let dir = NSTemporaryDirectory() + "bok-bench-rollout-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var yaml = "Tenant: bench\nOrdererOrgs:\n- Name: OrdererOrg\n  Domain: orderer\n  Template:\n    Count: 3\nPeerOrgs:\n"
        for o in 1...orgs { yaml += "- Name: Org\(o)\n  Domain: org\(o)\n  Template:\n    Count: \(peers)\n  Users:\n    Count: 1\n" }
        yaml += "Storage:\n  Size: 1Gi\n  StorageClass: standard\nExplorer: true\nNodePorts:\n  Explorer: 32767\n"
        let topology = try FabricTopology.parse(yaml: yaml, source: "bench.yaml")
        try TrustStore(dir: dir + "/ca").initialize()

        var standInOptions = KubeStandIn.Options()
        standInOptions.readinessDelay = 0.05
        let standIn = try KubeStandIn(options: standInOptions)
        defer { standIn.stop() }
        let client = KubeClient(config: try KubeConfig.load(path: standIn.kubeconfigPath))
        var sc = KubeObject(apiVersion: "storage.k8s.io/v1", kind: "StorageClass", name: "standard")
        sc["provisioner"] = "bench"
        try client.apply(sc)

        var options = RolloutOptions(cryptoDirectory: dir + "/crypto")
        options.inventory = Inventory(path: "none", nodes: [], caDir: dir + "/ca")
        options.pollInterval = 0.1
        options.applyConcurrency = concurrency
        options.topologyText = yaml
        print("rollout-apply: \(orgs) peer orgs × \(peers) peers + 3 orderers, stand-in \(standIn.url), concurrency \(concurrency)")
        var converged: [Double] = []
        for round in ["first run"] + Array(repeating: "re-run", count: reruns) {
            standIn.resetRequestCounts()
            let revision = standIn.currentResourceVersion
            let report = await NetworkRollout(topology: topology, client: client, options: options).run()
            if let error = report.error { throw ValidationError("rollout failed: \(error)") }
            let objects = report.objects.count
            let requests = standIn.totalRequests
            let writes = standIn.currentResourceVersion - revision
            let step = { (name: String) in report.steps.first { $0.step == name }?.seconds ?? 0 }
            let label = round.padding(toLength: 10, withPad: " ", startingAt: 0)
            print(
                label
                    + String(
                        format: " total %6.2f s (crypto %5.2f s, apply %5.2f s)  %5d objects  %6d requests  %.2f requests/object  %6d writes",
                        report.seconds, step("crypto"), step("apply-objects") + step("channel") + step("explorer"),
                        objects, requests, Double(requests) / Double(max(1, objects)), writes)
                    + (round == "re-run"
                        ? (report.cryptoDerived || report.objectsRendered > 0
                            ? "  (crypto derived / rendered again)" : "  (crypto and rendering skipped)") : ""))
            if round == "re-run" { converged.append(report.seconds) }
        }
        print("(writes of the first run include the stand-in's simulated controllers' status updates)")
        let s = spread(converged)
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        print(
            String(
                format: "converged re-run of %d orgs × %d peers: min %.2f s, median %.2f s, max %.2f s over %d runs  (target < 1 s: %@; load %.2f)",
                orgs, peers, s.min, s.median, s.max, converged.count, s.median < 1 ? "met" : "NOT met", load[0]))
    }
}
