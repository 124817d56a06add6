import Foundation

/// Why a value is not a usable Kubernetes object: which document (of a YAML stream), and what.
public struct KubeObjectError: Error, CustomStringConvertible, Sendable {
    /// 1-based position in a multi-document YAML stream, when there was one.
    public var document: Int?
    public var reason: String

    public init(document: Int? = nil, reason: String) {
        self.document = document
        self.reason = reason
    }

    public var description: String {
        document.map { "document \($0): \(reason)" } ?? reason
    }
}

/// One Kubernetes object of any kind, as the API serves it: a JSON object with `apiVersion`,
/// `kind` and `metadata`. Typed accessors cover what BoK reads; everything else is reachable
/// through `json` and the path subscript.
public struct KubeObject: Sendable, Hashable, CustomStringConvertible {
    /// The whole object; always a JSON object.
    public private(set) var json: JSON

    /// Wraps a JSON object; it needs `apiVersion` and `kind` strings, and `metadata`, when
    /// present, must be an object.
    public init(_ json: JSON) throws(KubeObjectError) {
        guard case .object(let members) = json else {
            throw KubeObjectError(reason: "a Kubernetes object must be a mapping, not a \(json.typeName)")
        }
        guard let apiVersion = members["apiVersion"]?.stringValue, !apiVersion.isEmpty else {
            throw KubeObjectError(reason: "the object has no apiVersion (e.g. `apiVersion: v1`)")
        }
        guard let kind = members["kind"]?.stringValue, !kind.isEmpty else {
            throw KubeObjectError(reason: "the object (apiVersion \(apiVersion)) has no kind")
        }
        if let metadata = members["metadata"], metadata.objectValue == nil {
            throw KubeObjectError(reason: "\(kind): metadata must be a mapping, not a \(metadata.typeName)")
        }
        self.json = json
    }

    /// Parses one object from JSON bytes.
    public init(jsonData: Data) throws(KubeObjectError) {
        let json: JSON
        do {
            json = try JSON.parse(jsonData)
        } catch {
            throw KubeObjectError(reason: error.description)
        }
        try self.init(json)
    }

    /// Parses one object from a YAML (or JSON) document.
    public init(yaml: String) throws(KubeObjectError) {
        let objects = try KubeObject.objects(yaml: yaml)
        guard objects.count == 1 else {
            throw KubeObjectError(reason: "expected one object, the YAML holds \(objects.count)")
        }
        self = objects[0]
    }

    /// Every object of a multi-document YAML stream, in order. A `kind: List` document
    /// contributes its items.
    public static func objects(yaml: String) throws(KubeObjectError) -> [KubeObject] {
        let documents: [JSON]
        do {
            documents = try JSON.parseYAMLDocuments(yaml)
        } catch {
            throw KubeObjectError(reason: "not valid YAML: \(error)")
        }
        var result: [KubeObject] = []
        for (index, document) in documents.enumerated() {
            do throws(KubeObjectError) {
                if document["kind"]?.stringValue == "List", let items = document["items"]?.arrayValue {
                    for item in items { result.append(try KubeObject(item)) }
                } else {
                    result.append(try KubeObject(document))
                }
            } catch {
                throw KubeObjectError(document: index + 1, reason: error.reason)
            }
        }
        return result
    }

    /// A new object with the given identity and no other fields yet.
    public init(
        apiVersion: String, kind: String, name: String, namespace: String? = nil,
        labels: [String: String] = [:]
    ) {
        var metadata: [String: JSON] = ["name": .string(name)]
        if let namespace { metadata["namespace"] = .string(namespace) }
        if !labels.isEmpty { metadata["labels"] = JSON(labels) }
        json = .object(["apiVersion": .string(apiVersion), "kind": .string(kind), "metadata": .object(metadata)])
    }

    public var apiVersion: String { json["apiVersion"]?.stringValue ?? "" }
    public var kind: String { json["kind"]?.stringValue ?? "" }

    public var metadata: JSON { json["metadata"] ?? .object([:]) }

    public var name: String {
        get { json[path: ["metadata", "name"]]?.stringValue ?? "" }
        set { json[path: ["metadata", "name"]] = .string(newValue) }
    }

    public var namespace: String? {
        get { json[path: ["metadata", "namespace"]]?.stringValue }
        set { json[path: ["metadata", "namespace"]] = newValue.map(JSON.string) }
    }

    public var labels: [String: String] {
        get { json[path: ["metadata", "labels"]]?.stringMap ?? [:] }
        set { json[path: ["metadata", "labels"]] = newValue.isEmpty ? nil : JSON(newValue) }
    }

    public var annotations: [String: String] {
        get { json[path: ["metadata", "annotations"]]?.stringMap ?? [:] }
        set { json[path: ["metadata", "annotations"]] = newValue.isEmpty ? nil : JSON(newValue) }
    }

    public var resourceVersion: String? { json[path: ["metadata", "resourceVersion"]]?.stringValue }
    public var uid: String? { json[path: ["metadata", "uid"]]?.stringValue }
    public var generation: Int? { json[path: ["metadata", "generation"]]?.intValue }
    public var creationTimestamp: String? { json[path: ["metadata", "creationTimestamp"]]?.stringValue }
    public var deletionTimestamp: String? { json[path: ["metadata", "deletionTimestamp"]]?.stringValue }

    public var spec: JSON? { json["spec"] }
    public var status: JSON? { json["status"] }

    /// The value at a path of keys (`object["spec", "replicas"]`), or nil.
    public subscript(path: String...) -> JSON? {
        get { json[path: path] }
        set { json[path: path] = newValue }
    }

    /// Which object this is; `namespace` is nil for cluster-scoped objects.
    public var ref: ObjectRef {
        ObjectRef(apiVersion: apiVersion, kind: kind, namespace: namespace, name: name)
    }

    /// A status condition (`Available`, `Complete`, `Ready`) by type.
    public func condition(_ type: String) -> Condition? {
        guard let conditions = status?["conditions"]?.arrayValue else { return nil }
        for c in conditions where c["type"]?.stringValue == type {
            return Condition(
                type: type, status: c["status"]?.stringValue ?? "Unknown",
                reason: c["reason"]?.stringValue, message: c["message"]?.stringValue)
        }
        return nil
    }

    /// The object as compact JSON (what the client sends).
    public func serialized() -> Data { json.serialized() }

    public var description: String { ref.description }
}

/// One entry of `status.conditions`.
public struct Condition: Sendable, Hashable {
    public var type: String
    /// `True`, `False` or `Unknown`.
    public var status: String
    public var reason: String?
    public var message: String?

    public var isTrue: Bool { status == "True" }
}
