/// Which object: its kind (with apiVersion), namespace (nil for cluster-scoped kinds) and name.
public struct ObjectRef: Sendable, Hashable, CustomStringConvertible {
    public var apiVersion: String
    public var kind: String
    public var namespace: String?
    public var name: String

    public init(apiVersion: String, kind: String, namespace: String? = nil, name: String) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public init(_ type: ResourceType, namespace: String? = nil, name: String) {
        self.init(apiVersion: type.apiVersion, kind: type.kind, namespace: type.namespaced ? namespace : nil, name: name)
    }

    public static func namespace(_ name: String) -> ObjectRef { ObjectRef(.namespace, name: name) }
    public static func service(_ name: String, namespace: String) -> ObjectRef {
        ObjectRef(.service, namespace: namespace, name: name)
    }
    public static func deployment(_ name: String, namespace: String) -> ObjectRef {
        ObjectRef(.deployment, namespace: namespace, name: name)
    }
    public static func statefulSet(_ name: String, namespace: String) -> ObjectRef {
        ObjectRef(.statefulSet, namespace: namespace, name: name)
    }
    public static func job(_ name: String, namespace: String) -> ObjectRef {
        ObjectRef(.job, namespace: namespace, name: name)
    }
    public static func secret(_ name: String, namespace: String) -> ObjectRef {
        ObjectRef(.secret, namespace: namespace, name: name)
    }
    public static func configMap(_ name: String, namespace: String) -> ObjectRef {
        ObjectRef(.configMap, namespace: namespace, name: name)
    }

    /// `Deployment org1-f-1/peer0`, or `Namespace org1-f-1`.
    public var description: String {
        namespace.map { "\(kind) \($0)/\(name)" } ?? "\(kind) \(name)"
    }
}
