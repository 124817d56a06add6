import Foundation

/// Server-side printing: the `meta.k8s.io/v1` `Table` that kubectl asks for
/// (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the columns the real server
/// prints for each kind.
enum StandInTables {
    static func column(_ name: String, _ format: String = "", priority: Int = 0) -> StandInJSON {
        .object([
            "name": .string(name), "type": name == "Age" ? "string" : "string", "format": .string(format),
            "description": .string(name), "priority": .int(Int64(priority)),
        ])
    }

    static func columns(_ kind: String) -> [StandInJSON] {
        switch kind {
        case "Namespace": return [column("Name", "name"), column("Status"), column("Age")]
        case "Node": return [column("Name", "name"), column("Status"), column("Roles"), column("Age"), column("Version")]
        case "Service":
            return [
                column("Name", "name"), column("Type"), column("Cluster-IP"), column("External-IP"), column("Port(s)"),
                column("Age"), column("Selector", priority: 1),
            ]
        case "Deployment": return [column("Name", "name"), column("Ready"), column("Up-to-date"), column("Available"), column("Age")]
        case "StatefulSet": return [column("Name", "name"), column("Ready"), column("Age")]
        case "Pod":
            return [
                column("Name", "name"), column("Ready"), column("Status"), column("Restarts"), column("Age"),
                column("IP", priority: 1), column("Node", priority: 1),
            ]
        case "Job": return [column("Name", "name"), column("Status"), column("Completions"), column("Duration"), column("Age")]
        case "PersistentVolumeClaim":
            return [
                column("Name", "name"), column("Status"), column("Volume"), column("Capacity"), column("Access Modes"),
                column("StorageClass"), column("Age"),
            ]
        case "PersistentVolume":
            return [
                column("Name", "name"), column("Capacity"), column("Access Modes"), column("Reclaim Policy"), column("Status"),
                column("Claim"), column("StorageClass"), column("Age"),
            ]
        case "Secret": return [column("Name", "name"), column("Type"), column("Data"), column("Age")]
        case "ConfigMap": return [column("Name", "name"), column("Data"), column("Age")]
        default: return [column("Name", "name"), column("Age")]
        }
    }

    static func cells(_ kind: String, _ o: StandInJSON) -> [StandInJSON] {
        let name = o[path: ["metadata", "name"]] ?? ""
        let age = StandInJSON.string(Self.age(o[path: ["metadata", "creationTimestamp"]]?.stringValue))
        func int(_ path: [String], _ fallback: Int = 0) -> Int { o[path: path]?.intValue ?? fallback }
        switch kind {
        case "Namespace": return [name, o[path: ["status", "phase"]] ?? "Active", age]
        case "Node":
            let ready = (o[path: ["status", "conditions"]]?.arrayValue ?? []).contains {
                $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
            }
            let roles = (o[path: ["metadata", "labels"]]?.stringMap ?? [:]).keys
                .filter { $0.hasPrefix("node-role.kubernetes.io/") }.map { String($0.dropFirst(24)) }.sorted()
            return [
                name, .string(ready ? "Ready" : "NotReady"), .string(roles.isEmpty ? "<none>" : roles.joined(separator: ",")), age,
                o[path: ["status", "nodeInfo", "kubeletVersion"]] ?? "",
            ]
        case "Service":
            let ports = (o[path: ["spec", "ports"]]?.arrayValue ?? []).map { p -> String in
                let port = p["port"]?.intValue ?? 0
                let proto = p["protocol"]?.stringValue ?? "TCP"
                if let node = p["nodePort"]?.intValue { return "\(port):\(node)/\(proto)" }
                return "\(port)/\(proto)"
            }
            let selector = (o[path: ["spec", "selector"]]?.stringMap ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return [
                name, o[path: ["spec", "type"]] ?? "ClusterIP", o[path: ["spec", "clusterIP"]] ?? "<none>",
                .string(o[path: ["spec", "type"]]?.stringValue == "LoadBalancer" ? "<pending>" : "<none>"),
                .string(ports.isEmpty ? "<none>" : ports.joined(separator: ",")), age,
                .string(selector.isEmpty ? "<none>" : selector.joined(separator: ",")),
            ]
        case "Deployment":
            let wanted = int(["spec", "replicas"], 1)
            return [
                name, .string("\(int(["status", "readyReplicas"]))/\(wanted)"), .int(Int64(int(["status", "updatedReplicas"]))),
                .int(Int64(int(["status", "availableReplicas"]))), age,
            ]
        case "StatefulSet":
            return [name, .string("\(int(["status", "readyReplicas"]))/\(int(["spec", "replicas"], 1))"), age]
        case "Pod":
            let statuses = o[path: ["status", "containerStatuses"]]?.arrayValue ?? []
            let total = (o[path: ["spec", "containers"]]?.arrayValue ?? []).count
            let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
            let phase = o[path: ["status", "phase"]]?.stringValue ?? "Pending"
            return [
                name, .string("\(ready)/\(total)"), .string(phase == "Succeeded" ? "Completed" : phase), 0, age,
                o[path: ["status", "podIP"]] ?? "<none>", o[path: ["spec", "nodeName"]] ?? "<none>",
            ]
        case "Job":
            let conditions = o[path: ["status", "conditions"]]?.arrayValue ?? []
            func isTrue(_ t: String) -> Bool { conditions.contains { $0["type"]?.stringValue == t && $0["status"]?.stringValue == "True" } }
            let status = isTrue("Complete") ? "Complete" : isTrue("Failed") ? "Failed" : "Running"
            return [name, .string(status), .string("\(int(["status", "succeeded"]))/\(int(["spec", "completions"], 1))"), "0s", age]
        case "PersistentVolumeClaim":
            return [
                name, o[path: ["status", "phase"]] ?? "Pending", o[path: ["spec", "volumeName"]] ?? "",
                o[path: ["status", "capacity", "storage"]] ?? "", .string(accessModes(o[path: ["spec", "accessModes"]])),
                o[path: ["spec", "storageClassName"]] ?? "<unset>", age,
            ]
        case "PersistentVolume":
            let claim =
                o[path: ["spec", "claimRef"]].map {
                    "\($0["namespace"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? "")"
                } ?? ""
            return [
                name, o[path: ["spec", "capacity", "storage"]] ?? "", .string(accessModes(o[path: ["spec", "accessModes"]])),
                o[path: ["spec", "persistentVolumeReclaimPolicy"]] ?? "Retain", o[path: ["status", "phase"]] ?? "Available",
                .string(claim), o[path: ["spec", "storageClassName"]] ?? "", age,
            ]
        case "Secret":
            return [name, o["type"] ?? "Opaque", .int(Int64((o["data"]?.objectValue ?? [:]).count)), age]
        case "ConfigMap":
            return [name, .int(Int64((o["data"]?.objectValue ?? [:]).count + (o["binaryData"]?.objectValue ?? [:]).count)), age]
        default:
            return [name, age]
        }
    }

    static func accessModes(_ v: StandInJSON?) -> String {
        let short = ["ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"]
        return (v?.arrayValue ?? []).compactMap { $0.stringValue.map { short[$0] ?? $0 } }.joined(separator: ",")
    }

    /// kubectl's short ages: `42s`, `5m`, `3h`, `12d`.
    static func age(_ timestamp: String?) -> String {
        guard let timestamp, let date = try? Date(timestamp, strategy: .iso8601) else { return "<unknown>" }
        let s = max(0, Int(Date().timeIntervalSince(date)))
        if s < 120 { return "\(s)s" }
        if s < 3600 * 3 { return "\(s / 60)m" }
        if s < 86400 * 2 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }

    /// A Table for a list or a single object. `includeObject` is the request's parameter:
    /// `None`, `Object` or (default) `Metadata`.
    static func table(kind: String, body: StandInJSON, includeObject: String?) -> StandInJSON {
        let items: [StandInJSON]
        if let list = body["items"]?.arrayValue { items = list } else { items = [body] }
        let rows: [StandInJSON] = items.map { item in
            var row: [String: StandInJSON] = ["cells": .array(cells(kind, item))]
            switch includeObject {
            case "None": break
            case "Object": row["object"] = item
            default:
                row["object"] = .object([
                    "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"] ?? .object([:]),
                ])
            }
            return .object(row)
        }
        var metadata: [String: StandInJSON] = [:]
        if let rv = body[path: ["metadata", "resourceVersion"]] { metadata["resourceVersion"] = rv }
        if let c = body[path: ["metadata", "continue"]] { metadata["continue"] = c }
        return .object([
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": .object(metadata),
            "columnDefinitions": .array(columns(kind)), "rows": .array(rows),
        ])
    }
}
