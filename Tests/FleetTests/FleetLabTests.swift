import AgentProtocol
import BoKSystem
import BoKTesting
import DockerConfig
import DockerEngine
import Fleet
import Foundation
import Lab
import XCTest

/// The node-side rollout end to end on a 3-node lab: real dockerd, dnsmasq and agents over mutual TLS.
final class FleetLabTests: XCTestCase {
    static let shared = SharedLab(
        LabSpec(
            name: "fleet-tests", subnet: 202, nodeCount: 3, root: "/tmp/bok-test-lab-202",
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

    override func setUp() async throws {
        if let reason = Self.shared.unavailable { throw XCTSkip(reason) }
        // Every test starts with the nodes' original DNS-less files and agents from the lab.
        for node in lab.nodes {
            let text = (try? String(contentsOfFile: node.defaultsFile, encoding: .utf8)) ?? ""
            if text.contains("--dns") {
                let edit = try DockerDefaultsFile.parse(Data(text.utf8), path: node.defaultsFile).removingDNS()
                try edit.updated.write(to: URL(fileURLWithPath: node.defaultsFile))
                node.run([lab.dockerdScript, "restart"])
            }
            if !isAgentRunning(node) { try LabEnvironment.startAgent(node, state: lab, binary: BuildProducts.agent) }
        }
    }

    func isAgentRunning(_ node: LabNode) -> Bool {
        guard let t = try? String(contentsOfFile: node.agentPIDFile, encoding: .utf8),
            let pid = Int32(t.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return false }
        return kill(pid, 0) == 0 && (DockerdProcess.command(pid: pid) ?? "") == "agent"
    }

    func inventory() throws -> Inventory { try Inventory.load(path: lab.inventory) }

    func runner() throws -> FleetRunner {
        let inv = try inventory()
        return FleetRunner(inventory: inv, tls: try inv.trust.clientTLS())
    }

    /// What a chaincode container on `node` gets for the peer's short service name.
    func resolvesPeer(on node: LabNode) -> Bool {
        let r = node.run(
            [
                "docker", "-H", "unix:///run/docker.sock", "run", "--rm", "--pull", "never", lab.chaincodeImage,
                "ping", "-c1", "-W1", "peer0.org1-f-1",
            ], timeout: 60)
        return r.stdout.contains("PING peer0.org1-f-1 (198.18.\(lab.subnet).100)")
    }

    func dockerdPID(_ node: LabNode) -> String { node.run(["cat", "/run/docker.pid"]).stdout }

    func testRolloutMakesPeerResolvableOnEveryNodeAndARerunRestartsNothing() async throws {
        for node in lab.nodes { XCTAssertFalse(resolvesPeer(on: node), "\(node.name) resolves before the rollout") }

        let rollout = DNSRollout(runner: try runner(), spec: DNSRolloutSpec(kubeDNS: lab.kubeDNS, maxUnavailable: .percent(100)))
        let plan = await rollout.plan()
        XCTAssertEqual(plan.map(\.outcome), [.planned, .planned, .planned])
        let reports = await rollout.apply()
        XCTAssertEqual(reports.map(\.outcome), [.applied, .applied, .applied], "\(reports.map(\.message))")
        for r in reports { XCTAssertEqual(r.desired?.nameservers, [lab.kubeDNS, lab.upstreamDNS]) }
        for node in lab.nodes { XCTAssertTrue(resolvesPeer(on: node), "\(node.name) does not resolve after the rollout") }

        let pids = lab.nodes.map(dockerdPID)
        let again = await rollout.apply()
        XCTAssertEqual(again.map(\.outcome), [.unchanged, .unchanged, .unchanged])
        XCTAssertEqual(lab.nodes.map(dockerdPID), pids, "a re-run must restart no Docker")

        let status = await FleetStatusCollector(runner: try runner(), kubeDNS: lab.kubeDNS).collect()
        XCTAssertEqual(status.map(\.dnsMatches), [true, true, true])
        XCTAssertTrue(TextTable.status(status).contains("node3"))
    }

    func testFailedNodeIsRolledBackAndStopsTheRolloutUnlessToldToContinue() async throws {
        // node2's "init script" cannot start dockerd with DNS flags: the real dockerd gets an unknown flag.
        let node2 = lab.nodes[1]
        let script = node2.dir + "/flaky-restart.sh"
        try """
        #!/bin/sh
        . /etc/default/docker
        case "$DOCKER_OPTS" in
          *--dns=*)
            printf 'DOCKER_OPTS="%s --no-such-flag"\\n' "$DOCKER_OPTS" > \(node2.dir)/broken-defaults
            BOK_DOCKER_DEFAULTS=\(node2.dir)/broken-defaults exec \(lab.dockerdScript) restart ;;
          *) exec \(lab.dockerdScript) restart ;;
        esac
        """.write(toFile: script, atomically: true, encoding: .utf8)
        try LabEnvironment.startAgent(node2, state: lab, binary: BuildProducts.agent, restartCommand: "/bin/sh \(script)")
        defer { try? LabEnvironment.startAgent(node2, state: lab, binary: BuildProducts.agent) }
        let original = try String(contentsOfFile: node2.defaultsFile, encoding: .utf8)

        let stopping = DNSRollout(runner: try runner(), spec: DNSRolloutSpec(kubeDNS: lab.kubeDNS, maxUnavailable: .count(1)))
        let reports = await stopping.apply()
        XCTAssertEqual(reports.map(\.outcome), [.applied, .failed, .skipped], "\(reports.map(\.message))")
        XCTAssertEqual(reports[1].rolledBack, true)
        XCTAssertTrue(reports[2].message.contains("node2"), reports[2].message)
        XCTAssertEqual(try String(contentsOfFile: node2.defaultsFile, encoding: .utf8), original, "node2's file must be restored")
        XCTAssertTrue(
            node2.run(["docker", "-H", "unix:///run/docker.sock", "info", "--format", "{{.ServerVersion}}"]).succeeded,
            "node2's Docker must run again")
        XCTAssertFalse(resolvesPeer(on: lab.nodes[2]), "node3 must be untouched")

        let going = DNSRollout(runner: try runner(), spec: DNSRolloutSpec(kubeDNS: lab.kubeDNS, maxUnavailable: .count(1), continueOnError: true))
        let more = await going.apply()
        XCTAssertEqual(more.map(\.outcome), [.unchanged, .failed, .applied], "\(more.map(\.message))")
        XCTAssertTrue(resolvesPeer(on: lab.nodes[2]))
    }

    func testUnreachableAgentIsReportedPerNode() async throws {
        LabEnvironment.stopAgent(lab.nodes[2])
        let inv = try inventory()
        let runner = FleetRunner(inventory: inv, tls: try inv.trust.clientTLS(), connectTimeout: 2, connectAttempts: 2)
        let status = await FleetStatusCollector(runner: runner, kubeDNS: lab.kubeDNS).collect()
        XCTAssertEqual(status.map(\.reachable), [true, true, false])
        XCTAssertEqual(status[2].status, .fail)
        XCTAssertTrue(status[2].error?.contains("node3") == true, status[2].error ?? "")
        XCTAssertTrue(status[2].error?.contains(lab.nodes[2].address) == true)

        let reports = await DNSRollout(runner: runner, spec: DNSRolloutSpec(kubeDNS: lab.kubeDNS, maxUnavailable: .percent(100))).apply()
        XCTAssertEqual(reports.map(\.outcome), [.applied, .applied, .failed])
    }

    func testClientsWithoutAValidCertificateFromTheCAAreRefused() async throws {
        let node = lab.nodes[0]
        let tmp = NSTemporaryDirectory() + "bok-othertrust-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let other = TrustStore(dir: tmp + "/other-ca")
        try other.initialize()
        do {
            _ = try await AgentClient.connect(node: node.name, host: node.address, port: 7443, tls: try other.clientTLS(), timeout: 5)
            XCTFail("a certificate from another CA must be refused")
        } catch {
            assertRefused(error)
        }
        // Expired, from the right CA.
        let trust = LabEnvironment.trust(lab)
        let expired = try trust.issueClient(
            name: "expired", outDir: tmp + "/expired", validityDays: 1,
            notBefore: Date().addingTimeInterval(-10 * 86_400))
        do {
            _ = try await AgentClient.connect(
                node: node.name, host: node.address, port: 7443,
                tls: try ClientTLS(certFile: expired.cert, keyFile: expired.key, caFile: trust.caCert), timeout: 5)
            XCTFail("an expired certificate must be refused")
        } catch {
            assertRefused(error)
        }
        // No TLS at all.
        do {
            let plain = try await AgentClient.connect(node: node.name, host: node.address, port: 7443, tls: nil, timeout: 5)
            _ = try await plain.callRaw("agent.hello", params: nil, timeout: 5)
            XCTFail("plain TCP must be refused")
        } catch {
            XCTAssertNotEqual(error.kind, .remote, "\(error)")
        }
        let log = (try? String(contentsOfFile: node.agentLog, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("refused client"), "the refusal must be logged")
        // The right certificate still works.
        let ok = try await AgentClient.connect(node: node.name, host: node.address, port: 7443, tls: try trust.clientTLS(), timeout: 5)
        let hello = try await ok.hello()
        XCTAssertEqual(hello.node, node.name)
        await ok.close()
    }
}

func assertRefused(_ error: Error, file: StaticString = #filePath, line: UInt = #line) {
    guard let e = error as? AgentClientError else { return XCTFail("unexpected error \(error)", file: file, line: line) }
    XCTAssertTrue([AgentClientError.Kind.tls, .closed].contains(e.kind), "\(e)", file: file, line: line)
}

/// `lab down` removes every process, namespace, link and file — also of a half-made lab.
final class LabLifecycleLabTests: XCTestCase {
    func testLabDownLeavesNothingBehind() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root")
        let subnet = 203
        let root = "/tmp/bok-test-lab-\(subnet)"
        _ = LabEnvironment.down(root: root, subnet: subnet)
        let state = try LabEnvironment.up(
            LabSpec(
                name: "lifecycle", subnet: subnet, nodeCount: 2, root: root,
                agentBinary: BuildProducts.agent))
        let netns = CommandRunner.run(["ip", "netns", "list"]).stdout
        XCTAssertTrue(netns.contains("bok\(subnet)-node2"))
        var pids: [Int32] = []
        for ns in ["bok\(subnet)-node1", "bok\(subnet)-node2", "bok\(subnet)-dns"] {
            pids += CommandRunner.run(["ip", "netns", "pids", ns]).stdout.split(separator: "\n").compactMap { Int32($0) }
        }
        XCTAssertGreaterThanOrEqual(pids.count, 6, "dockerd, containerd, agents, dnsmasq")

        // Simulate a crash: the state file is gone, only the subnet is known.
        try FileManager.default.removeItem(atPath: state.statePath)
        let report = LabEnvironment.down(root: root, subnet: subnet)
        XCTAssertFalse(report.isEmpty)
        XCTAssertFalse(CommandRunner.run(["ip", "netns", "list"]).stdout.contains("bok\(subnet)-"))
        XCTAssertFalse(CommandRunner.run(["ip", "-br", "link"]).stdout.contains("bk\(subnet)"))
        XCTAssertFalse(CommandRunner.run(["ip", "-br", "link"]).stdout.contains("bok\(subnet) "))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root))
        XCTAssertFalse(CommandRunner.run(["iptables", "-S", "FORWARD"]).stdout.contains("bok-lab\(subnet)"))
        for pid in pids {
            let alive = kill(pid, 0) == 0 && !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? true)
            XCTAssertFalse(alive, "pid \(pid) survived lab down")
        }
    }
}
