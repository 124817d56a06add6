/// The discovery documents kubectl reads before anything else (`/api`, `/apis`, `/api/v1`,
/// `/apis/apps/v1`…) and `/version`, in the legacy (non-aggregated) format every client
/// falls back to.
enum StandInDiscovery {
    static func coreVersions(address: String) -> StandInJSON {
        .object([
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [.object(["clientCIDR": "0.0.0.0/0", "serverAddress": .string(address)])],
        ])
    }

    static func groupEntry(_ group: String, _ version: String) -> StandInJSON {
        let gv: StandInJSON = .object(["groupVersion": .string("\(group)/\(version)"), "version": .string(version)])
        return .object(["name": .string(group), "versions": [gv], "preferredVersion": gv])
    }

    /// Group versions that serve at least one kind.
    static func served(_ unserved: Set<String>) -> [(group: String, version: String)] {
        StandInResource.groupVersions.filter { gv in
            StandInResource.all.contains { $0.group == gv.group && $0.version == gv.version && !unserved.contains($0.kind) }
        }
    }

    static func groups(unserved: Set<String> = []) -> StandInJSON {
        let entries = served(unserved).filter { !$0.group.isEmpty }.map { groupEntry($0.group, $0.version) }
        return .object(["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(entries)])
    }

    static func group(_ name: String, unserved: Set<String> = []) -> StandInJSON? {
        guard let gv = served(unserved).first(where: { $0.group == name && !name.isEmpty }) else { return nil }
        var entry = groupEntry(gv.group, gv.version)
        entry["kind"] = "APIGroup"
        entry["apiVersion"] = "v1"
        return entry
    }

    static func resources(group: String, version: String, unserved: Set<String> = []) -> StandInJSON? {
        let gv = group.isEmpty ? version : "\(group)/\(version)"
        let members = StandInResource.all.filter { $0.groupVersion == gv && !unserved.contains($0.kind) }
        guard !members.isEmpty else { return nil }
        var list: [StandInJSON] = []
        for r in members {
            var entry: [String: StandInJSON] = [
                "name": .string(r.plural), "singularName": .string(r.singular), "namespaced": .bool(r.namespaced),
                "kind": .string(r.kind), "verbs": .array(r.verbs.map { .string($0) }),
            ]
            if !r.shortNames.isEmpty { entry["shortNames"] = .array(r.shortNames.map { .string($0) }) }
            if !r.categories.isEmpty { entry["categories"] = .array(r.categories.map { .string($0) }) }
            list.append(.object(entry))
            if r.hasStatus {
                list.append(
                    .object([
                        "name": .string("\(r.plural)/status"), "singularName": "", "namespaced": .bool(r.namespaced),
                        "kind": .string(r.kind), "verbs": ["get", "patch", "update"],
                    ]))
            }
            if r.hasScale {
                list.append(
                    .object([
                        "name": .string("\(r.plural)/scale"), "singularName": "", "namespaced": .bool(r.namespaced),
                        "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"],
                    ]))
            }
        }
        return .object(["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(gv), "resources": .array(list)])
    }

    static func version(_ gitVersion: String) -> StandInJSON {
        let parts = gitVersion.dropFirst().split(separator: ".")
        return .object([
            "major": .string(parts.first.map(String.init) ?? "1"), "minor": .string(parts.dropFirst().first.map(String.init) ?? "32"),
            "gitVersion": .string(gitVersion), "gitCommit": "bok-stand-in", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc", "platform": "linux/amd64",
        ])
    }
}
