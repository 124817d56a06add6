import Foundation
import KubeClient

/// One file a Secret, ConfigMap or projected volume puts into a pod, relative to the volume's mount path.
public struct VolumeFile: Sendable, Equatable {
    public var path: String
    public var contents: Data
    public var mode: Int
}

/// Where a volume's files come from on the lab.
public enum VolumeContent: Sendable, Equatable {
    /// Secret, ConfigMap, projected: files written fresh for the pod.
    case files([VolumeFile])
    /// emptyDir: a directory of the pod's own (kept across container restarts, like the kubelet's).
    case emptyDir
    /// persistentVolumeClaim: the claim's directory (kept across pods, like a bound volume).
    case claim(String)
    /// hostPath: a path of the node the pod runs on.
    case hostPath(String)
}

/// One volumeMount of a container.
public struct MountPlan: Sendable, Equatable {
    public var volume: String
    public var mountPath: String
    public var subPath: String?
    public var readOnly: Bool
}

/// A readiness probe, resolved to a port number.
public enum ProbePlan: Sendable, Equatable {
    case http(port: Int, path: String, https: Bool)
    case tcp(port: Int)
    case exec([String])
}

/// A container the lab runs: its argv after `$(VAR)` expansion, exactly its environment (image `ENV`, then the
/// rendered `env` with `valueFrom` resolved), mounts, working directory and readiness probe.
public struct ContainerPlan: Sendable, Equatable {
    public var name: String
    public var image: String
    public var profile: ImageProfile
    public var argv: [String]
    public var environment: [(String, String)]
    public var mounts: [MountPlan]
    public var workingDirectory: String?
    public var readiness: ProbePlan?

    public static func == (a: ContainerPlan, b: ContainerPlan) -> Bool {
        a.name == b.name && a.image == b.image && a.profile == b.profile && a.argv == b.argv
            && a.environment.map { "\($0.0)=\($0.1)" } == b.environment.map { "\($0.0)=\($0.1)" } && a.mounts == b.mounts
            && a.workingDirectory == b.workingDirectory && a.readiness == b.readiness
    }
}

/// Everything the executor needs to start one pod, derived without side effects from the pod template and the
/// namespace's Secrets and ConfigMaps.
public struct PodPlan: Sendable, Equatable {
    public var namespace: String
    public var labels: [String: String]
    public var restartPolicy: String
    public var volumes: [String: VolumeContent]
    public var containers: [ContainerPlan]
    /// Containers the lab cannot run (no Fabric release holds their image), with the reason.
    public var notRun: [NotRun]

    public struct NotRun: Sendable, Equatable {
        public var container: String
        public var image: String
        public var reason: String
    }
}

/// Why a pod cannot be planned yet; like the kubelet, the executor retries (a Secret may appear later).
public struct PodPlanError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var message: String
    public var description: String { "\(reason): \(message)" }
}

/// Derives `PodPlan`s: the kubelet's reading of a pod spec, for what BoK renders and what Kubernetes allows beside it.
public struct PodPlanner: Sendable {
    /// Secrets and ConfigMaps of the pod's namespace, by name.
    public var secrets: [String: KubeObject]
    public var configMaps: [String: KubeObject]
    /// Values for `fieldRef` (`metadata.name`, `metadata.namespace`, `spec.nodeName`, `status.podIP`, …).
    public var fields: [String: String]

    public init(secrets: [String: KubeObject], configMaps: [String: KubeObject], fields: [String: String]) {
        self.secrets = secrets
        self.configMaps = configMaps
        self.fields = fields
    }

    public func plan(namespace: String, template: JSON) throws(PodPlanError) -> PodPlan {
        let spec = template["spec"] ?? .object([:])
        var volumes: [String: VolumeContent] = [:]
        for volume in spec["volumes"]?.arrayValue ?? [] {
            guard let name = volume["name"]?.stringValue else { continue }
            volumes[name] = try content(of: volume)
        }
        var containers: [ContainerPlan] = []
        var notRun: [PodPlan.NotRun] = []
        for c in (spec["initContainers"]?.arrayValue ?? []) + (spec["containers"]?.arrayValue ?? []) {
            let name = c["name"]?.stringValue ?? "container"
            let image = c["image"]?.stringValue ?? ""
            guard let profile = ImageProfile.fabric(image: image) else {
                notRun.append(
                    .init(
                        container: name, image: image,
                        reason: "image \(image) is not part of a Fabric release; the lab runs only Fabric's own images"))
                continue
            }
            containers.append(try container(c, profile: profile, volumes: volumes))
        }
        return PodPlan(
            namespace: namespace, labels: template[path: ["metadata", "labels"]]?.stringMap ?? [:],
            restartPolicy: spec["restartPolicy"]?.stringValue ?? "Always", volumes: volumes, containers: containers,
            notRun: notRun)
    }

    // MARK: volumes

    private func content(of volume: JSON) throws(PodPlanError) -> VolumeContent {
        if let secret = volume["secret"] {
            let name = secret["secretName"]?.stringValue ?? ""
            return .files(
                try files(
                    secretName: name, items: secret["items"]?.arrayValue, defaultMode: secret["defaultMode"]?.intValue ?? 0o644,
                    optional: secret["optional"]?.boolValue ?? false))
        }
        if let configMap = volume["configMap"] {
            let name = configMap["name"]?.stringValue ?? ""
            return .files(
                try files(
                    configMapName: name, items: configMap["items"]?.arrayValue,
                    defaultMode: configMap["defaultMode"]?.intValue ?? 0o644, optional: configMap["optional"]?.boolValue ?? false))
        }
        if let projected = volume["projected"] {
            let mode = projected["defaultMode"]?.intValue ?? 0o644
            var all: [VolumeFile] = []
            for source in projected["sources"]?.arrayValue ?? [] {
                if let s = source["secret"] {
                    all += try files(
                        secretName: s["name"]?.stringValue ?? "", items: s["items"]?.arrayValue, defaultMode: mode,
                        optional: s["optional"]?.boolValue ?? false)
                } else if let m = source["configMap"] {
                    all += try files(
                        configMapName: m["name"]?.stringValue ?? "", items: m["items"]?.arrayValue, defaultMode: mode,
                        optional: m["optional"]?.boolValue ?? false)
                }
            }
            return .files(all)
        }
        if volume["emptyDir"] != nil { return .emptyDir }
        if let claim = volume[path: ["persistentVolumeClaim", "claimName"]]?.stringValue { return .claim(claim) }
        if let host = volume[path: ["hostPath", "path"]]?.stringValue { return .hostPath(host) }
        throw PodPlanError(
            reason: "UnsupportedVolume",
            message: "volume \(volume["name"]?.stringValue ?? "?") is of a type the lab does not provide "
                + "(it provides secret, configMap, projected, emptyDir, persistentVolumeClaim and hostPath)")
    }

    private func files(secretName: String, items: [JSON]?, defaultMode: Int, optional: Bool) throws(PodPlanError) -> [VolumeFile] {
        guard let secret = secrets[secretName] else {
            if optional { return [] }
            throw PodPlanError(reason: "CreateContainerConfigError", message: "secret \"\(secretName)\" not found")
        }
        var data: [String: Data] = [:]
        for (key, value) in secret["data"]?.objectValue ?? [:] {
            guard let text = value.stringValue, let bytes = Data(base64Encoded: text) else {
                throw PodPlanError(reason: "CreateContainerConfigError", message: "secret \"\(secretName)\" key \(key) is not base64")
            }
            data[key] = bytes
        }
        for (key, value) in secret["stringData"]?.objectValue ?? [:] { data[key] = Data((value.stringValue ?? "").utf8) }
        return try select(data, items: items, defaultMode: defaultMode, source: "secret \"\(secretName)\"")
    }

    private func files(configMapName: String, items: [JSON]?, defaultMode: Int, optional: Bool) throws(PodPlanError) -> [VolumeFile] {
        guard let map = configMaps[configMapName] else {
            if optional { return [] }
            throw PodPlanError(reason: "CreateContainerConfigError", message: "configmap \"\(configMapName)\" not found")
        }
        var data: [String: Data] = [:]
        for (key, value) in map["data"]?.objectValue ?? [:] { data[key] = Data((value.stringValue ?? "").utf8) }
        for (key, value) in map["binaryData"]?.objectValue ?? [:] {
            guard let text = value.stringValue, let bytes = Data(base64Encoded: text) else {
                throw PodPlanError(reason: "CreateContainerConfigError", message: "configmap \"\(configMapName)\" binaryData \(key) is not base64")
            }
            data[key] = bytes
        }
        return try select(data, items: items, defaultMode: defaultMode, source: "configmap \"\(configMapName)\"")
    }

    private func select(_ data: [String: Data], items: [JSON]?, defaultMode: Int, source: String) throws(PodPlanError) -> [VolumeFile] {
        guard let items else {
            return data.keys.sorted().map { VolumeFile(path: $0, contents: data[$0]!, mode: defaultMode) }
        }
        var out: [VolumeFile] = []
        for item in items {
            let key = item["key"]?.stringValue ?? ""
            let path = item["path"]?.stringValue ?? key
            guard let bytes = data[key] else {
                throw PodPlanError(reason: "CreateContainerConfigError", message: "\(source) has no key \(key)")
            }
            guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw PodPlanError(reason: "CreateContainerConfigError", message: "\(source) item path \(path) must be relative without '..'")
            }
            out.append(VolumeFile(path: path, contents: bytes, mode: item["mode"]?.intValue ?? defaultMode))
        }
        return out
    }

    // MARK: containers

    private func container(_ c: JSON, profile: ImageProfile, volumes: [String: VolumeContent]) throws(PodPlanError) -> ContainerPlan {
        let name = c["name"]?.stringValue ?? "container"
        var environment: [(String, String)] = profile.environment.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        func set(_ key: String, _ value: String) {
            environment.removeAll { $0.0 == key }
            environment.append((key, value))
        }
        for source in c["envFrom"]?.arrayValue ?? [] {
            let prefix = source["prefix"]?.stringValue ?? ""
            if let name = source[path: ["secretRef", "name"]]?.stringValue {
                for file in try files(
                    secretName: name, items: nil, defaultMode: 0, optional: source[path: ["secretRef", "optional"]]?.boolValue ?? false)
                {
                    set(prefix + file.path, String(decoding: file.contents, as: UTF8.self))
                }
            } else if let name = source[path: ["configMapRef", "name"]]?.stringValue {
                for file in try files(
                    configMapName: name, items: nil, defaultMode: 0,
                    optional: source[path: ["configMapRef", "optional"]]?.boolValue ?? false)
                {
                    set(prefix + file.path, String(decoding: file.contents, as: UTF8.self))
                }
            }
        }
        for entry in c["env"]?.arrayValue ?? [] {
            guard let key = entry["name"]?.stringValue else { continue }
            if let value = entry["value"]?.stringValue {
                set(key, Self.expand(value, environment))
            } else if let from = entry["valueFrom"] {
                set(key, try value(from: from, variable: key))
            } else {
                set(key, "")
            }
        }
        let command = c["command"]?.arrayValue?.compactMap(\.stringValue)
        let args = c["args"]?.arrayValue?.compactMap(\.stringValue)
        // Kubernetes: command replaces the image's ENTRYPOINT and args its CMD; these images have only a CMD.
        let argv = (command.map { $0 + (args ?? []) } ?? (args ?? profile.defaultCommand)).map { Self.expand($0, environment) }
        var mounts: [MountPlan] = []
        for m in c["volumeMounts"]?.arrayValue ?? [] {
            let volume = m["name"]?.stringValue ?? ""
            guard volumes[volume] != nil else {
                throw PodPlanError(
                    reason: "CreateContainerConfigError", message: "container \(name) mounts volume \(volume), which the pod does not declare")
            }
            guard let path = m["mountPath"]?.stringValue, path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw PodPlanError(reason: "CreateContainerConfigError", message: "container \(name): mountPath must be absolute without '..'")
            }
            mounts.append(
                MountPlan(
                    volume: volume, mountPath: path, subPath: m["subPath"]?.stringValue,
                    readOnly: m["readOnly"]?.boolValue ?? false))
        }
        return ContainerPlan(
            name: name, image: c["image"]?.stringValue ?? "", profile: profile, argv: argv, environment: environment,
            mounts: mounts, workingDirectory: c["workingDir"]?.stringValue, readiness: probe(c["readinessProbe"], container: c))
    }

    private func value(from source: JSON, variable: String) throws(PodPlanError) -> String {
        if let ref = source["secretKeyRef"] {
            let name = ref["name"]?.stringValue ?? ""
            let key = ref["key"]?.stringValue ?? ""
            guard let secret = secrets[name] else {
                if ref["optional"]?.boolValue == true { return "" }
                throw PodPlanError(reason: "CreateContainerConfigError", message: "secret \"\(name)\" not found (env \(variable))")
            }
            if let text = secret["data", key]?.stringValue, let bytes = Data(base64Encoded: text) {
                return String(decoding: bytes, as: UTF8.self)
            }
            if let text = secret["stringData", key]?.stringValue { return text }
            throw PodPlanError(reason: "CreateContainerConfigError", message: "couldn't find key \(key) in Secret \(name) (env \(variable))")
        }
        if let ref = source["configMapKeyRef"] {
            let name = ref["name"]?.stringValue ?? ""
            let key = ref["key"]?.stringValue ?? ""
            guard let map = configMaps[name] else {
                if ref["optional"]?.boolValue == true { return "" }
                throw PodPlanError(reason: "CreateContainerConfigError", message: "configmap \"\(name)\" not found (env \(variable))")
            }
            guard let text = map["data", key]?.stringValue else {
                throw PodPlanError(reason: "CreateContainerConfigError", message: "couldn't find key \(key) in ConfigMap \(name) (env \(variable))")
            }
            return text
        }
        if let path = source[path: ["fieldRef", "fieldPath"]]?.stringValue {
            guard let value = fields[path] else {
                throw PodPlanError(reason: "CreateContainerConfigError", message: "env \(variable): fieldRef \(path) is not provided by the lab")
            }
            return value
        }
        throw PodPlanError(reason: "CreateContainerConfigError", message: "env \(variable): valueFrom of a kind the lab does not resolve")
    }

    private func probe(_ p: JSON?, container: JSON) -> ProbePlan? {
        guard let p else { return nil }
        func port(_ value: JSON?) -> Int? {
            if let n = value?.intValue { return n }
            guard let name = value?.stringValue else { return nil }
            if let n = Int(name) { return n }
            return container["ports"]?.arrayValue?.first { $0["name"]?.stringValue == name }?["containerPort"]?.intValue
        }
        if let get = p["httpGet"], let n = port(get["port"]) {
            return .http(port: n, path: get["path"]?.stringValue ?? "/", https: get["scheme"]?.stringValue == "HTTPS")
        }
        if let tcp = p["tcpSocket"], let n = port(tcp["port"]) { return .tcp(port: n) }
        if let command = p[path: ["exec", "command"]]?.arrayValue?.compactMap(\.stringValue) { return .exec(command) }
        return nil
    }

    /// Kubernetes' `$(VAR)` expansion: defined variables are replaced, `$$` is a literal `$`, the rest stays.
    public static func expand(_ text: String, _ environment: [(String, String)]) -> String {
        guard text.contains("$") else { return text }
        let values = Dictionary(environment, uniquingKeysWith: { _, new in new })
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == "$", next < text.endIndex {
                if text[next] == "$" {
                    out.append("$")
                    i = text.index(after: next)
                    continue
                }
                if text[next] == "(", let close = text[next...].firstIndex(of: ")") {
                    let name = String(text[text.index(after: next)..<close])
                    if let value = values[name] {
                        out += value
                        i = text.index(after: close)
                        continue
                    }
                }
            }
            out.append(c)
            i = next
        }
        return out
    }
}
