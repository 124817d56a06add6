import Foundation

/// Per-kind validation and defaulting, worded like the API server, for the kinds BoK writes.
/// Defaults are deterministic, so applying the same manifest twice yields the same object.
extension StandInStore {
    typealias Cause = (field: String, message: String)

    // MARK: Names and labels

    static func isDNS1123Label(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= 63 else { return false }
        func ok(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 }
        return b.allSatisfy(ok) && b.first != 45 && b.last != 45
    }

    static func isDNS1035Label(_ s: String) -> Bool {
        guard let first = s.utf8.first, first >= 97, first <= 122 else { return false }
        return isDNS1123Label(s)
    }

    static func isDNS1123Subdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            let b = Array(part.utf8)
            guard !b.isEmpty else { return false }
            func ok(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 }
            return b.allSatisfy(ok) && b.first != 45 && b.last != 45
        }
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters.
    static func isQualifiedNamePart(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= 63 else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) }
        return alnum(b.first!) && alnum(b.last!) && b.allSatisfy { alnum($0) || $0 == 45 || $0 == 95 || $0 == 46 }
    }

    static func isLabelKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return isQualifiedNamePart(key)
        case 2: return isDNS1123Subdomain(String(parts[0])) && isQualifiedNamePart(String(parts[1]))
        default: return false
        }
    }

    static func isLabelValue(_ value: String) -> Bool { value.isEmpty || isQualifiedNamePart(value) }

    func validateMetadata(_ resource: StandInResource, _ o: StandInJSON) throws {
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        var causes: [Cause] = []
        switch resource.kind {
        case "Service":
            if !Self.isDNS1035Label(name) {
                causes.append(
                    (
                        "metadata.name",
                        "Invalid value: \"\(name)\": a DNS-1035 label must consist of lower case alphanumeric "
                            + "characters or '-', start with an alphabetic character, and end with an alphanumeric character "
                            + "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
                    ))
            }
        case "Namespace":
            if !Self.isDNS1123Label(name) {
                causes.append(
                    (
                        "metadata.name",
                        "Invalid value: \"\(name)\": a lowercase RFC 1123 label must consist of lower case "
                            + "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
                            + "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                    ))
            }
        default:
            if !Self.isDNS1123Subdomain(name) {
                causes.append(
                    (
                        "metadata.name",
                        "Invalid value: \"\(name)\": a lowercase RFC 1123 subdomain must consist of lower case "
                            + "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                            + "'example.com', regex used for validation is "
                            + "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                    ))
            }
        }
        if let labels = o[path: ["metadata", "labels"]] {
            guard case .object(let map) = labels else {
                throw StandInError.badRequest("metadata.labels must be a map of strings")
            }
            for (k, v) in map.sorted(by: { $0.key < $1.key }) {
                guard case .string(let value) = v else {
                    throw StandInError.badRequest("metadata.labels[\(k)] must be a string, not a \(v.typeName)")
                }
                if !Self.isLabelKey(k) {
                    causes.append(
                        (
                            "metadata.labels",
                            "Invalid value: \"\(k)\": name part must consist of alphanumeric characters, "
                                + "'-', '_' or '.', and must start and end with an alphanumeric character"
                        ))
                }
                if !Self.isLabelValue(value) {
                    causes.append(
                        (
                            "metadata.labels",
                            "Invalid value: \"\(value)\": "
                                + (value.utf8.count > 63
                                    ? "must be no more than 63 characters"
                                    : "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                                        + "and must start and end with an alphanumeric character")
                        ))
                }
            }
        }
        if let annotations = o[path: ["metadata", "annotations"]] {
            guard case .object(let map) = annotations, map.values.allSatisfy({ $0.stringValue != nil }) else {
                throw StandInError.badRequest("metadata.annotations must be a map of strings")
            }
        }
        if !causes.isEmpty { throw StandInError.invalid(resource.kind, name, causes) }
    }

    // MARK: Per kind

    func prepare(_ resource: StandInResource, _ o: inout StandInJSON, old: StandInJSON?) throws {
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        var causes: [Cause] = []
        switch resource.kind {
        case "Namespace":
            o[path: ["metadata", "labels", "kubernetes.io/metadata.name"]] = .string(name)
            o[path: ["spec", "finalizers"]] = ["kubernetes"]
        case "Service":
            try prepareService(&o, old: old, causes: &causes)
        case "Deployment", "ReplicaSet", "DaemonSet":
            if resource.kind != "DaemonSet", o[path: ["spec", "replicas"]] == nil { o[path: ["spec", "replicas"]] = 1 }
            if resource.kind == "Deployment" {
                if o[path: ["spec", "revisionHistoryLimit"]] == nil { o[path: ["spec", "revisionHistoryLimit"]] = 10 }
                if o[path: ["spec", "progressDeadlineSeconds"]] == nil { o[path: ["spec", "progressDeadlineSeconds"]] = 600 }
                if o[path: ["spec", "strategy", "type"]] == nil { o[path: ["spec", "strategy", "type"]] = "RollingUpdate" }
                if o[path: ["spec", "strategy", "type"]]?.stringValue == "RollingUpdate" {
                    if o[path: ["spec", "strategy", "rollingUpdate", "maxSurge"]] == nil {
                        o[path: ["spec", "strategy", "rollingUpdate", "maxSurge"]] = "25%"
                    }
                    if o[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]] == nil {
                        o[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]] = "25%"
                    }
                }
            }
            validateSelector(o, &causes)
            preparePodTemplate(&o, at: ["spec", "template"], restartPolicy: "Always", causes: &causes)
            if let old, old[path: ["spec", "selector"]] != o[path: ["spec", "selector"]] {
                causes.append(("spec.selector", "Invalid value: \(o[path: ["spec", "selector"]]?.text ?? "null"): field is immutable"))
            }
        case "StatefulSet":
            if o[path: ["spec", "replicas"]] == nil { o[path: ["spec", "replicas"]] = 1 }
            if o[path: ["spec", "podManagementPolicy"]] == nil { o[path: ["spec", "podManagementPolicy"]] = "OrderedReady" }
            if o[path: ["spec", "revisionHistoryLimit"]] == nil { o[path: ["spec", "revisionHistoryLimit"]] = 10 }
            if o[path: ["spec", "updateStrategy", "type"]] == nil { o[path: ["spec", "updateStrategy", "type"]] = "RollingUpdate" }
            if o[path: ["spec", "updateStrategy", "type"]]?.stringValue == "RollingUpdate",
                o[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]] == nil
            {
                o[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]] = 0
            }
            if o[path: ["spec", "persistentVolumeClaimRetentionPolicy"]] == nil {
                o[path: ["spec", "persistentVolumeClaimRetentionPolicy"]] = ["whenDeleted": "Retain", "whenScaled": "Retain"]
            }
            validateSelector(o, &causes)
            preparePodTemplate(&o, at: ["spec", "template"], restartPolicy: "Always", causes: &causes)
            if let old {
                let mutable: Set<String> = [
                    "replicas", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds", "ordinals",
                ]
                let before = (old["spec"]?.objectValue ?? [:]).filter { !mutable.contains($0.key) }
                let after = (o["spec"]?.objectValue ?? [:]).filter { !mutable.contains($0.key) }
                if before != after {
                    causes.append(
                        (
                            "spec",
                            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                + "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
                        ))
                }
            }
        case "Job":
            try prepareJob(&o, old: old, causes: &causes)
        case "Pod":
            if o["spec"] == nil { o["spec"] = .object([:]) }
            preparePodSpec(&o, at: ["spec"], restartPolicy: "Always", causes: &causes, field: "spec")
        case "Secret":
            try prepareSecret(&o, causes: &causes)
        case "ConfigMap":
            for key in (o["data"]?.objectValue ?? [:]).keys.sorted() where !Self.isConfigKey(key) {
                causes.append(
                    (
                        "data[\(key)]",
                        "Invalid value: \"\(key)\": a valid config key must consist of alphanumeric "
                            + "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                            + "validation is '[-._a-zA-Z0-9]+')"
                    ))
            }
        case "PersistentVolumeClaim":
            if (o[path: ["spec", "accessModes"]]?.arrayValue ?? []).isEmpty {
                causes.append(("spec.accessModes", "Required value: at least 1 access mode is required"))
            }
            if o[path: ["spec", "resources", "requests", "storage"]] == nil {
                causes.append(("spec.resources[storage]", "Required value"))
            }
            if o[path: ["spec", "volumeMode"]] == nil { o[path: ["spec", "volumeMode"]] = "Filesystem" }
            if let old {
                var before = old["spec"] ?? .object([:])
                var after = o["spec"] ?? .object([:])
                before[path: ["resources", "requests"]] = nil
                after[path: ["resources", "requests"]] = nil
                before["volumeName"] = nil
                after["volumeName"] = nil
                if before != after {
                    causes.append(
                        (
                            "spec",
                            "Forbidden: spec is immutable after creation except resources.requests and "
                                + "volumeAttributesClassName for bound claims"
                        ))
                }
                if o[path: ["spec", "volumeName"]] == nil { o[path: ["spec", "volumeName"]] = old[path: ["spec", "volumeName"]] }
            }
        case "PersistentVolume":
            if o[path: ["spec", "capacity", "storage"]] == nil { causes.append(("spec.capacity", "Required value")) }
            if (o[path: ["spec", "accessModes"]]?.arrayValue ?? []).isEmpty {
                causes.append(("spec.accessModes", "Required value: at least 1 access mode is required"))
            }
            if o[path: ["spec", "persistentVolumeReclaimPolicy"]] == nil { o[path: ["spec", "persistentVolumeReclaimPolicy"]] = "Retain" }
            if o[path: ["spec", "volumeMode"]] == nil { o[path: ["spec", "volumeMode"]] = "Filesystem" }
        default:
            break
        }
        if !causes.isEmpty { throw StandInError.invalid(resource.kind, name, causes) }
    }

    static func isConfigKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 253
            && key.utf8.allSatisfy {
                ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 || $0 == 46
            } && key != "." && key != ".."
    }

    func validateSelector(_ o: StandInJSON, _ causes: inout [Cause]) {
        guard let selector = o[path: ["spec", "selector"]], selector.objectValue != nil else {
            causes.append(("spec.selector", "Required value"))
            return
        }
        let match = selector["matchLabels"]?.stringMap ?? [:]
        if match.isEmpty && (selector["matchExpressions"]?.arrayValue ?? []).isEmpty {
            causes.append(("spec.selector", "Invalid value: \(selector.text): empty selector is invalid for deployment"))
        }
        let labels = o[path: ["spec", "template", "metadata", "labels"]]?.stringMap ?? [:]
        if !match.allSatisfy({ labels[$0.key] == $0.value }) {
            causes.append(
                (
                    "spec.template.metadata.labels",
                    "Invalid value: \(StandInJSON.strings(labels).text): "
                        + "`selector` does not match template `labels`"
                ))
        }
    }

    func preparePodTemplate(_ o: inout StandInJSON, at path: [String], restartPolicy: String, causes: inout [Cause]) {
        guard o[path: path + ["spec"]]?.objectValue != nil else {
            causes.append((path.joined(separator: ".") + ".spec.containers", "Required value"))
            return
        }
        preparePodSpec(
            &o, at: path + ["spec"], restartPolicy: restartPolicy, causes: &causes,
            field: (path + ["spec"]).joined(separator: "."))
    }

    func preparePodSpec(_ o: inout StandInJSON, at path: [String], restartPolicy: String, causes: inout [Cause], field: String) {
        var spec = o[path: path] ?? .object([:])
        let defaults: [(String, StandInJSON)] = [
            ("restartPolicy", .string(restartPolicy)), ("dnsPolicy", "ClusterFirst"), ("terminationGracePeriodSeconds", 30),
            ("schedulerName", "default-scheduler"), ("securityContext", .object([:])),
        ]
        for (k, v) in defaults where spec[k] == nil { spec[k] = v }
        let containers = spec["containers"]?.arrayValue ?? []
        if containers.isEmpty { causes.append(("\(field).containers", "Required value")) }
        var names = Set<String>()
        func fill(_ list: [StandInJSON], _ listField: String) -> [StandInJSON] {
            list.enumerated().map { i, c in
                var c = c
                let name = c["name"]?.stringValue ?? ""
                if name.isEmpty {
                    causes.append(("\(field).\(listField)[\(i)].name", "Required value"))
                } else if !Self.isDNS1123Label(name) {
                    causes.append(
                        (
                            "\(field).\(listField)[\(i)].name",
                            "Invalid value: \"\(name)\": a lowercase RFC 1123 label must "
                                + "consist of lower case alphanumeric characters or '-'"
                        ))
                } else if !names.insert(name).inserted {
                    causes.append(("\(field).\(listField)[\(i)].name", "Duplicate value: \"\(name)\""))
                }
                let image = c["image"]?.stringValue ?? ""
                if image.isEmpty { causes.append(("\(field).\(listField)[\(i)].image", "Required value")) }
                if c["imagePullPolicy"] == nil {
                    let tag = image.split(separator: "/").last.flatMap { $0.split(separator: ":").dropFirst().first }
                    c["imagePullPolicy"] = (tag == nil || tag == "latest") && !image.contains("@") ? "Always" : "IfNotPresent"
                }
                if c["terminationMessagePath"] == nil { c["terminationMessagePath"] = "/dev/termination-log" }
                if c["terminationMessagePolicy"] == nil { c["terminationMessagePolicy"] = "File" }
                if c["resources"] == nil { c["resources"] = .object([:]) }
                if case .array(let ports)? = c["ports"] {
                    c["ports"] = .array(
                        ports.map { p in
                            var p = p
                            if p["protocol"] == nil { p["protocol"] = "TCP" }
                            return p
                        })
                }
                return c
            }
        }
        spec["containers"] = .array(fill(containers, "containers"))
        if let initContainers = spec["initContainers"]?.arrayValue { spec["initContainers"] = .array(fill(initContainers, "initContainers")) }
        if case .array(let volumes)? = spec["volumes"] {
            spec["volumes"] = .array(
                volumes.map { v in
                    var v = v
                    for source in ["configMap", "secret"] where v[source] != nil && v[path: [source, "defaultMode"]] == nil {
                        v[path: [source, "defaultMode"]] = 420
                    }
                    return v
                })
        }
        o[path: path] = spec
    }

    func prepareJob(_ o: inout StandInJSON, old: StandInJSON?, causes: inout [Cause]) throws {
        let uid = o[path: ["metadata", "uid"]]?.stringValue ?? ""
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        for (k, v) in [
            ("parallelism", StandInJSON.int(1)), ("completions", 1), ("backoffLimit", 6), ("completionMode", "NonIndexed"),
            ("suspend", false), ("podReplacementPolicy", "TerminatingOrFailed"),
        ] where o[path: ["spec", k]] == nil {
            o[path: ["spec", k]] = v
        }
        if o[path: ["spec", "manualSelector"]]?.boolValue != true {
            let generated: [String: String] = ["batch.kubernetes.io/controller-uid": uid]
            if let old {
                o[path: ["spec", "selector"]] = old[path: ["spec", "selector"]]
            } else {
                o[path: ["spec", "selector"]] = .object(["matchLabels": StandInJSON.strings(generated)])
            }
            let jobUID = old?[path: ["metadata", "uid"]]?.stringValue ?? uid
            for (k, v) in [
                "batch.kubernetes.io/controller-uid": jobUID, "batch.kubernetes.io/job-name": name,
                "controller-uid": jobUID, "job-name": name,
            ] {
                o[path: ["spec", "template", "metadata", "labels", k]] = .string(v)
            }
        }
        let policy = o[path: ["spec", "template", "spec", "restartPolicy"]]?.stringValue
        if policy != "Never" && policy != "OnFailure" {
            causes.append(
                (
                    "spec.template.spec.restartPolicy",
                    policy == nil
                        ? "Required value: valid values: \"OnFailure\", \"Never\""
                        : "Unsupported value: \"\(policy!)\": supported values: \"OnFailure\", \"Never\""
                ))
        }
        preparePodTemplate(&o, at: ["spec", "template"], restartPolicy: policy ?? "Never", causes: &causes)
        if let old {
            if old[path: ["spec", "template"]] != o[path: ["spec", "template"]] {
                causes.append(("spec.template", "Invalid value: core.PodTemplateSpec{...}: field is immutable"))
            }
            if old[path: ["spec", "completions"]] != o[path: ["spec", "completions"]] {
                causes.append(("spec.completions", "Invalid value: \(o[path: ["spec", "completions"]]?.text ?? "null"): field is immutable"))
            }
        }
    }

    func prepareSecret(_ o: inout StandInJSON, causes: inout [Cause]) throws {
        if o["type"] == nil { o["type"] = "Opaque" }
        var data = o["data"]?.objectValue ?? [:]
        for (k, v) in data {
            guard let s = v.stringValue, Data(base64Encoded: s) != nil else {
                throw StandInError.badRequest("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at data[\(k)]")
            }
        }
        if case .object(let stringData)? = o["stringData"] {
            for (k, v) in stringData {
                guard let s = v.stringValue else {
                    throw StandInError.badRequest("stringData[\(k)] must be a string")
                }
                data[k] = .string(Data(s.utf8).base64EncodedString())
            }
            o["stringData"] = nil
        }
        for key in data.keys.sorted() where !Self.isConfigKey(key) {
            causes.append(
                (
                    "data[\(key)]",
                    "Invalid value: \"\(key)\": a valid config key must consist of alphanumeric characters, "
                        + "'-', '_' or '.'"
                ))
        }
        if !data.isEmpty || o["data"] != nil { o["data"] = .object(data) }
    }

    // MARK: Services

    func prepareService(_ o: inout StandInJSON, old: StandInJSON?, causes: inout [Cause]) throws {
        if o["spec"] == nil { o["spec"] = .object([:]) }
        let type = o[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        guard ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(type) else {
            causes.append(
                (
                    "spec.type",
                    "Unsupported value: \"\(type)\": supported values: \"ClusterIP\", \"ExternalName\", "
                        + "\"LoadBalancer\", \"NodePort\""
                ))
            return
        }
        o[path: ["spec", "type"]] = .string(type)
        if o[path: ["spec", "sessionAffinity"]] == nil { o[path: ["spec", "sessionAffinity"]] = "None" }
        if type == "ExternalName" {
            if o[path: ["spec", "externalName"]]?.stringValue?.isEmpty ?? true {
                causes.append(("spec.externalName", "Required value"))
            }
            return
        }
        if o[path: ["spec", "internalTrafficPolicy"]] == nil { o[path: ["spec", "internalTrafficPolicy"]] = "Cluster" }
        let wantIP = o[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        let oldIP = old?[path: ["spec", "clusterIP"]]?.stringValue
        let headless = wantIP == "None"
        let ports = o[path: ["spec", "ports"]]?.arrayValue ?? []
        if ports.isEmpty && !headless { causes.append(("spec.ports", "Required value")) }
        var names = Set<String>()
        var filled: [StandInJSON] = []
        for (i, p) in ports.enumerated() {
            var p = p
            guard let port = p["port"]?.intValue, (1...65535).contains(port) else {
                causes.append(("spec.ports[\(i)].port", "Invalid value: \(p["port"]?.text ?? "null"): must be between 1 and 65535, inclusive"))
                continue
            }
            let name = p["name"]?.stringValue ?? ""
            if ports.count > 1 && name.isEmpty { causes.append(("spec.ports[\(i)].name", "Required value")) }
            if !name.isEmpty && !names.insert(name).inserted { causes.append(("spec.ports[\(i)].name", "Duplicate value: \"\(name)\"")) }
            if p["protocol"] == nil { p["protocol"] = "TCP" }
            if p["targetPort"] == nil { p["targetPort"] = .int(Int64(port)) }
            if type == "NodePort" || type == "LoadBalancer" {
                if let nodePort = p["nodePort"]?.intValue {
                    if !(30000...32767).contains(nodePort) {
                        causes.append(
                            (
                                "spec.ports[\(i)].nodePort",
                                "Invalid value: \(nodePort): provided port is not in the valid range. "
                                    + "The range of valid ports is 30000-32767"
                            ))
                    }
                } else if let previous = old?[path: ["spec", "ports"]]?.arrayValue?.first(where: {
                    $0["port"]?.intValue == port && $0["protocol"] == p["protocol"]
                })?["nodePort"] {
                    p["nodePort"] = previous
                } else {
                    p["nodePort"] = .int(Int64(allocateNodePort(excluding: filled.compactMap { $0["nodePort"]?.intValue })))
                }
            } else {
                p["nodePort"] = nil
            }
            filled.append(p)
        }
        if !ports.isEmpty { o[path: ["spec", "ports"]] = .array(filled) }
        if type == "NodePort" || type == "LoadBalancer" {
            if o[path: ["spec", "externalTrafficPolicy"]] == nil { o[path: ["spec", "externalTrafficPolicy"]] = "Cluster" }
            let key = Self.key(o[path: ["metadata", "namespace"]]?.stringValue, o[path: ["metadata", "name"]]?.stringValue ?? "")
            for (i, p) in filled.enumerated() {
                if let nodePort = p["nodePort"]?.intValue, let owner = usedNodePorts[nodePort], owner != key {
                    causes.append(("spec.ports[\(i)].nodePort", "Invalid value: \(nodePort): provided port is already allocated"))
                }
            }
        }
        // The ClusterIP is allocated once and never changes.
        let key = Self.key(o[path: ["metadata", "namespace"]]?.stringValue, o[path: ["metadata", "name"]]?.stringValue ?? "")
        var ip = wantIP
        if let oldIP, !oldIP.isEmpty {
            if !wantIP.isEmpty && wantIP != oldIP {
                causes.append(("spec.clusterIPs[0]", "Invalid value: []string{\"\(wantIP)\"}: may not change once set"))
            }
            ip = oldIP
        } else if ip.isEmpty {
            ip = allocateClusterIP()
        } else if !headless {
            if Self.ipv4(ip) == nil {
                causes.append(("spec.clusterIPs[0]", "Invalid value: \"\(ip)\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            } else if let owner = usedClusterIPs[ip], owner != key {
                causes.append(
                    (
                        "spec.clusterIPs",
                        "Invalid value: []string{\"\(ip)\"}: failed to allocate IP \(ip): "
                            + "provided IP is already allocated"
                    ))
            }
        }
        o[path: ["spec", "clusterIP"]] = .string(ip)
        o[path: ["spec", "clusterIPs"]] = [.string(ip)]
        if ip != "None" {
            o[path: ["spec", "ipFamilies"]] = ["IPv4"]
            o[path: ["spec", "ipFamilyPolicy"]] = "SingleStack"
        } else {
            if o[path: ["spec", "ipFamilies"]] == nil { o[path: ["spec", "ipFamilies"]] = ["IPv4"] }
            if o[path: ["spec", "ipFamilyPolicy"]] == nil { o[path: ["spec", "ipFamilyPolicy"]] = "SingleStack" }
        }
    }

    static func ipv4(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let b = UInt8(p) else { return nil }
            v = v << 8 | UInt32(b)
        }
        return v
    }

    static func ipv4String(_ v: UInt32) -> String { "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)" }

    /// The next free address of 10.96.0.0/12, or of the configured service address range.
    func allocateClusterIP() -> String {
        while true {
            let candidate = Self.ipv4String(nextClusterIP)
            nextClusterIP += 1
            if let range = settings.serviceAddresses {
                if !range.contains(nextClusterIP) { nextClusterIP = range.lowerBound }
                if usedClusterIPs.count >= range.count { return candidate }  // full: the duplicate is refused by the caller
            } else {
                if nextClusterIP & 0xff == 0xff { nextClusterIP += 2 }
                if nextClusterIP >= 0x0A70_0000 { nextClusterIP = 0x0A60_000B }
            }
            if usedClusterIPs[candidate] == nil { return candidate }
        }
    }

    func allocateNodePort(excluding: [Int]) -> Int {
        for port in 30000...32767 where usedNodePorts[port] == nil && !excluding.contains(port) { return port }
        return 32767
    }

    func reserve(service o: StandInJSON, key: String) {
        if let ip = o[path: ["spec", "clusterIP"]]?.stringValue, !ip.isEmpty, ip != "None" { usedClusterIPs[ip] = key }
        for p in o[path: ["spec", "ports"]]?.arrayValue ?? [] {
            if let n = p["nodePort"]?.intValue { usedNodePorts[n] = key }
        }
    }

    func release(service o: StandInJSON) {
        if let ip = o[path: ["spec", "clusterIP"]]?.stringValue { usedClusterIPs[ip] = nil }
        for p in o[path: ["spec", "ports"]]?.arrayValue ?? [] {
            if let n = p["nodePort"]?.intValue { usedNodePorts[n] = nil }
        }
    }
}
