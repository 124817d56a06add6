import BoKSystem
import BoKTesting
import DockerEngine
import Foundation
import Lab
import XCTest

/// `coordinator chaincode list` on a 2-node lab (real dockerd per node, agents over mutual TLS): a container named as
/// Fabric 2.x names chaincode containers is listed with its chaincode ID, state and the DNS it sees; a node whose agent
/// does not answer is reported and makes the exit status 1.
final class ChaincodeListLabTests: XCTestCase {
    static let shared = SharedLab(
        LabSpec(
            name: "chaincode-tests", subnet: 61, nodeCount: 2, root: "/tmp/bok-test-lab-61",
            agentBinary: BuildProducts.agent))

    override class func setUp() {
        super.setUp()
        shared.up()
    }

    override class func tearDown() {
        _ = shared.down()
        super.tearDown()
    }

    func coordinator(_ args: [String]) -> CommandResult {
        CommandRunner.run([BuildProducts.coordinator] + args, timeout: 120)
    }

    func testListShowsEachNodesChaincodeContainersWithTheirDNSAndFailsForADeadNode() throws {
        if let reason = Self.shared.unavailable { throw XCTSkip(reason) }
        let lab = try XCTUnwrap(Self.shared.state)
        let node = lab.nodes[0]
        let hash = "dbe6d20a6a7eb61715eb5d3fdf864360d6712eb8d57a86b18d9be730abe5f47a"
        let name = "dev-peer0.org1-f-1-simple_1.0-\(hash)"
        let docker = ["docker", "-H", "unix:///run/docker.sock"]
        _ = node.run(docker + ["rm", "-f", name])
        let started = node.run(
            docker + [
                "run", "--pull", "never", "-d", "--name", name, lab.chaincodeImage, "sh", "-c",
                "trap 'exit 0' TERM; while true; do sleep 1; done",
            ])
        XCTAssertTrue(started.succeeded, started.stderr)
        defer { _ = node.run(docker + ["rm", "-f", name]) }
        let resolv = node.run(docker + ["exec", name, "cat", "/etc/resolv.conf"]).stdout
        let nameservers = resolv.split(separator: "\n").filter { $0.hasPrefix("nameserver ") }.map { String($0.dropFirst(11)) }
        XCTAssertFalse(nameservers.isEmpty, resolv)

        let table = coordinator(["chaincode", "list", "--inventory", lab.inventory])
        XCTAssertEqual(table.exitCode, 0, table.stderr + table.stdout)
        let row = try XCTUnwrap(table.stdout.split(separator: "\n").first { $0.contains(name) }, table.stdout)
        let cells = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        XCTAssertEqual(
            cells, [node.name, name, "simple_1.0:\(hash)", "running", nameservers.joined(separator: ",")], table.stdout)
        XCTAssertTrue(table.stdout.contains("1 chaincode container(s) on 2/2 node(s)"), table.stdout)

        let json = coordinator(["chaincode", "list", "--inventory", lab.inventory, "--json"])
        XCTAssertEqual(json.exitCode, 0, json.stderr)
        XCTAssertTrue(json.stdout.contains("\"name\" : \"\(name)\""), json.stdout)

        // The same nodes plus one whose agent is gone: listed with why, exit status 1.
        let inventory = try String(contentsOfFile: lab.inventory, encoding: .utf8)
        let withDead = NSTemporaryDirectory() + "/bok-cc-inventory-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: withDead) }
        let nodesLine = try XCTUnwrap(inventory.range(of: "nodes:\n"))
        let extended = inventory.replacingCharacters(in: nodesLine, with: "nodes:\n  - name: gone\n    agent: 127.0.0.1:1\n")
        try extended.write(toFile: withDead, atomically: true, encoding: .utf8)
        let partial = coordinator(["chaincode", "list", "--inventory", withDead, "--connect-timeout", "2"])
        XCTAssertEqual(partial.exitCode, 1, partial.stdout + partial.stderr)
        XCTAssertTrue(partial.stdout.contains(name), "the nodes that answer are still listed: \(partial.stdout)")
        XCTAssertTrue(partial.stdout.contains("gone (127.0.0.1:1): FAILED:"), partial.stdout)
    }
}
