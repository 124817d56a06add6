import AgentCore
import AgentProtocol
import Foundation
import Logging
import NIOPosix
import XCTest

/// Hostile ids and deeply nested lines over a real loopback connection to an in-process
/// AgentServer: each gets an error response and the connection (and process) keep serving.
final class WireRobustnessTests: XCTestCase {
    /// Answers every request with its own method name.
    struct Echo: RPCHandling {
        func handle(_ request: RPCRequest, connection: ConnectionContext) async -> RPCResponse? {
            RPCResponse(id: request.id, result: .string(request.method))
        }
    }

    func testOutOfRangeIdsAndDeepNestingAreAnsweredAndTheConnectionKeepsServing() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = AgentServer(handler: Echo(), tls: nil, idleTimeout: 30, logger: Logger(label: "wire-test"), group: group)
        do {
            let address = try await server.start(host: "127.0.0.1", port: 0)
            try exercise(port: address.port!)
        } catch {
            await server.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        await server.stop()
        try? await group.shutdownGracefully()
    }

    private func exercise(port: Int) throws {
        let client = try RawLineClient(port: port)

        for id in ["1e30", "-1e30", "9223372036854775808", "1.5", "1e400", "-1e400"] {
            client.send(#"{"jsonrpc":"2.0","id":"# + id + #","method":"agent.hello"}"# + "\n")
            let line = try XCTUnwrap(client.readLine(), "no answer for id \(id)")
            XCTAssertTrue(line.contains(#""id":null"#), "id \(id): \(line)")
            XCTAssertTrue(line.contains("-32600") || line.contains("-32700"), "id \(id): \(line)")
        }
        client.send(String(repeating: "[", count: 100_000) + "\n")
        let nested = try XCTUnwrap(client.readLine(), "no answer for a deeply nested line")
        XCTAssertTrue(nested.contains("-32700"), nested)

        client.send(#"{"jsonrpc":"2.0","id":42,"method":"still.alive"}"# + "\n")
        let alive = try XCTUnwrap(client.readLine(), "the connection stopped serving")
        XCTAssertTrue(alive.contains(#""result":"still.alive""#), alive)
    }
}
