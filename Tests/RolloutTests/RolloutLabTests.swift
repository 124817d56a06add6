import BoKTesting
import DockerConfig
import DockerEngine
import Fleet
import Foundation
import KubeClient
import Lab
import Rollout
import XCTest

/// `coordinator rollout` end to end: the built executable, a 3-node lab (real dockerd, dnsmasq
/// as kube-dns, agents over mutual TLS) and the Kubernetes stand-in whose kube-dns ClusterIP is
/// the lab's dnsmasq.
final class RolloutLabTests: XCTestCase {
    static let shared = SharedLab(
        LabSpec(
            name: "rollout-tests", subnet: 204, nodeCount: 3, root: "/tmp/bok-test-lab-204",
            agentBinary: BuildProducts.agent))

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
    /// Coordinator processes started by a test, killed by PID if still running at the end.
    var spawned: [pid_t] = []

    override func setUp() async throws {
        if let reason = Self.shared.unavailable { throw XCTSkip(reason) }
        guard FileManager.default.isExecutableFile(atPath: BuildProducts.coordinator) else {
            throw XCTSkip("the coordinator executable is not built next to the tests")
        }
        for node in lab.nodes {
            let text = (try? String(contentsOfFile: node.defaultsFile, encoding: .utf8)) ?? ""
            if text.contains("--dns") {
                let edit = try DockerDefaultsFile.parse(Data(text.utf8), path: node.defaultsFile).removingDNS()
                try edit.updated.write(to: URL(fileURLWithPath: node.defaultsFile))
                node.run([lab.dockerdScript, "restart"])
            }
            if !isAgentRunning(node) { try LabEnvironment.startAgent(node, state: lab, binary: BuildProducts.agent) }
        }
        workDir = try RolloutFixture.temporaryDirectory("bok-rollout-lab")
        try RolloutFixture.topologyYAML.write(toFile: workDir + "/cluster-config.yaml", atomically: true, encoding: .utf8)
    }

    override func tearDown() async throws {
        for pid in spawned where kill(pid, 0) == 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        spawned = []
        if let workDir { try? FileManager.default.removeItem(atPath: workDir) }
    }

    func isAgentRunning(_ node: LabNode) -> Bool {
        guard let t = try? String(contentsOfFile: node.agentPIDFile, encoding: .utf8),
            let pid = Int32(t.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return false }
        return kill(pid, 0) == 0 && (DockerdProcess.command(pid: pid) ?? "") == "agent"
    }

    func makeLabStandIn(readinessDelay: Double = 0.1) throws -> (KubeStandIn, KubeClient) {
        let lab = self.lab
        let standIn = try makeStandIn { o in
            o.readinessDelay = readinessDelay
            o.clusterDNS = KubeStandIn.DNSService(clusterIP: lab.kubeDNS)
            o.nodes = lab.nodes.map { KubeStandIn.Node(name: $0.name, internalIP: $0.address) }
        }
        let client = try makeClient(standIn)
        try RolloutFixture.createDefaultStorageClass(client)
        return (standIn, client)
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var report: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:] }
    }

    /// Starts the coordinator; output goes to files in the work directory.
    func spawn(_ args: [String], tag: String) throws -> (Process, String, String) {
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
        try process.run()
        spawned.append(process.processIdentifier)
        return (process, out, err)
    }

    func coordinator(_ args: [String], tag: String) throws -> Run {
        let (process, out, err) = try spawn(args, tag: tag)
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Arguments of a rollout; without `fromFile` the nodes come from the stand-in's Node objects (the lab's nodes).
    func rolloutArgs(_ standIn: KubeStandIn, _ extra: [String] = [], inventoryFromFile: Bool = true) -> [String] {
        let nodes = inventoryFromFile ? ["--inventory", lab.inventory] : ["--ca-dir", LabEnvironment.trust(lab).dir]
        var args: [String] = ["rollout", "-c", workDir + "/cluster-config.yaml", "--kubeconfig", standIn.kubeconfigPath]
        args += nodes
        args += ["--crypto-dir", workDir + "/crypto", "--max-unavailable", "100%", "--timeout", "120", "--json"]
        return args + extra
    }

    func dockerdPID(_ node: LabNode) -> String { node.run(["cat", "/run/docker.pid"]).stdout }

    func dockerDNS(_ node: LabNode) -> String {
        node.run(
            [
                "docker", "-H", "unix:///run/docker.sock", "run", "--rm", "--pull", "never", lab.chaincodeImage,
                "cat", "/etc/resolv.conf",
            ], timeout: 60
        ).stdout
    }

    // MARK: Tests

    func testRolloutCompletesReRunChangesNothingStopStartAndTeardownLeaveNothing() throws {
        let (standIn, client) = try makeLabStandIn()
        var other = KubeObject(apiVersion: "v1", kind: "ConfigMap", name: "not-bok", namespace: "default", labels: ["app": "other"])
        other["data"] = ["k": "v"]
        try client.apply(other)

        let first = try coordinator(rolloutArgs(standIn), tag: "first")
        XCTAssertEqual(first.status, 0, first.stderr + first.stdout)
        XCTAssertEqual(first.report["success"] as? Bool, true)
        XCTAssertTrue(first.stderr.contains("[4/8]   applied"), first.stderr)
        XCTAssertTrue(first.stderr.contains("3/3 nodes"), first.stderr)
        XCTAssertEqual(first.report["explorerURL"] as? String, "http://\(lab.nodes[0].address):32767")

        // Exactly the rendered objects (plus the state ConfigMap).
        let rendered = try RolloutFixture.renderedObjects(cryptoDirectory: workDir + "/crypto")
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), rendered.union(["ConfigMap ordererorg-f-1/bok-rollout"]))
        // kubectl reads what BoK created.
        let kubectl = Process.runCapturing("/usr/bin/env", ["kubectl", "--kubeconfig", standIn.kubeconfigPath, "get", "deploy", "-A"])
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") {
            XCTAssertEqual(kubectl.status, 0, kubectl.out)
            XCTAssertTrue(kubectl.out.contains("peer0-org1-f-1"), kubectl.out)
        }

        // Every node's Docker uses kube-dns first.
        for node in lab.nodes {
            let conf = dockerDNS(node)
            XCTAssertTrue(conf.contains("nameserver \(lab.kubeDNS)"), "\(node.name): \(conf)")
            XCTAssertTrue((try String(contentsOfFile: node.defaultsFile, encoding: .utf8)).contains("--dns=\(lab.kubeDNS)"))
        }

        // Second run: no object written, no Docker restarted.
        let pids = lab.nodes.map(dockerdPID)
        let revision = standIn.currentResourceVersion
        let second = try coordinator(rolloutArgs(standIn), tag: "second")
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(standIn.currentResourceVersion, revision, "a second run must change no object")
        XCTAssertEqual(lab.nodes.map(dockerdPID), pids, "a second run must restart no Docker")
        let objects = second.report["objects"] as? [[String: Any]] ?? []
        XCTAssertTrue(objects.allSatisfy { $0["action"] as? String == "unchanged" })

        // stop / start.
        let config = ["-c", workDir + "/cluster-config.yaml", "--kubeconfig", standIn.kubeconfigPath]
        XCTAssertEqual(try coordinator(["stop"] + config, tag: "stop").status, 0)
        XCTAssertTrue(try client.list(.deployment, labelSelector: "bok.io/tenant=f-1").allSatisfy { $0["spec", "replicas"]?.intValue == 0 })
        XCTAssertEqual(try coordinator(["start"] + config, tag: "start").status, 0)
        XCTAssertTrue(try client.list(.deployment, labelSelector: "bok.io/tenant=f-1").allSatisfy { $0["spec", "replicas"]?.intValue == 1 })

        // teardown: refused without a terminal and without --yes; then everything of the tenant goes.
        let refused = try coordinator(["teardown"] + config, tag: "teardown-refused")
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--yes"), refused.stderr)
        let teardown = try coordinator(["teardown", "--yes"] + config, tag: "teardown")
        XCTAssertEqual(teardown.status, 0, teardown.stderr)
        XCTAssertEqual(try RolloutFixture.tenantObjects(client), [])
        XCTAssertNotNil(try client.getIfPresent(.configMap("not-bok", namespace: "default")))
    }

    func testKilledCoordinatorIsResumedByTheNextRun() throws {
        // Deployments take 4 s to become available: the coordinator is killed while it waits.
        let (standIn, client) = try makeLabStandIn(readinessDelay: 4)
        let (process, _, err) = try spawn(rolloutArgs(standIn), tag: "killed")
        let pid = process.processIdentifier
        let deadline = Date().addingTimeInterval(120)
        var applied = false
        while Date() < deadline, process.isRunning {
            if let state = try? RolloutState.load(client, namespace: "ordererorg-f-1"), state.completed.contains("apply-objects") {
                applied = true
                break
            }
            usleep(100_000)
        }
        XCTAssertTrue(applied, (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        kill(pid, SIGKILL)
        process.waitUntilExit()
        let state = try XCTUnwrap(try RolloutState.load(client, namespace: "ordererorg-f-1"))
        XCTAssertFalse(state.isComplete, "killed before the end")

        let again = try coordinator(rolloutArgs(standIn), tag: "resumed")
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertNotNil(again.report["resumedAfter"] as? String, again.stdout)
        XCTAssertTrue(try XCTUnwrap(try RolloutState.load(client, namespace: "ordererorg-f-1")).isComplete)
        let objects = again.report["objects"] as? [[String: Any]] ?? []
        XCTAssertFalse(objects.contains { $0["action"] as? String == "update" }, "the resumed run re-applies nothing that was applied")
    }

    func testOneAgentDownStopsBeforeKubernetesUnlessContinueOnError() throws {
        let (standIn, client) = try makeLabStandIn()
        let node2 = lab.nodes[1]
        LabEnvironment.stopAgent(node2)
        defer { try? LabEnvironment.startAgent(node2, state: lab, binary: BuildProducts.agent) }

        let revision = standIn.currentResourceVersion
        // The nodes come from the cluster here: InternalIP → agent at <ip>:7443, named after the node.
        let stopped = try coordinator(rolloutArgs(standIn, inventoryFromFile: false), tag: "agent-down")
        XCTAssertEqual(stopped.status, 1)
        let error = stopped.report["error"] as? String ?? ""
        XCTAssertTrue(error.contains("preflight") && error.contains(node2.name), error)
        XCTAssertEqual(standIn.currentResourceVersion, revision, "no Kubernetes object may be written")
        XCTAssertFalse(dockerDNS(lab.nodes[0]).contains(lab.kubeDNS), "no node may be touched either")

        let going = try coordinator(rolloutArgs(standIn, ["--continue-on-error"], inventoryFromFile: false), tag: "continue")
        XCTAssertEqual(going.status, 1, "a left-out node still fails the run")
        XCTAssertEqual((going.report["skippedNodes"] as? [String: Any]).map { Array($0.keys) }, [node2.name])
        XCTAssertNotNil(try client.getIfPresent(.deployment("peer0-org1-f-1", namespace: "org1-f-1")))
        XCTAssertTrue(dockerDNS(lab.nodes[0]).contains("nameserver \(lab.kubeDNS)"))
        XCTAssertFalse(dockerDNS(node2).contains(lab.kubeDNS))
    }
}

extension Process {
    /// Runs a command to the end; output captured (small outputs only).
    static func runCapturing(_ path: String, _ args: [String]) -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
