import Foundation

/// A Fabric network as BoK deploys it, read from `cluster-config.yaml`.
///
/// Holds the user's `Tenant`, `OrdererOrgs` and `PeerOrgs` (cryptogen's shape) plus every optional setting with its
/// default filled in. A value of this type is valid: names are DNS labels, domains and namespaces are unique, every
/// org has at least one node. Code past the parser never re-checks.
public struct FabricTopology: Sendable, Equatable {
    /// The tenant (`f-1`), the suffix of every namespace.
    public let tenant: String
    public let ordererOrgs: [Organization]
    public let peerOrgs: [Organization]
    public let fabric: FabricRelease
    /// The ordering service type; only Raft (`etcdraft`) exists since Fabric 2.
    public let ordering: String
    public let stateDatabase: StateDatabase
    public let storage: StorageSettings
    public let platform: PlatformProfile
    /// The default channel created and joined at rollout (`mychannel`).
    public let channel: String
    public let explorer: ExplorerSettings
    public let nodePorts: NodePortSettings
    /// NetworkPolicies per org namespace (default on): deny ingress, then allow exactly what Fabric needs.
    public let networkPolicies: Bool
    /// Where the topology came from (the file as named by the user).
    public let source: String
    /// Tolerated oddities (e.g. `Users:` not indented under its org), with their lines.
    public let warnings: [TopologyDiagnostic]

    public init(
        tenant: String, ordererOrgs: [Organization], peerOrgs: [Organization],
        fabric: FabricRelease = FabricRelease(version: FabricRelease.defaultVersion)!, ordering: String = "etcdraft",
        stateDatabase: StateDatabase = .couchDB, storage: StorageSettings = .defaultSettings,
        platform: PlatformProfile = .standard, channel: String = "mychannel", explorer: ExplorerSettings = ExplorerSettings(),
        nodePorts: NodePortSettings = NodePortSettings(), networkPolicies: Bool = true, source: String = "<input>",
        warnings: [TopologyDiagnostic] = []
    ) {
        self.tenant = tenant
        self.ordererOrgs = ordererOrgs
        self.peerOrgs = peerOrgs
        self.fabric = fabric
        self.ordering = ordering
        self.stateDatabase = stateDatabase
        self.storage = storage
        self.platform = platform
        self.channel = channel
        self.explorer = explorer
        self.nodePorts = nodePorts
        self.networkPolicies = networkPolicies
        self.source = source
        self.warnings = warnings
    }

    /// Orderer orgs then peer orgs.
    public var organizations: [Organization] { ordererOrgs + peerOrgs }

    /// Every orderer of every orderer org, in order.
    public var orderers: [FabricNode] { ordererOrgs.flatMap(\.nodes) }

    /// Reads and validates a topology file.
    /// - Throws: `TopologyError` with every problem found (file, line, field), or when the file cannot be read.
    public static func load(path: String) throws -> FabricTopology {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TopologyError(diagnostics: [
                TopologyDiagnostic(file: path, line: nil, column: nil, field: "", message: "cannot read the file: \(error.localizedDescription)")
            ])
        }
        return try parse(yaml: text, source: path)
    }

    /// Parses and validates topology YAML; `source` names it in diagnostics.
    /// - Throws: `TopologyError` with every problem found.
    public static func parse(yaml: String, source: String = "<input>") throws -> FabricTopology {
        var parser = TopologyParser(source: source)
        return try parser.parse(yaml)
    }

    /// The NodePort of an org's CA, if CA NodePorts are configured (peer orgs first, then orderer orgs).
    public func caNodePort(for org: Organization) -> Int? {
        guard let base = nodePorts.caBase else { return nil }
        let ordered = peerOrgs + ordererOrgs
        guard let index = ordered.firstIndex(where: { $0.namespace == org.namespace }) else { return nil }
        return base + 100 * index
    }

    /// The NodePort of an orderer, if orderer NodePorts are configured.
    public func ordererNodePort(for node: FabricNode) -> Int? {
        guard let base = nodePorts.ordererBase,
            let index = orderers.firstIndex(where: { $0.commonName == node.commonName && $0.namespace == node.namespace })
        else { return nil }
        return base + index
    }

    /// The org whose namespace hosts the explorer (the first peer org: the explorer uses its admin identity).
    public var explorerOrg: Organization? { explorer.enabled ? peerOrgs.first : nil }
}

extension FabricTopology {
    /// One line describing the network, for `validate` and logs.
    public var summary: String {
        let peers = peerOrgs.reduce(0) { $0 + $1.nodes.count }
        let users = peerOrgs.reduce(0) { $0 + $1.userCount }
        func plural(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }
        return "tenant \(tenant): \(plural(ordererOrgs.count, "orderer org")) (\(plural(orderers.count, "orderer"))), "
            + "\(plural(peerOrgs.count, "peer org")) (\(plural(peers, "peer")), \(plural(users, "user"))); "
            + "Fabric \(fabric.version), \(stateDatabase.rawValue), channel \(channel)"
    }
}
