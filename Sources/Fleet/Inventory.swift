import BoKSystem
import BoKYAML
import Foundation
import Yams

/// The nodes BoK manages (`configs/inventory.yaml`; the lab writes its own).
public struct Inventory: Sendable, Equatable {
    public struct Node: Sendable, Equatable, Codable {
        public var name: String
        /// HOST:PORT of the node's agent.
        public var agent: String
        /// [user@]HOST[:PORT] for SSH (agent install, kubeconfig fetch).
        public var ssh: String?
        public init(name: String, agent: String, ssh: String? = nil) {
            self.name = name
            self.agent = agent
            self.ssh = ssh
        }

        public var agentHost: String { splitHostPort(agent)?.0 ?? agent }
        public var agentPort: Int { splitHostPort(agent)?.1 ?? 7443 }
    }

    public var path: String
    public var nodes: [Node]
    /// The directory of the coordinator's CA and client certificate (default ~/.bok/ca).
    public var caDir: String?
    /// kube-dns' ClusterIP, when known (the lab writes it).
    public var kubeDNS: String?

    public init(path: String, nodes: [Node], caDir: String? = nil, kubeDNS: String? = nil) {
        self.path = path
        self.nodes = nodes
        self.caDir = caDir
        self.kubeDNS = kubeDNS
    }

    public var trust: TrustStore { TrustStore(dir: caDir ?? TrustStore.defaultDir) }

    /// Parses an inventory; errors name the file, the line and the field.
    public static func load(path: String) throws(FleetError) -> Inventory {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw FleetError("cannot read inventory \(path); pass --inventory FILE (see configs/inventory.yaml)")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(FleetError) -> Inventory {
        let root: Node_
        do {
            guard let n = try YAMLBudget.compose(text, source: path, maxBytes: 4 << 20, maxNodes: 200_000) else {
                throw FleetError("\(path): the inventory is empty; it needs a `nodes:` list")
            }
            root = Node_(n)
        } catch let e as FleetError {
            throw e
        } catch let e as YAMLBudget.Exceeded {
            throw FleetError(e.description)
        } catch {
            throw FleetError("\(path): not valid YAML: \(error)")
        }
        guard case .mapping(let map) = root.node else { throw FleetError("\(path):\(root.line): expected a mapping with `nodes:`") }
        var inv = Inventory(path: path, nodes: [])
        for (k, v) in map {
            guard let key = k.string else { continue }
            let where_ = "\(path):\(k.mark?.line ?? 0)"
            switch key {
            case "caDir": inv.caDir = v.string.map { expandHome($0, relativeTo: path) }
            case "kubeDNS":
                guard let s = v.string, isIPAddress(s) else { throw FleetError("\(where_): kubeDNS must be an IP address") }
                inv.kubeDNS = s
            case "nodes":
                guard case .sequence(let seq) = v else { throw FleetError("\(where_): nodes must be a list") }
                for item in seq {
                    let line = item.mark?.line ?? 0
                    guard case .mapping(let m) = item else { throw FleetError("\(path):\(line): each node must be a mapping with name and agent") }
                    var fields: [String: String] = [:]
                    for (nk, nv) in m {
                        guard let name = nk.string else { continue }
                        guard ["name", "agent", "ssh"].contains(name) else {
                            throw FleetError("\(path):\(nk.mark?.line ?? line): unknown node field '\(name)' (known: name, agent, ssh)")
                        }
                        guard let value = nv.string else {
                            throw FleetError("\(path):\(nk.mark?.line ?? line): node field '\(name)' must be a string")
                        }
                        fields[name] = value
                    }
                    guard let name = fields["name"], !name.isEmpty else { throw FleetError("\(path):\(line): node without `name`") }
                    guard var agent = fields["agent"] else { throw FleetError("\(path):\(line): node '\(name)' has no `agent:` address (HOST:PORT)") }
                    if splitHostPort(agent) == nil { agent += ":7443" }
                    guard splitHostPort(agent) != nil else {
                        throw FleetError("\(path):\(line): node '\(name)': agent must be HOST:PORT, got '\(agent)'")
                    }
                    if inv.nodes.contains(where: { $0.name == name }) { throw FleetError("\(path):\(line): node '\(name)' is listed twice") }
                    inv.nodes.append(Node(name: name, agent: agent, ssh: fields["ssh"]))
                }
            default:
                throw FleetError("\(where_): unknown key '\(key)' (known: nodes, caDir, kubeDNS)")
            }
        }
        guard !inv.nodes.isEmpty else { throw FleetError("\(path): the inventory lists no nodes") }
        return inv
    }

    public func yaml() -> String {
        var out = "# BoK inventory: the nodes and their agents.\n"
        if let caDir { out += "caDir: \(caDir)\n" }
        if let kubeDNS { out += "kubeDNS: \(kubeDNS)\n" }
        out += "nodes:\n"
        for n in nodes {
            out += "  - name: \(n.name)\n    agent: \(n.agent)\n"
            if let ssh = n.ssh { out += "    ssh: \(ssh)\n" }
        }
        return out
    }

    /// Restricts to the named nodes (`--nodes a,b`); unknown names are an error.
    public func selecting(_ names: [String]) throws(FleetError) -> Inventory {
        guard !names.isEmpty else { return self }
        let unknown = names.filter { n in !nodes.contains { $0.name == n } }
        guard unknown.isEmpty else {
            throw FleetError(
                "unknown node(s) \(unknown.joined(separator: ", ")); the inventory \(path) has \(nodes.map(\.name).joined(separator: ", "))")
        }
        var copy = self
        copy.nodes = nodes.filter { names.contains($0.name) }
        return copy
    }
}

/// A YAML node with its line, for error messages.
private struct Node_ {
    let node: Yams.Node
    init(_ n: Yams.Node) { node = n }
    var line: Int { node.mark?.line ?? 0 }
}

func expandHome(_ p: String, relativeTo file: String) -> String {
    if p.hasPrefix("~/") { return NSHomeDirectory() + p.dropFirst(1) }
    if p.hasPrefix("/") { return p }
    return ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(p)
}

func splitHostPort(_ s: String) -> (String, Int)? {
    if s.hasPrefix("[") {
        guard let close = s.firstIndex(of: "]"), s[s.index(after: close)...].hasPrefix(":"),
            let port = Int(s[s.index(close, offsetBy: 2)...]), (1...65535).contains(port)
        else { return nil }
        return (String(s[s.index(after: s.startIndex)..<close]), port)
    }
    guard let colon = s.lastIndex(of: ":"), !s[..<colon].contains(":"), let port = Int(s[s.index(after: colon)...]),
        (1...65535).contains(port), colon != s.startIndex
    else { return nil }
    return (String(s[..<colon]), port)
}

func isIPAddress(_ s: String) -> Bool { IPAddressLiteral.isLiteral(s) }
