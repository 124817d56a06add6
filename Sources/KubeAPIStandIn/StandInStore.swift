import Foundation

/// One API request after routing: which resource, object and subresource, with its body.
struct StandInAPIRequest {
    var method: String
    var resource: StandInResource
    var namespace: String?
    var name: String?
    var subresource: String?
    var query: [String: String]
    var contentType: String
    var body: Data
    var userAgent: String
}

/// An answer: HTTP code and JSON body (an object, a list or a `Status`).
struct StandInAPIResponse {
    var code: Int
    var body: StandInJSON
}

/// The stand-in's object store and the API semantics over it: resourceVersions, uids,
/// AlreadyExists/Conflict, server-side apply with field ownership, cascading deletes, and
/// simulated controllers that make workloads ready. Every entry point takes the lock, so
/// tests may inspect it from any thread while the event loop serves requests.
final class StandInStore: @unchecked Sendable {
    // @unchecked: every entry point takes `lock` (one lock for the whole object graph, as the API server's store).
    struct Settings {
        var readinessDelay: Double
        var namespaceTerminationDelay: Double
        var nodeIPs: [String: String]
        /// Workloads are driven by something real (the lab's executor) through the status subresource: the simulated
        /// controllers leave Deployments, StatefulSets, ReplicaSets, Jobs and Pods alone.
        var externalWorkloads = false
        /// ClusterIPs are allocated from this inclusive range of IPv4 addresses (default 10.96.0.11 upwards).
        var serviceAddresses: ClosedRange<UInt32>? = nil
    }

    let lock = NSLock()
    var settings: Settings
    /// The last resourceVersion handed out; every write takes the next one.
    var revision: Int64 = 100
    /// resource id (`apps/deployments`) → `namespace/name` → object.
    var tables: [String: [String: StandInJSON]] = [:]
    var usedClusterIPs: [String: String] = [:]  // IP → service key
    var usedNodePorts: [Int: String] = [:]
    var nextClusterIP: UInt32 = 0x0A60_000B  // 10.96.0.11; .1 and .10 are taken by kubernetes and kube-dns
    var behaviours: [String: KubeStandIn.WorkloadBehaviour] = [:]
    /// `namespace/job` → the log its pods serve (see `StandInPodLogs`).
    var jobLogs: [String: String] = [:]
    var nodeCursor = 0
    /// Deployments' pod-template changes and readiness, in the order they happened (see `KubeStandIn.workloadEvents`).
    var workloadEvents: [KubeStandIn.WorkloadEvent] = []
    /// Runs a closure after a delay (on the server's event loop). Set by the server at start.
    var schedule: @Sendable (Double, @escaping @Sendable () -> Void) -> Void = { _, _ in }

    /// Kinds a real kubelet and controllers drive when `externalWorkloads` is on.
    static let workloadKinds: Set<String> = ["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "Pod"]

    init(settings: Settings) {
        self.settings = settings
        if let range = settings.serviceAddresses { nextClusterIP = range.lowerBound }
    }

    static func key(_ namespace: String?, _ name: String) -> String { "\(namespace ?? "")/\(name)" }

    static func now() -> String { Date().formatted(.iso8601) }

    func nextRevision() -> String {
        revision += 1
        return String(revision)
    }

    // MARK: Entry point

    func serve(_ r: StandInAPIRequest) -> StandInAPIResponse {
        lock.lock()
        defer { lock.unlock() }
        do {
            switch (r.method, r.name, r.subresource) {
            case ("GET", nil, _): return try list(r)
            case ("POST", nil, _): return try create(r)
            case ("DELETE", nil, _): return try deleteCollection(r)
            case ("GET", _?, nil), ("GET", _?, "status"): return StandInAPIResponse(code: 200, body: try existing(r))
            case ("GET", _?, "scale"): return StandInAPIResponse(code: 200, body: scaleView(r.resource, try existing(r)))
            case ("PUT", _?, nil): return try update(r)
            case ("PUT", _?, "status"): return try updateStatus(r, patch: nil)
            case ("PUT", _?, "scale"): return try updateScale(r, patch: nil)
            case ("PATCH", _?, let sub): return try patch(r, subresource: sub)
            case ("DELETE", _?, nil): return try delete(r)
            default: throw StandInError.methodNotAllowed()
            }
        } catch let error as StandInError {
            return StandInAPIResponse(code: error.code, body: error.status)
        } catch {
            let e = StandInError(code: 500, reason: "InternalError", message: "stand-in: \(error)")
            return StandInAPIResponse(code: 500, body: e.status)
        }
    }

    // MARK: Reading

    func object(_ resource: StandInResource, _ namespace: String?, _ name: String) -> StandInJSON? {
        tables[resource.id]?[Self.key(resource.namespaced ? namespace : nil, name)]
    }

    func existing(_ r: StandInAPIRequest) throws -> StandInJSON {
        guard let name = r.name, let o = object(r.resource, r.namespace, name) else {
            throw StandInError.notFound(r.resource, r.name ?? "")
        }
        return o
    }

    func list(_ r: StandInAPIRequest) throws -> StandInAPIResponse {
        if r.query["watch"] == "true" || r.query["watch"] == "1" {
            throw StandInError.methodNotAllowed("the BoK stand-in does not serve watches; poll with list")
        }
        let labels: StandInLabelSelector?
        let fields: StandInFieldSelector?
        do {
            labels = try r.query["labelSelector"].flatMap { $0.isEmpty ? nil : try StandInLabelSelector(parsing: $0) }
            fields = try r.query["fieldSelector"].flatMap { $0.isEmpty ? nil : try StandInFieldSelector(parsing: $0) }
        } catch let e as StandInLabelSelector.ParseError {
            throw StandInError.badRequest(e.message)
        }
        let table = tables[r.resource.id] ?? [:]
        let prefix = r.namespace.map { "\($0)/" }
        var keys = table.keys.filter { prefix == nil || $0.hasPrefix(prefix!) }.sorted()
        if let token = r.query["continue"], !token.isEmpty {
            guard let data = Data(base64Encoded: token), let after = String(data: data, encoding: .utf8) else {
                throw StandInError(code: 410, reason: "Expired", message: "continue token is invalid")
            }
            keys = keys.filter { $0 > after }
        }
        var items: [StandInJSON] = []
        var continueToken: String?
        let limit = r.query["limit"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        var remaining = 0
        for (i, key) in keys.enumerated() {
            let o = table[key]!
            if let labels, !labels.matches(o[path: ["metadata", "labels"]]?.stringMap ?? [:]) { continue }
            if let fields, !fields.matches(o) { continue }
            if let limit, items.count == limit {
                continueToken = Data(keys[i - 1].utf8).base64EncodedString()
                remaining = keys.count - i
                break
            }
            var item = o
            // The API leaves apiVersion and kind out of the items of typed lists.
            item["apiVersion"] = nil
            item["kind"] = nil
            items.append(item)
        }
        var metadata: [String: StandInJSON] = ["resourceVersion": .string(String(revision))]
        if let continueToken {
            metadata["continue"] = .string(continueToken)
            metadata["remainingItemCount"] = .int(Int64(remaining))
        }
        return StandInAPIResponse(
            code: 200,
            body: .object([
                "kind": .string("\(r.resource.kind)List"), "apiVersion": .string(r.resource.apiVersion),
                "metadata": .object(metadata), "items": .array(items),
            ]))
    }

    // MARK: Writing

    func parseBody(_ r: StandInAPIRequest) throws -> StandInJSON {
        guard !r.body.isEmpty else { throw StandInError.badRequest("the request has no body") }
        let value: StandInJSON
        do {
            value = try StandInBody.parse(r.body)
        } catch {
            throw StandInError.badRequest("\(error)")
        }
        return value
    }

    /// The body as an object of the request's resource: apiVersion and kind must be set and
    /// match, metadata must be a map.
    func parseObject(_ r: StandInAPIRequest) throws -> StandInJSON {
        let o = try parseBody(r)
        guard case .object = o else { throw StandInError.badRequest("the body must be an object, not a \(o.typeName)") }
        guard let kind = o["kind"]?.stringValue, !kind.isEmpty else {
            throw StandInError.badRequest("Object 'Kind' is missing in '\(String(decoding: r.body.prefix(200), as: UTF8.self))'")
        }
        guard let apiVersion = o["apiVersion"]?.stringValue, !apiVersion.isEmpty else {
            throw StandInError.badRequest("Object 'apiVersion' is missing in '\(String(decoding: r.body.prefix(200), as: UTF8.self))'")
        }
        if apiVersion != r.resource.apiVersion || kind != r.resource.kind {
            throw StandInError.badRequest(
                "the API version in the data (\(apiVersion)) and kind (\(kind)) do not match the expected "
                    + "\(r.resource.apiVersion) \(r.resource.kind) of \(r.resource.qualifiedName)")
        }
        if let m = o["metadata"], m.objectValue == nil {
            throw StandInError.badRequest("metadata must be an object, not a \(m.typeName)")
        }
        return o
    }

    func checkNamespace(_ r: StandInAPIRequest, _ o: inout StandInJSON) throws {
        guard r.resource.namespaced, let ns = r.namespace else {
            o[path: ["metadata", "namespace"]] = nil
            return
        }
        if let bodyNS = o[path: ["metadata", "namespace"]]?.stringValue, !bodyNS.isEmpty, bodyNS != ns {
            throw StandInError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        o[path: ["metadata", "namespace"]] = .string(ns)
    }

    /// Namespaced objects may only be created in a namespace that exists and is not terminating.
    func requireNamespace(_ ns: String) throws {
        guard let namespace = tables[StandInResource.namespaces.id]?[Self.key(nil, ns)] else {
            throw StandInError.namespaceNotFound(ns)
        }
        if namespace[path: ["status", "phase"]]?.stringValue == "Terminating" {
            throw StandInError.forbidden("unable to create new content in namespace \(ns) because it is being terminated")
        }
    }

    func fieldManager(_ r: StandInAPIRequest) -> String {
        if let m = r.query["fieldManager"], !m.isEmpty { return m }
        let agent = r.userAgent.split(separator: "/").first.map(String.init) ?? ""
        return agent.isEmpty ? "unknown" : agent
    }

    func create(_ r: StandInAPIRequest) throws -> StandInAPIResponse {
        if r.resource.namespaced && r.namespace == nil {
            throw StandInError.methodNotAllowed("create \(r.resource.plural) in a namespace: POST .../namespaces/{ns}/\(r.resource.plural)")
        }
        var o = try parseObject(r)
        try checkNamespace(r, &o)
        var name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        if name.isEmpty, let prefix = o[path: ["metadata", "generateName"]]?.stringValue, !prefix.isEmpty {
            name = prefix + Self.randomSuffix()
            o[path: ["metadata", "name"]] = .string(name)
        }
        guard !name.isEmpty else {
            throw StandInError.invalid(r.resource.kind, "", [("metadata.name", "Required value: name or generateName is required")])
        }
        if let ns = r.namespace, r.resource.namespaced { try requireNamespace(ns) }
        if object(r.resource, r.namespace, name) != nil { throw StandInError.alreadyExists(r.resource, name) }
        let manager = fieldManager(r)
        let apiVersion = r.resource.apiVersion
        let stored = try commit(r.resource, namespace: r.namespace, name: name, new: o, old: nil, dryRun: isDryRun(r)) { _, prepared in
            [
                StandInFieldOwnership.Entry(
                    manager: manager, operation: "Update", apiVersion: apiVersion, time: Self.now(),
                    subresource: nil, fields: StandInFieldOwnership.leafPaths(prepared))
            ]
        }
        return StandInAPIResponse(code: 201, body: stored)
    }

    func isDryRun(_ r: StandInAPIRequest) -> Bool { r.query["dryRun"] == "All" }

    func update(_ r: StandInAPIRequest) throws -> StandInAPIResponse {
        let old = try existing(r)
        var o = try parseObject(r)
        try checkNamespace(r, &o)
        let name = r.name!
        if let bodyName = o[path: ["metadata", "name"]]?.stringValue, bodyName != name {
            throw StandInError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        if let rv = o[path: ["metadata", "resourceVersion"]]?.stringValue, !rv.isEmpty,
            rv != old[path: ["metadata", "resourceVersion"]]?.stringValue
        {
            throw StandInError.conflict(r.resource, name)
        }
        return StandInAPIResponse(code: 200, body: try writeUpdate(r, old: old, new: o))
    }

    /// PUT and the non-apply patches: the manager takes ownership of every field it changed.
    func writeUpdate(_ r: StandInAPIRequest, old: StandInJSON, new: StandInJSON) throws -> StandInJSON {
        let manager = fieldManager(r)
        let apiVersion = r.resource.apiVersion
        return try commit(r.resource, namespace: r.namespace, name: r.name!, new: new, old: old, dryRun: isDryRun(r)) { old, prepared in
            var entries = StandInFieldOwnership.entries(of: old!)
            let changed = StandInFieldOwnership.changedPaths(old: old!, new: prepared)
            if changed.isEmpty { return entries }
            for i in entries.indices where !(entries[i].manager == manager && entries[i].operation == "Update") {
                entries[i].fields.subtract(changed)
            }
            let present = StandInFieldOwnership.leafPaths(prepared)
            if let i = entries.firstIndex(where: { $0.manager == manager && $0.operation == "Update" && $0.subresource == nil }) {
                entries[i].fields.formUnion(changed.intersection(present))
                entries[i].time = Self.now()
            } else {
                entries.append(
                    .init(
                        manager: manager, operation: "Update", apiVersion: apiVersion, time: Self.now(),
                        subresource: nil, fields: changed.intersection(present)))
            }
            return entries
        }
    }

    func patch(_ r: StandInAPIRequest, subresource: String?) throws -> StandInAPIResponse {
        let type = r.contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch type {
        case "application/apply-patch+yaml", "application/apply-patch+cbor":
            guard subresource == nil else { throw StandInError.methodNotAllowed("the stand-in applies only to main resources") }
            return try apply(r)
        case "application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json":
            let patchBody = try parseBody(r)
            let old = try existing(r)
            let patched: StandInJSON
            if type == "application/json-patch+json" {
                patched = try StandInJSONPatch.apply(patchBody, to: old)
            } else {
                guard case .object = patchBody else { throw StandInError.badRequest("a merge patch must be an object") }
                // Strategic merge patches are treated as JSON merge patches: lists are replaced whole.
                patched = StandInFieldOwnership.mergePatch(old, patchBody)
            }
            if let rv = patched[path: ["metadata", "resourceVersion"]]?.stringValue,
                rv != old[path: ["metadata", "resourceVersion"]]?.stringValue
            {
                throw StandInError.conflict(r.resource, r.name!)
            }
            switch subresource {
            case nil: return StandInAPIResponse(code: 200, body: try writeUpdate(r, old: old, new: patched))
            case "status": return try updateStatus(r, patch: patched)
            case "scale": return try updateScale(r, patch: patchBody)
            default: throw StandInError.pathNotFound
            }
        default:
            throw StandInError.unsupportedPatch
        }
    }

    // MARK: Server-side apply

    func apply(_ r: StandInAPIRequest) throws -> StandInAPIResponse {
        guard let manager = r.query["fieldManager"], !manager.isEmpty else {
            throw StandInError.badRequest(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        }
        let force = r.query["force"] == "true"
        var config = try parseObject(r)
        let name = r.name!
        if let bodyName = config[path: ["metadata", "name"]]?.stringValue, bodyName != name {
            throw StandInError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        config[path: ["metadata", "name"]] = .string(name)
        try checkNamespace(r, &config)
        if config[path: ["metadata", "managedFields"]] != nil {
            throw StandInError.badRequest("metadata.managedFields must be nil")
        }
        config["status"] = nil
        let applied = StandInFieldOwnership.leafPaths(config)
        let apiVersion = r.resource.apiVersion
        let now = Self.now()
        let dryRun = isDryRun(r)

        guard let old = object(r.resource, r.namespace, name) else {
            if let ns = r.namespace, r.resource.namespaced { try requireNamespace(ns) }
            let stored = try commit(r.resource, namespace: r.namespace, name: name, new: config, old: nil, dryRun: dryRun) { _, _ in
                [.init(manager: manager, operation: "Apply", apiVersion: apiVersion, time: now, subresource: nil, fields: applied)]
            }
            return StandInAPIResponse(code: 201, body: stored)
        }
        if let rv = config[path: ["metadata", "resourceVersion"]]?.stringValue, !rv.isEmpty,
            rv != old[path: ["metadata", "resourceVersion"]]?.stringValue
        {
            throw StandInError.conflict(r.resource, name)
        }

        var entries = StandInFieldOwnership.entries(of: old)
        let mine = entries.firstIndex { $0.manager == manager && $0.operation == "Apply" && $0.subresource == nil }
        // Conflicts: another manager owns a field this config sets to a different value.
        var conflicts: [(String, StandInFieldOwnership.Path)] = []
        for (i, e) in entries.enumerated() where i != mine && e.subresource == nil {
            for p in e.fields.intersection(applied) where old[path: p] != config[path: p] {
                conflicts.append((e.manager, p))
            }
        }
        if !conflicts.isEmpty {
            if !force {
                let list = conflicts.sorted { $0.1.lexicographicallyPrecedes($1.1) }
                    .map { "conflict with \"\($0.0)\" using \(apiVersion): \(StandInFieldOwnership.describe($0.1))" }
                let noun = conflicts.count == 1 ? "1 conflict" : "\(conflicts.count) conflicts"
                throw StandInError(
                    code: 409, reason: "Conflict", message: "Apply failed with \(noun): " + list.joined(separator: "\n"),
                    details: .object([
                        "name": .string(name), "group": .string(r.resource.group),
                        "kind": .string(r.resource.plural),
                    ]))
            }
            for (manager, path) in conflicts {
                for i in entries.indices where entries[i].manager == manager { entries[i].fields.remove(path) }
            }
        }
        // Fields this manager applied before and no longer does go away, unless someone else owns them.
        var result = old
        result[path: ["metadata", "managedFields"]] = nil
        let previous = mine.map { entries[$0].fields } ?? []
        let othersOwn = entries.enumerated().filter { $0.offset != mine }.reduce(into: Set<StandInFieldOwnership.Path>()) {
            $0.formUnion($1.element.fields)
        }
        for p in previous.subtracting(applied).subtracting(othersOwn) {
            StandInFieldOwnership.remove(p, from: &result)
        }
        result = StandInFieldOwnership.merge(result, config)
        if let mine {
            if entries[mine].fields != applied {
                entries[mine].fields = applied
                entries[mine].time = now
            }
        } else {
            entries.append(.init(manager: manager, operation: "Apply", apiVersion: apiVersion, time: now, subresource: nil, fields: applied))
        }
        let finalEntries = entries
        let stored = try commit(r.resource, namespace: r.namespace, name: name, new: result, old: old, dryRun: dryRun) { _, _ in
            finalEntries
        }
        return StandInAPIResponse(code: 200, body: stored)
    }

    // MARK: The write path shared by create, update, patch and apply

    /// Validates and defaults `new`, keeps server-owned fields from `old`, and stores it with
    /// the next resourceVersion — unless nothing changed, in which case `old` comes back as is.
    func commit(
        _ resource: StandInResource, namespace: String?, name: String, new: StandInJSON, old: StandInJSON?,
        dryRun: Bool, ownership: (StandInJSON?, StandInJSON) -> [StandInFieldOwnership.Entry]
    ) throws -> StandInJSON {
        var o = new
        o["apiVersion"] = .string(resource.apiVersion)
        o["kind"] = .string(resource.kind)
        if o["metadata"] == nil { o["metadata"] = .object([:]) }
        o[path: ["metadata", "name"]] = .string(name)
        if resource.namespaced, let namespace { o[path: ["metadata", "namespace"]] = .string(namespace) }
        for field in ["resourceVersion", "managedFields", "selfLink", "deletionTimestamp", "generation"] {
            o[path: ["metadata", field]] = nil
        }
        o[path: ["metadata", "uid"]] = .string(old?[path: ["metadata", "uid"]]?.stringValue ?? UUID().uuidString.lowercased())
        o[path: ["metadata", "creationTimestamp"]] = .string(
            old?[path: ["metadata", "creationTimestamp"]]?.stringValue ?? Self.now())
        if let deletion = old?[path: ["metadata", "deletionTimestamp"]] { o[path: ["metadata", "deletionTimestamp"]] = deletion }
        if resource.hasStatus {
            // Writes to the main resource never change status; the status subresource does.
            o["status"] = old?["status"]
        }
        try validateMetadata(resource, o)
        try prepare(resource, &o, old: old)
        if resource.tracksGeneration {
            let previous = old?[path: ["metadata", "generation"]]?.intValue ?? 0
            let specChanged = old == nil || Self.specPart(old!) != Self.specPart(o)
            o[path: ["metadata", "generation"]] = .int(Int64(specChanged ? previous + 1 : max(previous, 1)))
        }
        let entries = ownership(old, o)
        o[path: ["metadata", "managedFields"]] = StandInFieldOwnership.encode(entries)
        if let old, Self.comparable(old) == Self.comparable(o) {
            return old
        }
        if old == nil { initialStatus(resource, &o) }
        let generationChanged = old == nil || old?[path: ["metadata", "generation"]] != o[path: ["metadata", "generation"]]
        let simulated = !(settings.externalWorkloads && Self.workloadKinds.contains(resource.kind))
        if generationChanged && simulated { progressStatus(resource, &o, old: old) }
        if dryRun {
            o[path: ["metadata", "resourceVersion"]] = old?[path: ["metadata", "resourceVersion"]]
            return o
        }
        o[path: ["metadata", "resourceVersion"]] = .string(nextRevision())
        put(resource, o)
        if resource.kind == "Deployment", let old, old[path: ["spec", "template"]] != o[path: ["spec", "template"]] {
            workloadEvents.append(
                .init(
                    event: .templateChanged, workload: "\(namespace ?? "")/\(name)",
                    generation: o[path: ["metadata", "generation"]]?.intValue ?? 0))
        }
        if generationChanged && simulated { scheduleReadiness(resource, o) }
        return o
    }

    /// Everything but metadata and status: what `generation` counts changes of.
    static func specPart(_ o: StandInJSON) -> StandInJSON {
        var copy = o
        copy["metadata"] = nil
        copy["status"] = nil
        return copy
    }

    /// The object with the timestamps of managedFields removed, to tell a no-op write.
    static func comparable(_ o: StandInJSON) -> StandInJSON {
        var copy = o
        copy[path: ["metadata", "resourceVersion"]] = nil
        if case .array(let entries)? = o[path: ["metadata", "managedFields"]] {
            copy[path: ["metadata", "managedFields"]] = .array(
                entries.map { e in
                    var e = e
                    e["time"] = nil
                    return e
                })
        }
        return copy
    }

    /// Stores an object (already given its resourceVersion) and keeps the allocation books.
    func put(_ resource: StandInResource, _ o: StandInJSON) {
        let key = Self.key(o[path: ["metadata", "namespace"]]?.stringValue, o[path: ["metadata", "name"]]?.stringValue ?? "")
        if resource.kind == "Service" {
            if let old = tables[resource.id]?[key] { release(service: old) }
            reserve(service: o, key: key)
        }
        tables[resource.id, default: [:]][key] = o
    }

    func remove(_ resource: StandInResource, key: String) -> StandInJSON? {
        guard let o = tables[resource.id]?.removeValue(forKey: key) else { return nil }
        if resource.kind == "Service" { release(service: o) }
        behaviours[resource.kind + "/" + key] = nil
        return o
    }

    // MARK: Subresources

    func scaleView(_ resource: StandInResource, _ o: StandInJSON) -> StandInJSON {
        var selector = ""
        if let match = o[path: ["spec", "selector", "matchLabels"]]?.stringMap {
            selector = match.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        return .object([
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": .object([
                "name": o[path: ["metadata", "name"]] ?? "", "namespace": o[path: ["metadata", "namespace"]] ?? "",
                "uid": o[path: ["metadata", "uid"]] ?? "", "resourceVersion": o[path: ["metadata", "resourceVersion"]] ?? "",
                "creationTimestamp": o[path: ["metadata", "creationTimestamp"]] ?? "",
            ]),
            "spec": .object(["replicas": o[path: ["spec", "replicas"]] ?? .int(1)]),
            "status": .object(["replicas": o[path: ["status", "replicas"]] ?? .int(0), "selector": .string(selector)]),
        ])
    }

    func updateScale(_ r: StandInAPIRequest, patch: StandInJSON?) throws -> StandInAPIResponse {
        guard r.resource.hasScale else { throw StandInError.pathNotFound }
        let old = try existing(r)
        let body = try patch ?? parseBody(r)
        guard let replicas = body[path: ["spec", "replicas"]]?.intValue, replicas >= 0 else {
            throw StandInError.invalid("Scale", r.name!, [("spec.replicas", "Required value: must be a non-negative number")])
        }
        var new = old
        new[path: ["spec", "replicas"]] = .int(Int64(replicas))
        let stored = try writeUpdate(r, old: old, new: new)
        return StandInAPIResponse(code: 200, body: scaleView(r.resource, stored))
    }

    func updateStatus(_ r: StandInAPIRequest, patch: StandInJSON?) throws -> StandInAPIResponse {
        guard r.resource.hasStatus else { throw StandInError.pathNotFound }
        var old = try existing(r)
        let source = try patch ?? parseObject(r)
        guard old["status"] != source["status"] else { return StandInAPIResponse(code: 200, body: old) }
        old["status"] = source["status"]
        old[path: ["metadata", "resourceVersion"]] = .string(nextRevision())
        put(r.resource, old)
        return StandInAPIResponse(code: 200, body: old)
    }

    // MARK: Deleting

    func deleteOptions(_ r: StandInAPIRequest) -> (propagation: String, preconditionRV: String?, preconditionUID: String?) {
        var propagation = r.query["propagationPolicy"] ?? "Background"
        var rv: String?
        var uid: String?
        if !r.body.isEmpty, let options = try? StandInBody.parse(r.body) {
            if let p = options["propagationPolicy"]?.stringValue { propagation = p }
            if options["orphanDependents"]?.boolValue == true { propagation = "Orphan" }
            rv = options[path: ["preconditions", "resourceVersion"]]?.stringValue
            uid = options[path: ["preconditions", "uid"]]?.stringValue
        }
        return (propagation, rv, uid)
    }

    func delete(_ r: StandInAPIRequest) throws -> StandInAPIResponse {
        let old = try existing(r)
        let options = deleteOptions(r)
        if let rv = options.preconditionRV, rv != old[path: ["metadata", "resourceVersion"]]?.stringValue {
            throw StandInError(
                code: 409, reason: "Conflict",
                message: "Operation cannot be fulfilled on \(r.resource.qualifiedName) "
                    + "\"\(r.name!)\": Precondition failed: ResourceVersion in precondition: \(rv), "
                    + "ResourceVersion in object meta: \(old[path: ["metadata", "resourceVersion"]]?.stringValue ?? "")")
        }
        if let uid = options.preconditionUID, uid != old[path: ["metadata", "uid"]]?.stringValue {
            throw StandInError(
                code: 409, reason: "Conflict",
                message: "Operation cannot be fulfilled on \(r.resource.qualifiedName) "
                    + "\"\(r.name!)\": Precondition failed: UID in precondition: \(uid)")
        }
        if isDryRun(r) { return StandInAPIResponse(code: 200, body: old) }
        if r.resource.kind == "Namespace" { return try deleteNamespace(r.name!, old) }
        deleteObject(r.resource, old, propagation: options.propagation)
        if r.resource.kind == "Pod" { return StandInAPIResponse(code: 200, body: old) }
        return StandInAPIResponse(code: 200, body: Self.success(r.resource, old))
    }

    static func success(_ resource: StandInResource, _ o: StandInJSON) -> StandInJSON {
        .object([
            "kind": "Status", "apiVersion": "v1", "metadata": .object([:]), "status": "Success",
            "details": .object([
                "name": o[path: ["metadata", "name"]] ?? "", "group": .string(resource.group),
                "kind": .string(resource.plural), "uid": o[path: ["metadata", "uid"]] ?? "",
            ]),
        ])
    }

    /// Removes an object and, unless orphaned, everything it owns (pods of a workload).
    func deleteObject(_ resource: StandInResource, _ o: StandInJSON, propagation: String) {
        let ns = o[path: ["metadata", "namespace"]]?.stringValue
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        _ = remove(resource, key: Self.key(ns, name))
        revision += 1
        guard propagation != "Orphan", let uid = o[path: ["metadata", "uid"]]?.stringValue else { return }
        for dependent in StandInResource.all where dependent.namespaced {
            for (_, child) in tables[dependent.id] ?? [:] where child[path: ["metadata", "namespace"]]?.stringValue == ns {
                let owners = child[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []
                if owners.contains(where: { $0["uid"]?.stringValue == uid }) {
                    deleteObject(dependent, child, propagation: propagation)
                }
            }
        }
    }

    static let undeletableNamespaces: Set<String> = ["default", "kube-system", "kube-public"]

    func deleteNamespace(_ name: String, _ old: StandInJSON) throws -> StandInAPIResponse {
        if Self.undeletableNamespaces.contains(name) {
            throw StandInError.forbidden("namespaces \"\(name)\" is forbidden: this namespace may not be deleted")
        }
        if old[path: ["status", "phase"]]?.stringValue == "Terminating" {
            return StandInAPIResponse(code: 200, body: old)
        }
        var terminating = old
        terminating[path: ["metadata", "deletionTimestamp"]] = .string(Self.now())
        terminating[path: ["status", "phase"]] = "Terminating"
        terminating[path: ["metadata", "resourceVersion"]] = .string(nextRevision())
        if settings.namespaceTerminationDelay <= 0 {
            finalizeNamespace(name)
        } else {
            put(.namespaces, terminating)
            schedule(settings.namespaceTerminationDelay) { [weak self] in
                guard let self else { return }
                self.lock.lock()
                defer { self.lock.unlock() }
                self.finalizeNamespace(name)
            }
        }
        return StandInAPIResponse(code: 200, body: terminating)
    }

    /// Deletes everything in a namespace, then the namespace.
    func finalizeNamespace(_ name: String) {
        let prefix = "\(name)/"
        for resource in StandInResource.all where resource.namespaced {
            for key in (tables[resource.id] ?? [:]).keys where key.hasPrefix(prefix) { _ = remove(resource, key: key) }
        }
        _ = remove(.namespaces, key: Self.key(nil, name))
        revision += 1
    }

    func deleteCollection(_ r: StandInAPIRequest) throws -> StandInAPIResponse {
        var listRequest = r
        listRequest.query["limit"] = nil
        listRequest.query["continue"] = nil
        let listed = try list(listRequest)
        let options = deleteOptions(r)
        var deleted: [StandInJSON] = []
        for item in listed.body["items"]?.arrayValue ?? [] {
            let name = item[path: ["metadata", "name"]]?.stringValue ?? ""
            let ns = item[path: ["metadata", "namespace"]]?.stringValue
            guard let o = object(r.resource, ns, name) else { continue }
            if r.resource.kind == "Namespace" {
                _ = try deleteNamespace(name, o)
            } else if !isDryRun(r) {
                deleteObject(r.resource, o, propagation: options.propagation)
            }
            deleted.append(item)
        }
        var body = listed.body
        body["items"] = .array(deleted)
        return StandInAPIResponse(code: 200, body: body)
    }

    static func randomSuffix(_ count: Int = 5) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<count).map { _ in alphabet.randomElement()! })
    }
}

extension StandInResource {
    static let namespaces = StandInResource.find(kind: "Namespace")!
    static let services = StandInResource.find(kind: "Service")!
    static let pods = StandInResource.find(kind: "Pod")!
    static let nodes = StandInResource.find(kind: "Node")!
}
