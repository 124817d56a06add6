import AgentInstaller
import BoKSystem
import BoKTesting
import DockerEngine
import Foundation
import KubeClient
import Lab
import XCTest

/// `coordinator rollout --install-agents` starting from nodes that have no agent at all: the
/// rollout installs them over SSH (the lab's real sshd per node), then rolls the network out.
extension InstallLabTests {
    func testRolloutStartsFromNodesWithoutAgentsAndInstallsThem() async throws {
        // Bare nodes: no agent anywhere.
        _ = await installer(options()).uninstall(nodes: try nodes())
        XCTAssertEqual(agentPIDs().compactMap { $0 }, [], "an agent is still running before the test")

        var standInOptions = KubeStandIn.Options()
        standInOptions.readinessDelay = 0.05
        standInOptions.clusterDNS = KubeStandIn.DNSService(clusterIP: lab.kubeDNS)
        standInOptions.nodes = lab.nodes.map { KubeStandIn.Node(name: $0.name, internalIP: $0.address) }
        let standIn = try KubeStandIn(options: standInOptions)
        defer { standIn.stop() }
        let client = KubeClient(config: try KubeConfig.load(path: standIn.kubeconfigPath))
        var storageClass = KubeObject(apiVersion: "storage.k8s.io/v1", kind: "StorageClass", name: "standard")
        storageClass["metadata", "annotations"] = ["storageclass.kubernetes.io/is-default-class": "true"]
        storageClass["provisioner"] = "rancher.io/local-path"
        try client.apply(storageClass)

        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let crypto = temporaryPath("crypto")
        let run = CommandRunner.run(
            [
                BuildProducts.coordinator, "rollout", "-c", repository.appendingPathComponent("configs/cluster-config.yaml").path,
                "--kubeconfig", standIn.kubeconfigPath, "--inventory", lab.inventory, "--crypto-dir", crypto,
                "--max-unavailable", "100%", "--timeout", "120", "--json",
                "--install-agents", "--identity", ssh.identity, "--known-hosts", ssh.knownHosts,
                "--agent-binary", BuildProducts.agent,
                "--docker-restart-command", "\(lab.dockerdScript) restart", "--docker-log-file", LabNode.dockerdLog,
            ],
            timeout: 300)
        defer { try? FileManager.default.removeItem(atPath: crypto) }
        XCTAssertEqual(run.exitCode, 0, run.stderr + run.stdout)
        XCTAssertTrue(run.stderr.contains("installing agents on node1, node2, node3"), run.stderr)
        XCTAssertTrue(run.stderr.contains("node1: installed"), run.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout)
        XCTAssertEqual(report["success"] as? Bool, true, run.stdout)
        XCTAssertEqual(agentPIDs().compactMap { $0 }.count, 3, "every node runs an installed agent now")
        for node in lab.nodes {
            let defaults = try String(contentsOfFile: node.defaultsFile, encoding: .utf8)
            XCTAssertTrue(defaults.contains("--dns=\(lab.kubeDNS)"), "\(node.name): \(defaults)")
        }
        XCTAssertFalse(try client.list(.deployment, namespace: "org1-f-1").isEmpty, "the network's objects were applied")
    }
}
