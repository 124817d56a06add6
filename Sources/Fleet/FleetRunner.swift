import AgentProtocol
import Foundation
import NIOCore
import NIOPosix

/// One node's outcome of a fleet-wide operation.
public struct NodeOutcome<T: Sendable>: Sendable {
    public let node: Inventory.Node
    public let result: Result<T, AgentClientError>
    public let seconds: Double
}

/// Runs an operation against every agent of an inventory: one connection per agent, a limit on
/// how many at once, retries with backoff for connecting (always safe), results per node even
/// when some nodes fail.
public struct FleetRunner: Sendable {
    public let inventory: Inventory
    public let tls: ClientTLS?
    public var concurrency: Int
    public var connectTimeout: Double
    public var connectAttempts: Int

    public init(inventory: Inventory, tls: ClientTLS?, concurrency: Int = 64, connectTimeout: Double = 5, connectAttempts: Int = 3) {
        self.inventory = inventory
        self.tls = tls
        self.concurrency = max(1, concurrency)
        self.connectTimeout = connectTimeout
        self.connectAttempts = max(1, connectAttempts)
    }

    /// Connects with retries: 0.2 s, 0.4 s, 0.8 s … between attempts. TLS refusals are not retried.
    public func connect(_ node: Inventory.Node) async throws(AgentClientError) -> AgentClient {
        var delay = 0.2
        var attempt = 1
        while true {
            do {
                return try await AgentClient.connect(node: node.name, host: node.agentHost, port: node.agentPort, tls: tls, timeout: connectTimeout)
            } catch {
                if attempt >= connectAttempts || error.kind == .tls || error.kind == .identity || error.kind == .remote { throw error }
                try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                delay *= 2
                attempt += 1
            }
        }
    }

    /// Runs `operation` on each node (at most `concurrency` at once), in inventory order.
    public func run<T: Sendable>(
        _ nodes: [Inventory.Node]? = nil,
        _ operation: @escaping @Sendable (AgentClient) async throws(AgentClientError) -> T
    ) async -> [NodeOutcome<T>] {
        let targets = nodes ?? inventory.nodes
        var results = [NodeOutcome<T>?](repeating: nil, count: targets.count)
        await withTaskGroup(of: (Int, NodeOutcome<T>).self) { group in
            var next = 0
            func launch() {
                let i = next
                let node = targets[i]
                next += 1
                group.addTask {
                    let start = Date()
                    do throws(AgentClientError) {
                        let client = try await connect(node)
                        defer { Task { await client.close() } }
                        let value = try await operation(client)
                        return (i, NodeOutcome(node: node, result: .success(value), seconds: Date().timeIntervalSince(start)))
                    } catch {
                        return (i, NodeOutcome(node: node, result: .failure(error), seconds: Date().timeIntervalSince(start)))
                    }
                }
            }
            while next < min(concurrency, targets.count) { launch() }
            while let (i, outcome) = await group.next() {
                results[i] = outcome
                if next < targets.count { launch() }
            }
        }
        return results.compactMap { $0 }
    }
}

/// Retries a read-only call once on a dropped connection or timeout (never used for mutations).
public func retryingReadOnly<T: Sendable>(_ attempts: Int = 2, _ body: () async throws(AgentClientError) -> T) async throws(AgentClientError) -> T {
    var last: AgentClientError?
    for i in 0..<max(1, attempts) {
        do { return try await body() } catch {
            guard error.kind == .timeout || error.kind == .closed || error.kind == .connect else { throw error }
            last = error
            if i + 1 < attempts { try? await Task.sleep(nanoseconds: 300_000_000) }
        }
    }
    throw last!
}
