import AgentCore
import AgentProtocol
import Fleet
import Foundation
import XCTest

/// `chaincode.prune` removes images: only a coordinator-role certificate reaches it. Another node's agent key,
/// used as a client, is refused before any method runs.
final class PruneRoleTests: XCTestCase {
    var fx: SecurityFixture!

    override func setUp() async throws { fx = try SecurityFixture() }
    override func tearDown() async throws { await fx.tearDown() }

    func testAnotherNodesAgentCertificateCannotPruneAndTheCoordinatorCan() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let b = try fx.trust.issueAgent(node: "nodeB", addresses: ["127.0.0.1"], outDir: fx.dir + "/nodeB")
        let stolen = try ClientTLS(certFile: b.cert, keyFile: b.key, caFile: fx.trust.caCert)
        do {
            let client = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: stolen, timeout: 5)
            _ = try await client.chaincodePrune(ChaincodePruneParams(olderThan: 0, dryRun: false))
            await client.close()
            XCTFail("an agent certificate must not reach chaincode.prune")
        } catch {
            XCTAssertNotEqual(error.kind, .remote, "refused before any method ran: \(error)")
        }
        XCTAssertEqual(a.counter.count.withLockedValue { $0 }, 0, "no request reached the methods")

        // The coordinator reaches the method (this agent's Docker socket points at nothing: Docker unavailable).
        let client = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: try fx.coordinatorTLS(), timeout: 5)
        defer { Task { await client.close() } }
        do {
            _ = try await client.chaincodePrune(ChaincodePruneParams(olderThan: 0, dryRun: true))
            XCTFail("no Docker here: the agent must say so")
        } catch {
            XCTAssertEqual(error.kind, .remote)
            XCTAssertEqual(error.rpcError?.code, RPCErrorCode.dockerUnavailable.rawValue, "\(error)")
        }
        let hello = try await client.hello()
        XCTAssertTrue(hello.capabilities.contains("chaincode.prune"))
        XCTAssertTrue(hello.capabilities.contains("node.preflight"))
    }
}
