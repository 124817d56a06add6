import Foundation

/// What an API server serves, read from its discovery documents (`/api`, `/api/v1`, `/apis`,
/// `/apis/<group>/<version>`), as kubectl reads them.
public struct ServedResources: Sendable {
    /// One served resource (subresources such as `deployments/scale` left out) with its verbs.
    public struct Resource: Sendable, Hashable {
        public var type: ResourceType
        public var verbs: Set<String>
        /// This version is the group's preferred one.
        public var preferred: Bool
    }

    public var resources: [Resource]
    /// Group versions whose discovery failed (an aggregated API that is down answers 503), with why.
    public var failed: [String: String]

    public init(resources: [Resource], failed: [String: String] = [:]) {
        self.resources = resources
        self.failed = failed
    }

    /// Where objects of `kind` are listed and deleted on this server: the built-in table's group
    /// version when served, else the group's preferred version, else any version that has the kind
    /// with `list` and `delete`. Nil when the server does not serve the kind.
    public func listable(kind: String) -> ResourceType? {
        let candidates = resources.filter { $0.type.kind == kind && $0.verbs.isSuperset(of: ["list", "delete"]) }
        if let known = ResourceType.known(kind: kind), let match = candidates.first(where: { $0.type.apiVersion == known.apiVersion }) {
            return match.type
        }
        return (candidates.first { $0.preferred } ?? candidates.first)?.type
    }
}

extension KubeClient {
    /// Reads the server's discovery: the core group, then every group version `/apis` lists. A group
    /// version whose document fails (e.g. a metrics API that is down) is recorded in `failed`, not thrown;
    /// `/api` or `/apis` themselves failing is thrown.
    public func servedResources() throws(KubeError) -> ServedResources {
        var resources: [ServedResources.Resource] = []
        var failed: [String: String] = [:]
        var groupVersions: [(group: String, version: String, preferred: Bool)] = []
        let core = try sendJSON("GET", "/api", retry: true)
        for (i, version) in (core["versions"]?.arrayValue ?? []).compactMap(\.stringValue).enumerated() {
            groupVersions.append(("", version, i == 0))
        }
        let groups = try sendJSON("GET", "/apis", retry: true)
        for group in groups["groups"]?.arrayValue ?? [] {
            guard let name = group["name"]?.stringValue else { continue }
            let preferred = group["preferredVersion"]?["version"]?.stringValue
            for entry in group["versions"]?.arrayValue ?? [] {
                guard let version = entry["version"]?.stringValue else { continue }
                groupVersions.append((name, version, version == preferred))
            }
        }
        for gv in groupVersions {
            let path = gv.group.isEmpty ? "/api/\(gv.version)" : "/apis/\(gv.group)/\(gv.version)"
            let list: JSON
            do {
                list = try sendJSON("GET", path, retry: true)
            } catch {
                failed[gv.group.isEmpty ? gv.version : "\(gv.group)/\(gv.version)"] = "\(error)"
                continue
            }
            for entry in list["resources"]?.arrayValue ?? [] {
                guard let plural = entry["name"]?.stringValue, !plural.contains("/"), let kind = entry["kind"]?.stringValue else {
                    continue
                }
                let type = ResourceType(
                    group: gv.group, version: gv.version, kind: kind, plural: plural,
                    namespaced: entry["namespaced"]?.boolValue ?? true)
                let verbs = Set((entry["verbs"]?.arrayValue ?? []).compactMap(\.stringValue))
                resources.append(ServedResources.Resource(type: type, verbs: verbs, preferred: gv.preferred))
            }
        }
        return ServedResources(resources: resources, failed: failed)
    }
}
