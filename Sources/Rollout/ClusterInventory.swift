import Fleet
import KubeClient

/// An inventory read from the cluster instead of a file: every node with an InternalIP, its
/// agent at `<InternalIP>:<agentPort>`, named after the node.
public enum ClusterInventory {
    /// Roles whose nodes run no Fabric pods and are left out unless `includeControlPlane`.
    public static let controlPlaneRoles: Set<String> = ["control-plane", "master"]

    public static func nodes(_ nodes: [NodeInfo], agentPort: Int = 7443, includeControlPlane: Bool = false)
        -> (nodes: [Inventory.Node], skipped: [String: String])
    {
        var result: [Inventory.Node] = []
        var skipped: [String: String] = [:]
        for node in nodes.sorted(by: { $0.name < $1.name }) {
            if !includeControlPlane, !controlPlaneRoles.isDisjoint(with: node.roles) {
                skipped[node.name] = "control-plane node (role \(node.roles.joined(separator: ",")))"
                continue
            }
            guard let ip = node.internalIP, !ip.isEmpty else {
                skipped[node.name] = "reports no InternalIP address"
                continue
            }
            let host = ip.contains(":") ? "[\(ip)]" : ip
            result.append(Inventory.Node(name: node.name, agent: "\(host):\(agentPort)"))
        }
        return (result, skipped)
    }

    /// Reads the nodes from the API and makes an inventory of them.
    public static func load(_ client: KubeClient, caDir: String?, kubeDNS: String? = nil, agentPort: Int = 7443)
        throws -> (inventory: Inventory, skipped: [String: String])
    {
        let (nodes, skipped) = Self.nodes(try client.listNodes(), agentPort: agentPort)
        guard !nodes.isEmpty else {
            throw RolloutError(
                step: .preflight,
                "the cluster lists no worker node with an InternalIP (\(skipped.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; "))); pass --inventory FILE"
            )
        }
        return (Inventory(path: "cluster nodes (\(client.config.server))", nodes: nodes, caDir: caDir, kubeDNS: kubeDNS), skipped)
    }
}
