import BoKSystem
import Foundation

/// How dependents of a deleted object are removed (`DeleteOptions.propagationPolicy`).
public enum DeletePropagation: String, Sendable {
    /// Delete the object now; the garbage collector removes dependents afterwards (kubectl's default).
    case background = "Background"
    /// Delete dependents first, then the object.
    case foreground = "Foreground"
    /// Leave dependents behind.
    case orphan = "Orphan"
}

extension KubeClient {
    // MARK: Resource types

    /// Where objects of a kind live: the built-in table first, then the server's discovery
    /// (`/apis/<group>/<version>`), cached for the client's lifetime.
    public func resourceType(apiVersion: String, kind: String) throws(KubeError) -> ResourceType {
        if let known = ResourceType.known(apiVersion: apiVersion, kind: kind) { return known }
        let key = "\(apiVersion)|\(kind)"
        if let cached = discoveredTypes.get(key) { return cached }
        let parts = apiVersion.split(separator: "/").map(String.init)
        guard parts.count == 1 || parts.count == 2, !parts.contains(where: \.isEmpty) else {
            throw .invalidObject("apiVersion \"\(apiVersion)\" is not of the form VERSION or GROUP/VERSION")
        }
        let group = parts.count == 2 ? parts[0] : ""
        let version = parts.last!
        let path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        let list: JSON
        do {
            list = try sendJSON("GET", path, retry: true)
        } catch {
            if error.isNotFound { throw .unknownResource(apiVersion: apiVersion, kind: kind) }
            throw error
        }
        for resource in list["resources"]?.arrayValue ?? [] {
            guard let name = resource["name"]?.stringValue, !name.contains("/"),
                resource["kind"]?.stringValue == kind
            else { continue }
            let type = ResourceType(
                group: group, version: version, kind: kind, plural: name,
                namespaced: resource["namespaced"]?.boolValue ?? true)
            discoveredTypes.set(key, type)
            return type
        }
        throw .unknownResource(apiVersion: apiVersion, kind: kind)
    }

    func path(of ref: ObjectRef) throws(KubeError) -> String {
        let type = try resourceType(apiVersion: ref.apiVersion, kind: ref.kind)
        guard !ref.name.isEmpty else { throw .invalidObject("\(ref.kind) has no name") }
        if type.namespaced {
            return type.objectPath(namespace: ref.namespace ?? config.namespace, name: ref.name)
        }
        return type.objectPath(namespace: nil, name: ref.name)
    }

    func object(from json: JSON, _ method: String, _ path: String) throws(KubeError) -> KubeObject {
        do {
            return try KubeObject(json)
        } catch {
            throw .invalidResponse(method: method, path: path, reason: error.description)
        }
    }

    // MARK: Reading

    /// Reads one object; a missing object throws `KubeError.api` with code 404 (`isNotFound`).
    public func get(_ ref: ObjectRef) throws(KubeError) -> KubeObject {
        let path = try path(of: ref)
        return try object(from: sendJSON("GET", path, retry: true), "GET", path)
    }

    /// Reads one object, or nil when it does not exist.
    public func getIfPresent(_ ref: ObjectRef) throws(KubeError) -> KubeObject? {
        do {
            return try get(ref)
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }

    /// Lists objects of a type in one namespace, or in all namespaces (`namespace: nil`) and for
    /// cluster-scoped types. Selectors use the API's syntax (`app=peer,tier!=db`, `env in (a,b)`).
    /// Pages through large lists (500 per request). Items get `apiVersion` and `kind` filled in,
    /// which the API leaves out of list items.
    public func list(
        _ type: ResourceType, namespace: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil
    ) throws(KubeError) -> [KubeObject] {
        try list(type, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector, metadataOnly: false)
    }

    /// As `list`, but asks for each object's metadata only (`PartialObjectMetadataList`, as client-go's metadata
    /// client does): names, labels, uids and resourceVersions without specs or Secret data. Items carry the type's
    /// apiVersion and kind. A server that cannot serve it answers with the full objects (`application/json` is the
    /// fallback in `Accept`).
    public func listMetadata(_ type: ResourceType, namespace: String? = nil, labelSelector: String? = nil) throws(KubeError)
        -> [KubeObject]
    {
        try list(type, namespace: namespace, labelSelector: labelSelector, fieldSelector: nil, metadataOnly: true)
    }

    private func list(
        _ type: ResourceType, namespace: String?, labelSelector: String?, fieldSelector: String?,
        metadataOnly: Bool
    ) throws(KubeError) -> [KubeObject] {
        let accept = metadataOnly ? "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json" : "application/json"
        let path = type.collectionPath(namespace: type.namespaced ? namespace : nil)
        var items: [KubeObject] = []
        var continueToken: String?
        repeat {
            var query: [(String, String)] = [("limit", "500")]
            if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
            if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
            if let continueToken { query.append(("continue", continueToken)) }
            let list = try sendJSON("GET", path, query: query, accept: accept, retry: true)
            guard list.objectValue != nil else {
                throw .invalidResponse(method: "GET", path: path, reason: "the answer is not a list object")
            }
            // An empty list may come as `"items": null` or without items at all.
            let array = list["items"]?.arrayValue ?? []
            for var item in array {
                if metadataOnly || item["apiVersion"] == nil { item["apiVersion"] = .string(type.apiVersion) }
                if metadataOnly || item["kind"] == nil { item["kind"] = .string(type.kind) }
                items.append(try object(from: item, "GET", path))
            }
            continueToken = list[path: ["metadata", "continue"]]?.stringValue
            if continueToken?.isEmpty ?? false { continueToken = nil }
        } while continueToken != nil
        return items
    }

    /// Lists objects of a kind given by apiVersion and kind (`"apps/v1"`, `"Deployment"`).
    public func list(
        apiVersion: String, kind: String, namespace: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil
    ) throws(KubeError) -> [KubeObject] {
        try list(
            resourceType(apiVersion: apiVersion, kind: kind), namespace: namespace,
            labelSelector: labelSelector, fieldSelector: fieldSelector)
    }

    // MARK: Writing

    /// Server-side apply: `PATCH` with `application/apply-patch+yaml` (the body is JSON, which
    /// is YAML) and `?fieldManager=…&force=…`. Creates the object when it does not exist and
    /// changes nothing (not even `resourceVersion`) when it already matches. Returns the object
    /// as stored. Namespaced objects without a namespace go to the context's namespace.
    /// `dryRun` sends `?dryRun=All`: the server validates, authorizes and answers as if it
    /// applied, and stores nothing (a permission preflight).
    @discardableResult
    public func apply(
        _ object: KubeObject, fieldManager: String = "bok", force: Bool = true,
        dryRun: Bool = false
    ) throws(KubeError) -> KubeObject {
        let type = try resourceType(apiVersion: object.apiVersion, kind: object.kind)
        guard !object.name.isEmpty else {
            throw .invalidObject("\(object.kind) has no metadata.name; server-side apply needs one")
        }
        if !type.namespaced, let ns = object.namespace, !ns.isEmpty {
            throw .invalidObject("\(object.kind) \(object.name) is cluster-scoped but sets metadata.namespace \(ns)")
        }
        let path = type.objectPath(namespace: type.namespaced ? (object.namespace ?? config.namespace) : nil, name: object.name)
        var query: [(String, String)] = [("fieldManager", fieldManager), ("force", force ? "true" : "false")]
        if dryRun { query.append(("dryRun", "All")) }
        let json = try sendJSON(
            "PATCH", path, query: query, body: object.serialized(),
            contentType: "application/apply-patch+yaml", retry: true)
        return try self.object(from: json, "PATCH", path)
    }

    /// Applies every object of a YAML stream, in order (see `apply(_:fieldManager:force:)`).
    @discardableResult
    public func apply(yaml: String, fieldManager: String = "bok", force: Bool = true) throws(KubeError) -> [KubeObject] {
        let objects: [KubeObject]
        do {
            objects = try KubeObject.objects(yaml: yaml)
        } catch {
            throw .invalidObject(error.description)
        }
        var applied: [KubeObject] = []
        for object in objects { applied.append(try apply(object, fieldManager: fieldManager, force: force)) }
        return applied
    }

    /// Applies many objects in dependency order (`ApplyOrder`): namespaces before what lives in
    /// them, config before workloads. Objects of one stage are applied `concurrency` at a time.
    /// Stops at the first stage with a failure and throws that failure. Returns the stored
    /// objects in apply order.
    @discardableResult
    public func applyAll(
        _ objects: [KubeObject], fieldManager: String = "bok", force: Bool = true,
        concurrency: Int = 1
    ) throws(KubeError) -> [KubeObject] {
        var results: [KubeObject] = []
        for stage in ApplyOrder.stages(objects) {
            if concurrency <= 1 || stage.count == 1 {
                for object in stage { results.append(try apply(object, fieldManager: fieldManager, force: force)) }
                continue
            }
            let outcomes = ConcurrentWork.map(count: stage.count, concurrency: concurrency) { i -> Result<KubeObject, KubeError> in
                do throws(KubeError) {
                    return .success(try apply(stage[i], fieldManager: fieldManager, force: force))
                } catch {
                    return .failure(error)
                }
            }
            for outcome in outcomes {
                switch outcome {
                case .success(let object): results.append(object)
                case .failure(let error): throw error
                }
            }
        }
        return results
    }

    /// Creates an object with `POST`; an existing one gives `409 AlreadyExists`. Not retried.
    @discardableResult
    public func create(_ object: KubeObject) throws(KubeError) -> KubeObject {
        let type = try resourceType(apiVersion: object.apiVersion, kind: object.kind)
        let path = type.collectionPath(namespace: type.namespaced ? (object.namespace ?? config.namespace) : nil)
        let json = try sendJSON("POST", path, body: object.serialized(), contentType: "application/json", retry: false)
        return try self.object(from: json, "POST", path)
    }

    /// Replaces an object with `PUT`. When `metadata.resourceVersion` is set and stale, the
    /// server answers `409 Conflict`. Not retried.
    @discardableResult
    public func replace(_ object: KubeObject) throws(KubeError) -> KubeObject {
        let path = try path(of: object.ref)
        let json = try sendJSON("PUT", path, body: object.serialized(), contentType: "application/json", retry: false)
        return try self.object(from: json, "PUT", path)
    }

    /// A JSON merge patch (RFC 7386), recorded under `fieldManager`. Retried like the other
    /// idempotent calls: BoK only sends patches that set absolute values.
    @discardableResult
    public func patch(_ ref: ObjectRef, mergePatch: JSON, subresource: String? = nil, fieldManager: String = "bok") throws(KubeError)
        -> KubeObject
    {
        let path = try path(of: ref) + (subresource.map { "/\($0)" } ?? "")
        let json = try sendJSON(
            "PATCH", path, query: [("fieldManager", fieldManager)], body: mergePatch.serialized(),
            contentType: "application/merge-patch+json", retry: true)
        return try object(from: json, "PATCH", path)
    }

    /// Sets `spec.replicas` of a Deployment, StatefulSet or ReplicaSet (stop/start a tenant).
    /// A later non-forced apply of a different replica count conflicts with this change, as on
    /// a real cluster; BoK applies with force.
    @discardableResult
    public func scale(_ ref: ObjectRef, replicas: Int, fieldManager: String = "bok") throws(KubeError) -> KubeObject {
        guard ["Deployment", "StatefulSet", "ReplicaSet"].contains(ref.kind) else {
            throw .invalidObject("\(ref) cannot be scaled; only Deployments, StatefulSets and ReplicaSets can")
        }
        guard replicas >= 0 else { throw .invalidObject("replicas must not be negative (got \(replicas))") }
        return try patch(ref, mergePatch: ["spec": ["replicas": .int(Int64(replicas))]], fieldManager: fieldManager)
    }

    /// Deletes an object. Returns false when it did not exist (deleting is then done, too).
    @discardableResult
    public func delete(_ ref: ObjectRef, propagation: DeletePropagation = .background) throws(KubeError) -> Bool {
        let path = try path(of: ref)
        let options: JSON = ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": .string(propagation.rawValue)]
        do {
            _ = try send("DELETE", path, body: options.serialized(), contentType: "application/json", retry: true)
            return true
        } catch {
            if error.isNotFound { return false }
            throw error
        }
    }

    /// Deletes every object of a type that matches a label selector (teardown of what a tenant
    /// owns). Returns the references deleted.
    @discardableResult
    public func deleteAll(
        _ type: ResourceType, namespace: String? = nil, labelSelector: String,
        propagation: DeletePropagation = .background
    ) throws(KubeError) -> [ObjectRef] {
        guard !labelSelector.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .invalidObject("refusing to delete every \(type.kind) without a label selector")
        }
        var deleted: [ObjectRef] = []
        for object in try list(type, namespace: namespace, labelSelector: labelSelector) {
            if try delete(object.ref, propagation: propagation) { deleted.append(object.ref) }
        }
        return deleted
    }
}
