import Yams

/// Bounds for untrusted YAML (kubeconfig, cluster config, inventory, agent.yaml, manifests): a size cap on the
/// text and a cap on the nodes of the document *with aliases expanded*, so an alias bomb ("billion laughs": a
/// few hundred bytes that expand to billions of nodes) is refused in milliseconds instead of eating memory
/// and minutes. Composing is linear (an alias shares its anchor's node); only the walk that expands aliases is
/// exponential, and it stops at the budget.
public enum YAMLBudget {
    /// 16 MiB of text.
    public static let defaultMaxBytes = 16 << 20
    /// Nodes per document after alias expansion (a Kubernetes object or a large topology has a few thousand).
    public static let defaultMaxNodes = 200_000

    public struct Exceeded: Error, CustomStringConvertible, Sendable {
        public let source: String
        public let reason: String
        public var description: String { "\(source): \(reason)" }
    }

    /// Refuses text over `maxBytes` before it is parsed.
    public static func checkSize(_ text: String, source: String, maxBytes: Int = defaultMaxBytes) throws(Exceeded) {
        let size = text.utf8.count
        if size > maxBytes {
            throw Exceeded(source: source, reason: "the YAML is \(size) bytes, more than the \(maxBytes) BoK reads; is this the right file?")
        }
    }

    /// Refuses a composed document whose alias-expanded tree has more than `maxNodes` nodes.
    public static func check(_ node: Node, source: String, maxNodes: Int = defaultMaxNodes) throws(Exceeded) {
        var budget = maxNodes
        if !walk(node, budget: &budget) {
            throw Exceeded(
                source: source,
                reason: "the YAML expands to more than \(maxNodes) nodes through anchors and aliases (an alias bomb?); refusing to read it")
        }
    }

    /// Size check, compose (every document), node budget. Returns the first document's root.
    @discardableResult
    public static func compose(_ text: String, source: String, maxBytes: Int = defaultMaxBytes, maxNodes: Int = defaultMaxNodes) throws -> Node? {
        try checkSize(text, source: source, maxBytes: maxBytes)
        let root = try Yams.compose(yaml: text)
        if let root { try check(root, source: source, maxNodes: maxNodes) }
        return root
    }

    /// `Yams.load` after the checks (for code that wants `Any`).
    public static func load(_ text: String, source: String, maxBytes: Int = defaultMaxBytes, maxNodes: Int = defaultMaxNodes) throws -> Any? {
        guard try compose(text, source: source, maxBytes: maxBytes, maxNodes: maxNodes) != nil else { return nil }
        return try Yams.load(yaml: text)
    }

    private static func walk(_ node: Node, budget: inout Int) -> Bool {
        budget -= 1
        if budget < 0 { return false }
        switch node {
        case .scalar, .alias: return true
        case .sequence(let seq):
            for child in seq where !walk(child, budget: &budget) { return false }
            return true
        case .mapping(let map):
            for (key, value) in map {
                if !walk(key, budget: &budget) || !walk(value, budget: &budget) { return false }
            }
            return true
        }
    }
}
