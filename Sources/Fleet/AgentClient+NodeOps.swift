import AgentProtocol
import Foundation

extension AgentClient {
    public func chaincodeImages() async throws(AgentClientError) -> ChaincodeImagesResult {
        try await call(.chaincodeImages, EmptyParams(), timeout: 90)
    }

    /// Removing images takes a while on a slow disk; the agent also waits for a DNS apply in flight.
    public func chaincodePrune(_ p: ChaincodePruneParams, timeout: Double = 600) async throws(AgentClientError) -> ChaincodePruneResult {
        try await call(.chaincodePrune, p, timeout: timeout)
    }

    /// `node.preflight` plus this side's clock around it: `sent` and `received` are the coordinator's times
    /// (Unix seconds) just before the request left and just after the answer arrived.
    public func preflight() async throws(AgentClientError) -> (result: NodePreflightResult, sent: Double, received: Double) {
        let sent = Date().timeIntervalSince1970
        let result: NodePreflightResult = try await call(.preflight, NodePreflightParams())
        return (result, sent, Date().timeIntervalSince1970)
    }
}
