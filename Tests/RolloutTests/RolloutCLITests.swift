import BoKTesting
import Fleet
import Foundation
import KubeClient
import XCTest

/// `coordinator rollout|stop|start|teardown` as a script sees them, against the stand-in, without
/// a lab (the one node's agent is absent).
final class RolloutCLITests: XCTestCase {
    var workDir: String!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: BuildProducts.coordinator) else {
            throw XCTSkip("the coordinator executable is not built next to the tests")
        }
        workDir = try RolloutFixture.temporaryDirectory("bok-rollout-cli")
        try TrustStore(dir: workDir + "/ca").initialize()
        try RolloutFixture.topologyYAML.write(toFile: workDir + "/cluster-config.yaml", atomically: true, encoding: .utf8)
        try "caDir: \(workDir!)/ca\nnodes:\n  - name: gone\n    agent: 127.0.0.1:1\n"
            .write(toFile: workDir + "/inventory.yaml", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        if let workDir { try? FileManager.default.removeItem(atPath: workDir) }
    }

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try ProductRun.run(BuildProducts.coordinator, args, scratch: workDir)
    }

    func base(_ standIn: KubeStandIn) -> [String] {
        ["-c", workDir + "/cluster-config.yaml", "--kubeconfig", standIn.kubeconfigPath]
    }

    func testDNSPlanReadsKubeDNSFromTheAPIWhenNoOneGivesIt() throws {
        let standIn = try makeStandIn { $0.clusterDNS = KubeStandIn.DNSService(clusterIP: "198.18.9.10") }
        // The inventory has no kubeDNS: the plan reads it from kube-system through the kubeconfig,
        // then fails on the (absent) agent — a node failure (1), not a usage error (2).
        let plan = try run([
            "dns", "plan", "--inventory", workDir + "/inventory.yaml", "--kubeconfig", standIn.kubeconfigPath,
            "--connect-timeout", "1",
        ])
        XCTAssertEqual(plan.status, 1, plan.err + plan.out)
        XCTAssertTrue(plan.err.contains("kube-dns 198.18.9.10 (from the Kubernetes API at \(standIn.url)"), plan.err)
        // Without a kubeconfig anywhere, it says how to give the address.
        let none = try run(["dns", "plan", "--inventory", workDir + "/inventory.yaml", "--kubeconfig", workDir + "/missing"])
        XCTAssertEqual(none.status, 2, none.err)
        XCTAssertTrue(none.err.contains(workDir + "/missing"), none.err)
    }

    func testUsageErrorsExitTwo() throws {
        let standIn = try makeStandIn()
        let mu = try run(["rollout"] + base(standIn) + ["--max-unavailable", "0"])
        XCTAssertEqual(mu.status, 2, mu.err)
        XCTAssertTrue(mu.err.contains("--max-unavailable"), mu.err)
        let dns = try run(["rollout"] + base(standIn) + ["--kube-dns", "kube-dns.local"])
        XCTAssertEqual(dns.status, 2, dns.err)
        let kubeconfig = try run(["rollout", "-c", workDir + "/cluster-config.yaml", "--kubeconfig", workDir + "/missing"])
        XCTAssertEqual(kubeconfig.status, 2, kubeconfig.err)
        XCTAssertTrue(kubeconfig.err.contains(workDir + "/missing"), kubeconfig.err)
    }

    func testDryRunJSONListsChangesAndWritesNothing() throws {
        let standIn = try makeStandIn()
        try RolloutFixture.createDefaultStorageClass(try makeClient(standIn))
        let revision = standIn.currentResourceVersion
        let result = try run(
            ["rollout"] + base(standIn) + [
                "--inventory", workDir + "/inventory.yaml", "--crypto-dir", workDir + "/crypto",
                "--continue-on-error", "--dry-run", "--json",
            ])
        XCTAssertEqual(result.status, 1, "a node left out fails the run: \(result.err)")
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any], result.out)
        XCTAssertEqual(report["dryRun"] as? Bool, true)
        XCTAssertNotNil((report["skippedNodes"] as? [String: Any])?["gone"])
        let objects = report["objects"] as? [[String: Any]] ?? []
        XCTAssertGreaterThan(objects.count, 20)
        XCTAssertTrue(objects.allSatisfy { $0["action"] as? String == "create" })
        XCTAssertEqual(standIn.currentResourceVersion, revision)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workDir + "/crypto"))
        XCTAssertTrue(result.err.contains("[1/8] preflight"), result.err)
    }

    func testAgentDownNamesTheNodeAndTeardownNeedsConfirmation() throws {
        let standIn = try makeStandIn()
        try RolloutFixture.createDefaultStorageClass(try makeClient(standIn))
        let result = try run(["rollout"] + base(standIn) + ["--inventory", workDir + "/inventory.yaml", "--crypto-dir", workDir + "/crypto"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.out.contains("error: step 1/8 (preflight): agent not healthy on gone"), result.out)

        let teardown = try run(["teardown"] + base(standIn))
        XCTAssertEqual(teardown.status, 0, "nothing to delete: \(teardown.err)")
        XCTAssertTrue(teardown.out.contains("owns nothing"), teardown.out)
        let stop = try run(["stop"] + base(standIn) + ["--json"])
        XCTAssertEqual(stop.status, 0, stop.err)
        XCTAssertTrue(stop.out.contains("\"tenant\" : \"f-1\""), stop.out)
    }
}
