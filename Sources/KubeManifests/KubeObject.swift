import enum KubeClient.ApplyOrder
import enum KubeClient.JSON

/// One Kubernetes object, rendered.
public struct KubeObject: Sendable, Equatable {
    public let apiVersion: String
    public let kind: String
    public let name: String
    /// nil for cluster-scoped objects (Namespace, PersistentVolume).
    public let namespace: String?
    /// The whole object: apiVersion, kind, metadata, spec/data.
    public let body: YAMLValue

    public init(apiVersion: String, kind: String, name: String, namespace: String?, body: YAMLValue) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.body = body
    }

    /// The object as a YAML document (for files: `coordinator render`).
    public var yaml: String { YAMLEmitter.emit(body) }

    /// The object as the Kubernetes API's JSON, straight from the rendered tree: what the rollout applies, with no YAML
    /// text in between.
    public var json: JSON { body.json }

    /// The object's labels.
    public var labels: [String: String] {
        var result: [String: String] = [:]
        for pair in body["metadata"]?["labels"]?.pairs ?? [] { result[pair.key] = pair.value.string }
        return result
    }

    /// Where `render` writes it: `<namespace>/<rank>-<kind>-<name>.yaml` (`cluster/…` for cluster-scoped objects), so
    /// `kubectl apply -R -f DIR` creates namespaces before what lives in them.
    public var relativePath: String {
        let folder = namespace ?? (kind == "Namespace" ? name : "cluster")
        let rank = ApplyOrder.fileRank(ofKind: kind)
        let rankText = rank < 10 ? "0\(rank)" : "\(rank)"
        return "\(folder)/\(rankText)-\(kind.lowercased())-\(name).yaml"
    }
}

/// The labels every rendered object carries, so a tenant's objects can be listed and deleted exactly.
public enum BoKLabels {
    public static let name = "app.kubernetes.io/name"
    public static let instance = "app.kubernetes.io/instance"
    public static let component = "app.kubernetes.io/component"
    public static let partOf = "app.kubernetes.io/part-of"
    public static let managedBy = "app.kubernetes.io/managed-by"
    public static let version = "app.kubernetes.io/version"
    /// The tenant that owns the object (`f-1`): teardown deletes exactly the objects with this label.
    public static let tenant = "bok.io/tenant"
    /// The Fabric organisation (lower-cased name) the object belongs to.
    public static let organization = "bok.io/organization"

    /// Value of `app.kubernetes.io/part-of` and `managed-by`.
    public static let product = "bok"

    /// A selector that matches everything one tenant owns: `bok.io/tenant=f-1`.
    public static func tenantSelector(_ tenant: String) -> String { "\(Self.tenant)=\(tenant)" }
}

extension YAMLValue {
    /// The same tree as Kubernetes API JSON (strings stay strings, integers integers, mappings objects).
    public var json: JSON {
        switch self {
        case .string(let text): return .string(text)
        case .int(let value): return .int(Int64(value))
        case .bool(let value): return .bool(value)
        case .list(let items): return .array(items.map(\.json))
        case .mapping(let pairs):
            var object: [String: JSON] = [:]
            for pair in pairs { object[pair.key] = pair.value.json }
            return .object(object)
        }
    }
}
