import AgentProtocol
import BoKSystem
import BoKTesting
import CurlHTTP
import DockerEngine
import Fleet
import Foundation
import Lab
import XCTest

/// `chaincode watch` on a 2-node lab (subnet 214): real dockerd per node, the real agent binary over mutual TLS.
/// A chaincode-named container started, exiting with 3 and removed on node1 shows up as lines; node2's agent
/// killed (by PID) is reported, and reconnected once started again.
final class ChaincodeWatchLabTests: XCTestCase {
    static let shared = SharedLab(
        LabSpec(
            name: "metrics-watch-tests", subnet: 214, nodeCount: 2, root: "/tmp/bok-test-lab-214",
            agentBinary: BuildProducts.agent))

    override class func setUp() {
        super.setUp()
        shared.up()
    }

    override class func tearDown() {
        shared.down()
        super.tearDown()
    }

    func agentPID(_ node: LabNode) -> pid_t? {
        guard let t = try? String(contentsOfFile: node.agentPIDFile, encoding: .utf8) else { return nil }
        return Int32(t.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testContainerEventsFromARealDockerdAndAnAgentThatDiesAndComesBack() async throws {
        if let reason = Self.shared.unavailable { throw XCTSkip(reason) }
        let lab = Self.shared.state!
        // node1's agent with metrics on its lab address, to see the container gauge follow a real dockerd.
        try LabEnvironment.startAgent(
            lab.nodes[0], state: lab, binary: BuildProducts.agent,
            extraArgs: ["--metrics-listen", "\(lab.nodes[0].address):9469"])
        func metrics() throws -> Exposition {
            let r = try HTTPClient().send(HTTPRequest(url: "http://\(lab.nodes[0].address):9469/metrics", timeout: 30))
            XCTAssertEqual(r.status, 200)
            return try Exposition.parse(String(decoding: r.body, as: UTF8.self))
        }
        let inventory = try Inventory.load(path: lab.inventory)
        let runner = FleetRunner(inventory: inventory, tls: try inventory.trust.clientTLS(), connectTimeout: 3)
        let sink = LineSink()
        let task = Task { await ChaincodeWatcher(runner: runner, initialBackoff: 0.2, maxBackoff: 1) { sink.append($0) }.run() }
        let node1 = lab.nodes[0]
        let node2 = lab.nodes[1]
        let name = "dev-peer0.org1-f-1-mycc_1.0-" + String(repeating: "cd34", count: 16)
        func docker(_ args: [String]) -> CommandResult { node1.run(["docker", "-H", "unix:///run/docker.sock"] + args, timeout: 60) }
        defer { _ = docker(["rm", "-f", name]) }
        do {
            try MetricsWatchFixture.waitFor("both nodes connected", timeout: 30) { sink.lines.filter { $0.event == "connected" }.count == 2 }
            // Let a polling agent take its first listing before the container exists.
            try await Task.sleep(nanoseconds: 2_500_000_000)
            let run = docker(["run", "-d", "--pull", "never", "--name", name, lab.chaincodeImage, "sh", "-c", "sleep 3; exit 3"])
            XCTAssertTrue(run.succeeded, run.stderr)
            try MetricsWatchFixture.waitFor("an event for the new container", timeout: 30) {
                sink.lines.contains { $0.node == "node1" && $0.container == name && ["start", "created"].contains($0.event) }
            }
            try MetricsWatchFixture.waitFor("its exit with code 3", timeout: 30) {
                sink.lines.contains { $0.node == "node1" && $0.container == name && $0.exitCode == 3 }
            }
            // Docker sends `die` before its container list shows the container exited: scrape until it does.
            var scraped = try metrics()
            let listed = Date().addingTimeInterval(10)
            while (scraped.value("bok_agent_chaincode_containers", ["state": "exited"]) ?? 0) < 1, Date() < listed {
                try await Task.sleep(nanoseconds: 200_000_000)
                scraped = try metrics()
            }
            XCTAssertEqual(scraped.value("bok_agent_docker_up"), 1)
            XCTAssertGreaterThanOrEqual(
                scraped.value("bok_agent_chaincode_containers", ["state": "exited"]) ?? 0, 1, "the exited chaincode container")
            XCTAssertNotNil(scraped.value("bok_agent_docker_dns_in_sync"))
            XCTAssertTrue(docker(["rm", name]).succeeded)
            try MetricsWatchFixture.waitFor("its removal", timeout: 30) {
                sink.lines.contains { $0.node == "node1" && $0.container == name && ["destroy", "removed"].contains($0.event) }
            }
            let event = try XCTUnwrap(sink.lines.first { $0.container == name })
            XCTAssertEqual(event.chaincode, "mycc_1.0:" + String(repeating: "cd34", count: 16))

            // node2's agent dies (SIGKILL, no goodbye), then comes back.
            let pid = try XCTUnwrap(agentPID(node2))
            kill(pid, SIGKILL)
            for _ in 0..<100 where !CommandRunner.reapIfExited(pid) && kill(pid, 0) == 0 { usleep(20_000) }
            try MetricsWatchFixture.waitFor("node2 reported", timeout: 30) {
                sink.lines.contains { $0.node == "node2" && $0.event == "disconnected" }
            }
            try LabEnvironment.startAgent(node2, state: lab, binary: BuildProducts.agent)
            try MetricsWatchFixture.waitFor("node2 reconnected", timeout: 30) {
                sink.lines.contains { $0.node == "node2" && $0.event == "reconnected" }
            }
            XCTAssertFalse(sink.lines.contains { $0.node == "node1" && $0.event == "disconnected" }, sink.lines.map(\.text).joined(separator: "\n"))
        } catch {
            task.cancel()
            throw error
        }
        task.cancel()
        await task.value
    }
}
