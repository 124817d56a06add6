import Fleet

/// Installs the agent on nodes whose agent does not answer (e.g. over SSH). `coordinator rollout
/// --install-agents` calls it in preflight, then checks those nodes again.
///
/// The SSH installer (`coordinator agents install`) plugs in here; without one, `--install-agents`
/// says "agents install not available" and preflight goes on as without the flag.
public protocol AgentProvisioner: Sendable {
    /// Installs (or repairs) the agent on each node and starts it. Returns, per node name, a short
    /// outcome ("installed 0.1.0", "failed: …"); throws only when nothing could be attempted.
    func installMissing(nodes: [Inventory.Node], progress: @escaping @Sendable (String) -> Void) async throws -> [String: String]
}
