import AgentProtocol
import BoKTesting
import DockerEngine
import Fleet
import Foundation
import KubeClient
import Lab
import Rollout
import XCTest

/// Chaincode image prune and the node checks of preflight on a 2-node lab (subnet 215): real dockerd per
/// node, agents over mutual TLS, dnsmasq as kube-dns; the built coordinator for the commands.
final class NodeOpsLabTests: XCTestCase {
    static let shared = SharedLab(
        LabSpec(name: "ops-tests", subnet: 215, nodeCount: 2, root: "/tmp/bok-test-lab-215", agentBinary: BuildProducts.agent))

    override class func setUp() {
        super.setUp()
        shared.up()
    }

    override class func tearDown() {
        shared.down()
        super.tearDown()
    }

    var lab: LabState { Self.shared.state! }
    var workDir: String!

    override func setUp() async throws {
        if let reason = Self.shared.unavailable { throw XCTSkip(reason) }
        workDir = try RolloutFixture.temporaryDirectory("bok-ops-lab")
        try RolloutFixture.topologyYAML.write(toFile: workDir + "/cluster-config.yaml", atomically: true, encoding: .utf8)
    }

    override func tearDown() async throws {
        if let workDir { try? FileManager.default.removeItem(atPath: workDir) }
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:] }
    }

    /// Runs the built coordinator to completion; its output goes through files in the work directory.
    func coordinator(_ args: [String], tag: String) throws -> Run {
        guard FileManager.default.isExecutableFile(atPath: BuildProducts.coordinator) else {
            throw XCTSkip("the coordinator executable is not built next to the tests")
        }
        let out = workDir + "/\(tag).out"
        let err = workDir + "/\(tag).err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BuildProducts.coordinator)
        process.arguments = args
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        process.waitUntilExit()
        print(
            String(
                format: "FIGURE coordinator %@ (%@): %.2f s, exit %d", args.first ?? "", tag, Date().timeIntervalSince(started),
                process.terminationStatus))
        return Run(
            status: process.terminationStatus, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    @discardableResult
    func docker(_ node: LabNode, _ args: [String], timeout: Double = 120) -> (succeeded: Bool, stderr: String) {
        let r = node.run(["docker", "-H", "unix:///run/docker.sock"] + args, timeout: timeout)
        return (r.succeeded, r.stderr)
    }

    /// An image with a 200 kB layer of its own on top of the lab's busybox image (the legacy builder runs
    /// the step in the node's Docker; nothing is pulled).
    func buildImage(_ node: LabNode, _ name: String, marker: String) throws {
        let dir = workDir + "/build-\(marker)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "FROM \(lab.chaincodeImage)\nRUN head -c 200000 /dev/urandom > /blob-\(marker)\nLABEL bok.test=\(marker)\n"
            .write(toFile: dir + "/Dockerfile", atomically: true, encoding: .utf8)
        let r = node.run(["env", "DOCKER_BUILDKIT=0", "docker", "-H", "unix:///run/docker.sock", "build", "-q", "-t", name, dir], timeout: 180)
        XCTAssertTrue(r.succeeded, "building \(name): \(r.tail(10).joined(separator: "\n"))")
    }

    func imageExists(_ node: LabNode, _ name: String) -> Bool { docker(node, ["image", "inspect", name]).succeeded }

    // MARK: chaincode images / prune

    func testPruneRemovesOnlyUnusedChaincodeImagesAndDryRunRemovesNothing() throws {
        let node = lab.nodes[0]
        let hash = String(repeating: "5e", count: 32)
        let running = "dev-peer0.org1-f-1-cc_1-\(hash)"
        let stopped = "dev-peer0.org1-f-1-cc_2-\(hash)"
        let unused = "dev-peer0.org1-f-1-cc_3-\(hash)"
        let other = "bok/not-chaincode:1"
        try buildImage(node, running, marker: "1")
        try buildImage(node, stopped, marker: "2")
        try buildImage(node, unused, marker: "3")
        try buildImage(node, other, marker: "4")
        addTeardownBlock { [self] in
            docker(node, ["rm", "-f", "dev-peer0.org1-f-1-cc_1-\(hash)", "dev-peer0.org1-f-1-cc_2-\(hash)"])
            docker(node, ["rmi", "-f", running, stopped, unused, other])
        }
        let run = docker(node, ["run", "-d", "--name", running, running, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"])
        XCTAssertTrue(run.succeeded, run.stderr)
        let create = docker(node, ["create", "--name", stopped, stopped, "true"])
        XCTAssertTrue(create.succeeded, create.stderr)

        // chaincode images: the three chaincode images, with their users; never the others.
        let images = try coordinator(["chaincode", "images", "--inventory", lab.inventory, "--json"], tag: "images")
        XCTAssertEqual(images.status, 0, images.stderr + images.stdout)
        let nodes = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(images.stdout.utf8))) as? [[String: Any]])
        let listed = (nodes.first { $0["node"] as? String == node.name }?["images"] as? [[String: Any]]) ?? []
        XCTAssertEqual(Set(listed.flatMap { $0["tags"] as? [String] ?? [] }), ["\(running):latest", "\(stopped):latest", "\(unused):latest"])
        let runningInfo = try XCTUnwrap(listed.first { ($0["tags"] as? [String]) == ["\(running):latest"] })
        XCTAssertEqual(runningInfo["containers"] as? [String], [running])
        XCTAssertEqual(runningInfo["chaincode"] as? String, "cc")
        XCTAssertGreaterThanOrEqual(runningInfo["uniqueSize"] as? Int ?? 0, 200_000)
        let text = try coordinator(["chaincode", "images", "--inventory", lab.inventory], tag: "images-text")
        print("FIGURE chaincode images:\n\(text.stdout)")

        // Too young for the default age: nothing to remove.
        let young = try coordinator(["chaincode", "prune", "--inventory", lab.inventory, "--older-than", "7d", "--json"], tag: "young")
        XCTAssertEqual(young.status, 0, young.stderr + young.stdout)
        XCTAssertEqual(young.json["removed"] as? Int, 0)

        // Dry run: says it would remove the unused one, removes nothing.
        let dry = try coordinator(["chaincode", "prune", "--inventory", lab.inventory, "--older-than", "0", "--dry-run", "--json"], tag: "dry")
        XCTAssertEqual(dry.status, 0, dry.stderr + dry.stdout)
        XCTAssertEqual(dry.json["dryRun"] as? Bool, true)
        XCTAssertEqual(dry.json["removed"] as? Int, 1)
        XCTAssertGreaterThanOrEqual(dry.json["bytesFreed"] as? Int ?? 0, 200_000)
        for name in [running, stopped, unused, other, lab.chaincodeImage] { XCTAssertTrue(imageExists(node, name), "\(name) after the dry run") }

        // For real: the unused chaincode image goes, everything else stays.
        let prune = try coordinator(["chaincode", "prune", "--inventory", lab.inventory, "--older-than", "0"], tag: "prune")
        XCTAssertEqual(prune.status, 0, prune.stderr + prune.stdout)
        print("FIGURE chaincode prune:\n\(prune.stdout)")
        XCTAssertTrue(prune.stdout.contains("removed"), prune.stdout)
        XCTAssertFalse(imageExists(node, unused), "the unused chaincode image is removed")
        XCTAssertTrue(imageExists(node, running), "used by a running container")
        XCTAssertTrue(imageExists(node, stopped), "used by a stopped container")
        XCTAssertTrue(imageExists(node, other), "not a chaincode image")
        XCTAssertTrue(imageExists(node, lab.chaincodeImage), "not a chaincode image")
        let again = try coordinator(["chaincode", "prune", "--inventory", lab.inventory, "--older-than", "0", "--json"], tag: "again")
        XCTAssertEqual(again.json["removed"] as? Int, 0, "a second prune finds nothing")
    }

    // MARK: preflight

    func standIn() throws -> (KubeStandIn, KubeClient) {
        let lab = self.lab
        let standIn = try makeStandIn { o in
            o.clusterDNS = KubeStandIn.DNSService(clusterIP: lab.kubeDNS)
            o.nodes = lab.nodes.map { KubeStandIn.Node(name: $0.name, internalIP: $0.address) }
        }
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        return (standIn, client)
    }

    func testPreflightChecksEveryNodeThroughItsAgentAndWritesNothing() async throws {
        let (standIn, client) = try standIn()
        var options = PreflightOptions()
        options.inventory = try Inventory.load(path: lab.inventory)
        let report = await TenantPreflight(topology: try RolloutFixture.topology(), client: client, options: options).run()
        XCTAssertTrue(report.success, report.failures.map(\.detail).joined(separator: "\n"))
        XCTAssertEqual(report.kubeDNS, lab.kubeDNS)
        for node in lab.nodes {
            let checks = Dictionary(uniqueKeysWithValues: report.checks.filter { $0.scope == node.name }.map { ($0.name, $0) })
            XCTAssertEqual(Set(checks.keys), ["container-runtime", "docker", "clock", "disk", "kube-dns"], node.name)
            XCTAssertEqual(checks["container-runtime"]?.status, .ok)
            XCTAssertEqual(checks["clock"]?.status, .ok, checks["clock"]?.detail ?? "")
            XCTAssertTrue(checks["kube-dns"]?.detail.contains("198.18.215.1") == true, checks["kube-dns"]?.detail ?? "")
            XCTAssertTrue(checks["disk"]?.detail.contains("free under") == true, checks["disk"]?.detail ?? "")
            print("FIGURE preflight \(node.name): \(checks["clock"]!.detail); \(checks["disk"]!.detail)")
        }
        XCTAssertEqual(report.checks.first { $0.name == "nodeports" }?.status, .ok)
        XCTAssertEqual(report.checks.first { $0.name == "storage" }?.status, .ok)
        XCTAssertEqual(standIn.requests(method: "POST") + standIn.requests(method: "DELETE"), 0)
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [])

        // Thresholds above what the disk has: a warning does not fail, a failure does.
        options.thresholds.diskWarnBytes = Int.max / 4
        let warned = await TenantPreflight(topology: try RolloutFixture.topology(), client: client, options: options).run()
        XCTAssertTrue(warned.success)
        XCTAssertEqual(warned.warnings.filter { $0.name == "disk" }.count, lab.nodes.count)
        options.thresholds.diskFailBytes = Int.max / 4
        let failed = await TenantPreflight(topology: try RolloutFixture.topology(), client: client, options: options).run()
        XCTAssertFalse(failed.success)
        XCTAssertEqual(Set(failed.failures.map(\.scope)), Set(lab.nodes.map(\.name)))
    }

    func testPreflightFailsWhenKubeDNSDoesNotAnswerFromTheNodes() async throws {
        let (standIn, _) = try standIn()
        // An address on the lab's bridge where nothing listens.
        let silent = "198.18.215.99"
        let run = try coordinator(
            [
                "preflight", "-c", workDir + "/cluster-config.yaml", "--kubeconfig", standIn.kubeconfigPath, "--inventory", lab.inventory,
                "--kube-dns", silent,
            ], tag: "preflight-dns")
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        print("FIGURE preflight with a silent kube-dns:\n\(run.stdout)")
        for node in lab.nodes {
            XCTAssertTrue(run.stdout.contains("kube-dns at \(silent) does not answer from \(node.name)"), run.stdout)
        }
        XCTAssertTrue(run.stdout.contains("FAILED"), run.stdout)
    }

    func testPreflightCommandPassesOnAHealthyLab() async throws {
        let (standIn, _) = try standIn()
        let run = try coordinator(
            [
                "preflight", "-c", workDir + "/cluster-config.yaml", "--kubeconfig", standIn.kubeconfigPath, "--inventory", lab.inventory,
                "--json",
            ], tag: "preflight-ok")
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertEqual(run.json["success"] as? Bool, true)
        XCTAssertEqual((run.json["checks"] as? [[String: Any]])?.filter { ($0["status"] as? String) == "fail" }.count, 0)
    }
}

extension NodeOpsLabTests {
    /// `coordinator rollout` runs the node checks as its first step: kube-dns silent from the nodes stops it
    /// there, naming the nodes, before any Kubernetes object or crypto file is written.
    func testRolloutStopsInPreflightWhenKubeDNSDoesNotAnswerFromTheNodes() throws {
        let (standIn, client) = try standIn()
        let run = try coordinator(
            [
                "rollout", "-c", workDir + "/cluster-config.yaml", "--kubeconfig", standIn.kubeconfigPath, "--inventory", lab.inventory,
                "--crypto-dir", workDir + "/crypto", "--kube-dns", "198.18.215.99", "--json",
            ], tag: "rollout-dns")
        XCTAssertEqual(run.status, 1, run.stderr)
        let steps = run.json["steps"] as? [[String: Any]] ?? []
        XCTAssertEqual(steps.first?["status"] as? String, "failed")
        let error = run.json["error"] as? String ?? ""
        XCTAssertTrue(error.contains("preflight failed on node1, node2"), error)
        XCTAssertTrue(error.contains("kube-dns at 198.18.215.99 does not answer from node1"), error)
        XCTAssertTrue(error.contains("nothing was changed in Kubernetes"), error)
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: workDir + "/crypto"))
        for node in lab.nodes {
            XCTAssertFalse(
                ((try? String(contentsOfFile: node.defaultsFile, encoding: .utf8)) ?? "").contains("--dns"), "\(node.name)'s Docker untouched")
        }
    }

    /// A node without a Docker socket (as a containerd-only node) fails its runtime check, with the way out.
    func testANodeWithoutDockerFailsTheRuntimeCheck() async throws {
        let node = lab.nodes[1]
        try LabEnvironment.startAgent(node, state: lab, binary: BuildProducts.agent, extraArgs: ["--docker-socket", "/run/bok-no-docker.sock"])
        defer { try? LabEnvironment.startAgent(node, state: lab, binary: BuildProducts.agent) }
        let (_, client) = try standIn()
        var options = PreflightOptions()
        options.inventory = try Inventory.load(path: lab.inventory)
        let report = await TenantPreflight(topology: try RolloutFixture.topology(), client: client, options: options).run()
        XCTAssertFalse(report.success)
        let runtime = try XCTUnwrap(report.checks.first { $0.scope == node.name && $0.name == "container-runtime" })
        XCTAssertEqual(runtime.status, .fail)
        XCTAssertTrue(runtime.detail.contains("no Docker socket at /run/bok-no-docker.sock"), runtime.detail)
        XCTAssertEqual(report.failures.map(\.scope), [node.name], "the other node passes")
        XCTAssertNil(report.checks.first { $0.scope == node.name && $0.name == "disk" }, "no disk figure without Docker")
    }
}

extension NodeOpsLabTests {
    /// On a healthy lab the node checks pass inside rollout's step 1 (a dry run: nothing is written).
    func testRolloutPreflightPassesOnAHealthyLab() throws {
        let (standIn, client) = try standIn()
        let run = try coordinator(
            [
                "rollout", "-c", workDir + "/cluster-config.yaml", "--kubeconfig", standIn.kubeconfigPath, "--inventory", lab.inventory,
                "--crypto-dir", workDir + "/crypto", "--dry-run", "--json",
            ], tag: "rollout-ok")
        XCTAssertEqual(run.status, 0, run.stderr)
        let first = (run.json["steps"] as? [[String: Any]])?.first
        XCTAssertEqual(first?["status"] as? String, "done")
        XCTAssertTrue((first?["detail"] as? String ?? "").contains("2 agent(s) healthy"), "\(first ?? [:])")
        XCTAssertTrue(run.stderr.contains("node checks: runtime, clock, disk, kube-dns from 2 node(s)"), run.stderr)
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [])
    }
}

extension NodeOpsLabTests {
    /// `node.health` shares its runtime verdict with `node.preflight`: still the same checks, in the same order.
    func testHealthStillReportsTheRuntimeFirstThenDockerAndTheRest() async throws {
        let inventory = try Inventory.load(path: lab.inventory)
        let runner = FleetRunner(inventory: inventory, tls: try inventory.trust.clientTLS())
        let outcomes = await runner.run { client throws(AgentClientError) in try await client.health() }
        for outcome in outcomes {
            let health = try outcome.result.get()
            XCTAssertEqual(Array(health.checks.map(\.name).prefix(4)), ["agent", "container-runtime", "docker", "live-restore"], outcome.node.name)
            XCTAssertTrue(health.checks.contains { $0.name == "disk" }, "\(health.checks)")
            XCTAssertEqual(health.checks.first { $0.name == "docker" }?.status, .ok)
        }
    }
}
