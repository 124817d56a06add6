import AgentInstaller
import Fleet

/// Installs missing agents over SSH for `coordinator rollout --install-agents`: the same
/// `AgentInstaller` as `coordinator agents install --missing-only`.
public struct SSHAgentProvisioner: AgentProvisioner {
    public let options: AgentInstallOptions

    public init(options: AgentInstallOptions) {
        self.options = options
    }

    public func installMissing(nodes: [Inventory.Node], progress: @escaping @Sendable (String) -> Void) async throws -> [String: String] {
        let installer = AgentInstaller(options: options) { node, message in progress("\(node): \(message)") }
        var outcomes: [String: String] = [:]
        for report in await installer.installMissing(nodes: nodes) {
            outcomes[report.node] =
                if report.ok {
                    report.action.rawValue + (report.agentVersion.map { " (agent \($0))" } ?? "")
                } else {
                    "\(report.action.rawValue): \(report.step.map { "\($0): " } ?? "")\(report.error ?? "no detail")"
                }
        }
        return outcomes
    }
}
