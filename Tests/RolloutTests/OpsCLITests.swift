import BoKTesting
import Fleet
import Foundation
import KubeClient
import Rollout
import XCTest

/// `coordinator preflight` and `coordinator teardown` as a script sees them, against the stand-in
/// (no nodes: the per-node checks are in NodeOpsLabTests).
final class OpsCLITests: XCTestCase {
    var workDir: String!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: BuildProducts.coordinator) else {
            throw XCTSkip("the coordinator executable is not built next to the tests")
        }
        workDir = try RolloutFixture.temporaryDirectory("bok-ops-cli")
        try TrustStore(dir: workDir + "/ca").initialize()
        try RolloutFixture.topologyYAML.write(toFile: workDir + "/cluster-config.yaml", atomically: true, encoding: .utf8)
        // One node whose agent does not listen (loopback port 1): its check fails, the cluster's are judged on their own.
        try "caDir: \(workDir!)/ca\nnodes:\n  - name: gone\n    agent: 127.0.0.1:1\n".write(
            toFile: workDir + "/inventory.yaml", atomically: true, encoding: .utf8)
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

    func testPreflightNamesATakenNodePortAMissingStorageClassAndADeadAgentWithExit1() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(KubeObject(apiVersion: "v1", kind: "Namespace", name: "monitoring"))
        var grafana = KubeObject(apiVersion: "v1", kind: "Service", name: "grafana", namespace: "monitoring")
        grafana["spec"] = ["type": "NodePort", "selector": ["app": "grafana"], "ports": [["port": 3000, "nodePort": 32767]]]
        try client.apply(grafana)
        let failed = try run(["preflight"] + base(standIn) + ["--inventory", workDir + "/inventory.yaml", "--connect-timeout", "1"])
        XCTAssertEqual(failed.status, 1, failed.err + failed.out)
        print("FIGURE coordinator preflight:\n\(failed.out)")
        XCTAssertTrue(failed.out.contains("NodePort 32767 (for org1-f-1/explorer) is held by Service monitoring/grafana"), failed.out)
        XCTAssertTrue(failed.out.contains("no default StorageClass"), failed.out)
        XCTAssertTrue(failed.out.contains("agent at 127.0.0.1:1 does not answer"), failed.out)
        XCTAssertTrue(failed.out.contains("preflight of tenant f-1 FAILED: 3 check(s) on cluster, gone"), failed.out)

        _ = try client.delete(ObjectRef(apiVersion: "v1", kind: "Service", namespace: "monitoring", name: "grafana"))
        try RolloutFixture.createDefaultStorageClass(client)
        let fixed = try run(["preflight"] + base(standIn) + ["--inventory", workDir + "/inventory.yaml", "--connect-timeout", "1", "--json"])
        XCTAssertEqual(fixed.status, 1, fixed.err + fixed.out)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(fixed.out.utf8)) as? [String: Any])
        XCTAssertEqual(report["success"] as? Bool, false)
        let failing = (report["checks"] as? [[String: Any]] ?? []).filter { $0["status"] as? String == "fail" }
        XCTAssertEqual(failing.map { "\($0["scope"] ?? "") \($0["name"] ?? "")" }, ["gone agent"], "storage and NodePorts pass now")
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [], "preflight wrote nothing")
        XCTAssertEqual(try run(["preflight"] + base(standIn) + ["--disk-warn-gib", "1", "--disk-fail-gib", "2"]).status, 2)
    }

    func testTeardownSkipsAndNamesKindsTheServerDoesNotServe() async throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        var options = RolloutOptions(cryptoDirectory: workDir + "/crypto")
        options.inventory = Inventory(path: "test", nodes: [], caDir: workDir + "/ca")
        options.topologyText = RolloutFixture.topologyYAML
        options.timeout = 20
        options.pollInterval = 0.05
        let rollout = await NetworkRollout(topology: try RolloutFixture.topology(), client: client, options: options).run()
        XCTAssertTrue(rollout.success, rollout.error ?? "")
        standIn.setUnservedKinds(["CronJob", "NetworkPolicy"])
        let teardown = try run(["teardown"] + base(standIn) + ["--yes", "--timeout", "30"])
        XCTAssertEqual(teardown.status, 0, teardown.err + teardown.out)
        print("FIGURE coordinator teardown:\n\(teardown.err.split(separator: "\n").prefix(3).joined(separator: "\n"))\n…\n\(teardown.out)")
        XCTAssertTrue(teardown.err.contains("the API does not serve CronJob (cronjobs.batch): skipped"), teardown.err)
        XCTAssertTrue(teardown.out.contains("kinds this API server does not serve, skipped: CronJob, NetworkPolicy"), teardown.out)
        standIn.setUnservedKinds([])
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [])
        let again = try run(["teardown"] + base(standIn) + ["--yes", "--json"])
        XCTAssertEqual(again.status, 0, again.err)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(again.out.utf8)) as? [String: Any])
        XCTAssertEqual(report["skippedKinds"] as? [String], [])
    }

    func testPruneRefusesADurationItCannotRead() throws {
        let bad = try run(["chaincode", "prune", "--inventory", workDir + "/inventory.yaml", "--older-than", "7x"])
        XCTAssertEqual(bad.status, 2, bad.err)
        XCTAssertTrue(bad.err.contains("--older-than"), bad.err)
        let negative = try run(["chaincode", "prune", "--inventory", workDir + "/inventory.yaml", "--older-than", "-1d"])
        XCTAssertEqual(negative.status, 2, negative.err)
    }
}
