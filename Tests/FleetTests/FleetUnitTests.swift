import AgentProtocol
import Fleet
import XCTest

final class InventoryTests: XCTestCase {
    func testParsesNodesAndDefaultsThePort() throws {
        let inv = try Inventory.parse(
            """
            kubeDNS: 10.0.0.10
            nodes:
              - name: worker-1
                agent: 10.1.0.21:7443
                ssh: root@10.1.0.21
              - name: worker-2
                agent: 10.1.0.22
            """, path: "inv.yaml")
        XCTAssertEqual(inv.nodes.map(\.name), ["worker-1", "worker-2"])
        XCTAssertEqual(inv.nodes[1].agentPort, 7443)
        XCTAssertEqual(inv.kubeDNS, "10.0.0.10")
        XCTAssertEqual(try Inventory.parse(inv.yaml(), path: "x").nodes, inv.nodes)
    }

    func testErrorsNameFileLineAndField() {
        XCTAssertThrowsError(try Inventory.parse("nodes:\n  - name: a\n    agnet: 1.2.3.4:1\n", path: "inv.yaml")) { e in
            XCTAssertTrue("\(e)".contains("inv.yaml:3"), "\(e)")
            XCTAssertTrue("\(e)".contains("agnet"), "\(e)")
        }
        XCTAssertThrowsError(try Inventory.parse("nodes:\n  - name: a\n    agent: 1.2.3.4:1\n  - name: a\n    agent: 1.2.3.5:1\n", path: "i")) {
            XCTAssertTrue("\($0)".contains("twice"))
        }
        XCTAssertThrowsError(try Inventory.parse("kubeDNS: cluster\nnodes: []\n", path: "i"))
    }

    func testSelectingUnknownNodesIsAnError() throws {
        let inv = try Inventory.parse("nodes:\n  - name: a\n    agent: 1.2.3.4:1\n", path: "i")
        XCTAssertThrowsError(try inv.selecting(["b"])) { XCTAssertTrue("\($0)".contains("b")) }
    }
}

final class DNSRolloutSpecTests: XCTestCase {
    func testKubeDNSComesFirstThenTheNodesOwnResolversAtMostThree() {
        let spec = DNSRolloutSpec(kubeDNS: "10.0.0.10")
        XCTAssertEqual(
            spec.desired(upstream: ["10.162.204.1", "127.0.0.53", "10.0.0.10", "10.166.1.1", "10.1.1.1"]).nameservers,
            ["10.0.0.10", "10.162.204.1", "10.166.1.1"])
        XCTAssertEqual(spec.desired(upstream: []).search, ["default.svc.cluster.local", "svc.cluster.local"])
    }

    func testMaxUnavailableParsesCountsAndPercentages() {
        XCTAssertEqual(MaxUnavailable("2")?.batchSize(nodes: 10), 2)
        XCTAssertEqual(MaxUnavailable("25%")?.batchSize(nodes: 10), 2)
        XCTAssertEqual(MaxUnavailable("100%")?.batchSize(nodes: 3), 3)
        XCTAssertEqual(MaxUnavailable("1%")?.batchSize(nodes: 3), 1)
        XCTAssertNil(MaxUnavailable("0"))
        XCTAssertNil(MaxUnavailable("150%"))
    }

    func testInvalidValuesAreRefusedBeforeAnyNodeIsTouched() {
        XCTAssertThrowsError(try DNSRolloutSpec(kubeDNS: "10.0.0.10 --insecure").validate())
        XCTAssertThrowsError(try DNSRolloutSpec(kubeDNS: "10.0.0.10", search: ["a b"]).validate())
    }
}
