import Foundation

/// Field ownership for server-side apply, simplified: a field is a path of map keys; lists
/// are atomic (owned and replaced whole), where the real server merges some lists by key.
/// That is enough to reproduce what BoK relies on: applying the same config twice changes
/// nothing, a field dropped from a manager's config is removed, and a field another manager
/// changed conflicts unless the apply is forced.
enum StandInFieldOwnership {
    typealias Path = [String]

    /// One `metadata.managedFields` entry.
    struct Entry: Equatable {
        var manager: String
        var operation: String
        var apiVersion: String
        var time: String
        var subresource: String?
        var fields: Set<Path>
    }

    /// Fields the server owns and that never appear in a field set.
    static let serverFields: Set<Path> = [
        ["apiVersion"], ["kind"], ["metadata", "name"], ["metadata", "namespace"], ["metadata", "uid"],
        ["metadata", "resourceVersion"], ["metadata", "generation"], ["metadata", "creationTimestamp"],
        ["metadata", "managedFields"], ["metadata", "deletionTimestamp"], ["metadata", "selfLink"], ["status"],
    ]

    /// Every leaf path of an object: scalars, lists and empty maps.
    static func leafPaths(_ value: StandInJSON) -> Set<Path> {
        var out = Set<Path>()
        func walk(_ v: StandInJSON, _ prefix: Path) {
            if serverFields.contains(prefix) { return }
            if case .object(let o) = v, !o.isEmpty {
                for (k, child) in o { walk(child, prefix + [k]) }
            } else if !prefix.isEmpty {
                out.insert(prefix)
            }
        }
        walk(value, [])
        return out
    }

    /// Leaf paths of `new` whose value differs from `old`, and leaf paths of `old` gone from `new`.
    static func changedPaths(old: StandInJSON, new: StandInJSON) -> Set<Path> {
        var changed = Set<Path>()
        for p in leafPaths(new) where old[path: p] != new[path: p] { changed.insert(p) }
        for p in leafPaths(old) where new[path: p] == nil { changed.insert(p) }
        return changed
    }

    static func entries(of object: StandInJSON) -> [Entry] {
        (object[path: ["metadata", "managedFields"]]?.arrayValue ?? []).compactMap { e in
            guard let manager = e["manager"]?.stringValue else { return nil }
            return Entry(
                manager: manager, operation: e["operation"]?.stringValue ?? "Update",
                apiVersion: e["apiVersion"]?.stringValue ?? "", time: e["time"]?.stringValue ?? "",
                subresource: e["subresource"]?.stringValue, fields: decode(e["fieldsV1"] ?? .object([:])))
        }
    }

    static func encode(_ entries: [Entry]) -> StandInJSON {
        .array(
            entries.filter { !$0.fields.isEmpty }.map { e in
                var o: [String: StandInJSON] = [
                    "manager": .string(e.manager), "operation": .string(e.operation), "apiVersion": .string(e.apiVersion),
                    "time": .string(e.time), "fieldsType": "FieldsV1", "fieldsV1": encode(e.fields),
                ]
                if let s = e.subresource { o["subresource"] = .string(s) }
                return .object(o)
            })
    }

    /// `{"f:spec": {"f:replicas": {}}}`, the FieldsV1 shape.
    static func encode(_ fields: Set<Path>) -> StandInJSON {
        var root: StandInJSON = .object([:])
        for path in fields {
            root[path: path.map { "f:" + $0 }] = .object([:])
        }
        return root
    }

    static func decode(_ fieldsV1: StandInJSON) -> Set<Path> {
        var out = Set<Path>()
        func walk(_ v: StandInJSON, _ prefix: Path) {
            guard case .object(let o) = v else { return }
            let children = o.filter { $0.key.hasPrefix("f:") }
            if children.isEmpty {
                if !prefix.isEmpty { out.insert(prefix) }
                return
            }
            for (k, child) in children { walk(child, prefix + [String(k.dropFirst(2))]) }
        }
        walk(fieldsV1, [])
        return out
    }

    /// Deep merge: maps merge key by key, everything else in `patch` replaces.
    static func merge(_ base: StandInJSON, _ patch: StandInJSON) -> StandInJSON {
        guard case .object(var b) = base, case .object(let p) = patch else { return patch }
        for (k, v) in p {
            if let existing = b[k], case .object = existing, case .object = v {
                b[k] = merge(existing, v)
            } else {
                b[k] = v
            }
        }
        return .object(b)
    }

    /// RFC 7386 JSON merge patch: `null` deletes.
    static func mergePatch(_ target: StandInJSON, _ patch: StandInJSON) -> StandInJSON {
        guard case .object(let p) = patch else { return patch }
        var t = target.objectValue ?? [:]
        for (k, v) in p {
            if v == .null {
                t.removeValue(forKey: k)
            } else {
                t[k] = mergePatch(t[k] ?? .null, v)
            }
        }
        return .object(t)
    }

    /// Removes the field at `path` and any map left empty above it (but never `metadata`).
    static func remove(_ path: Path, from value: inout StandInJSON) {
        guard let first = path.first, case .object(var o) = value else { return }
        if path.count == 1 {
            o.removeValue(forKey: first)
        } else if var child = o[first] {
            remove(Array(path.dropFirst()), from: &child)
            if case .object(let c) = child, c.isEmpty, first != "metadata" {
                o.removeValue(forKey: first)
            } else {
                o[first] = child
            }
        }
        value = .object(o)
    }

    /// `.spec.replicas`, the notation of apply conflict messages.
    static func describe(_ path: Path) -> String { "." + path.joined(separator: ".") }
}
