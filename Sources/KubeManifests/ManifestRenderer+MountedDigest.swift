import Crypto
import Foundation

extension ManifestRenderer {
    /// The pod-template annotation of every Deployment: SHA-256 of the Secrets and ConfigMaps its pod mounts or reads
    /// (its crypto material, credentials, configuration). When `coordinator crypto renew` changes a certificate, the
    /// digest of exactly the Deployments that use it changes, and with it their pod template: Kubernetes (and the
    /// lab's executor) restart those pods, and `coordinator rollout` applies them one at a time.
    public static let cryptoDigestAnnotation = "bok.io/crypto-digest"

    /// Sets ``cryptoDigestAnnotation`` on every Deployment from the rendered Secrets and ConfigMaps (only when the
    /// crypto material is there: without it the Secrets are not rendered and the annotation is left out).
    func annotatingMountedDigests(_ objects: [KubeObject]) -> [KubeObject] {
        var contents: [String: String] = [:]
        for object in objects where object.kind == "Secret" || object.kind == "ConfigMap" {
            let data = YAMLValue.compact([("data", object.body["data"]), ("binaryData", object.body["binaryData"])])
            contents["\(object.namespace ?? "")/\(object.kind)/\(object.name)"] = YAMLEmitter.emit(data)
        }
        return objects.map { object in
            guard object.kind == "Deployment", let podSpec = object.body["spec"]?["template"]?["spec"] else { return object }
            var hasher = SHA256()
            for reference in Self.mountedObjects(podSpec) {
                hasher.update(data: Data("\(reference)\n".utf8))
                hasher.update(data: Data((contents["\(object.namespace ?? "")/\(reference)"] ?? "(not rendered)").utf8))
            }
            let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
            let body = object.body.setting(["spec", "template", "metadata", "annotations", Self.cryptoDigestAnnotation], to: .string(digest))
            return KubeObject(apiVersion: object.apiVersion, kind: object.kind, name: object.name, namespace: object.namespace, body: body)
        }
    }

    /// `Secret/name` and `ConfigMap/name` of everything a pod spec mounts (volumes, projected sources) or reads
    /// (`env[].valueFrom`, `envFrom`), sorted and unique.
    static func mountedObjects(_ podSpec: YAMLValue) -> [String] {
        var found = Set<String>()
        for volume in podSpec["volumes"]?.list ?? [] {
            if let name = volume["secret"]?["secretName"]?.string { found.insert("Secret/\(name)") }
            if let name = volume["configMap"]?["name"]?.string { found.insert("ConfigMap/\(name)") }
            for source in volume["projected"]?["sources"]?.list ?? [] {
                if let name = source["secret"]?["name"]?.string { found.insert("Secret/\(name)") }
                if let name = source["configMap"]?["name"]?.string { found.insert("ConfigMap/\(name)") }
            }
        }
        let containers = (podSpec["containers"]?.list ?? []) + (podSpec["initContainers"]?.list ?? [])
        for container in containers {
            for variable in container["env"]?.list ?? [] {
                if let name = variable["valueFrom"]?["secretKeyRef"]?["name"]?.string { found.insert("Secret/\(name)") }
                if let name = variable["valueFrom"]?["configMapKeyRef"]?["name"]?.string { found.insert("ConfigMap/\(name)") }
            }
            for source in container["envFrom"]?.list ?? [] {
                if let name = source["secretRef"]?["name"]?.string { found.insert("Secret/\(name)") }
                if let name = source["configMapRef"]?["name"]?.string { found.insert("ConfigMap/\(name)") }
            }
        }
        return found.sorted()
    }
}

extension YAMLValue {
    /// A copy with `value` at `path`, creating mappings on the way (appended after the existing keys).
    func setting(_ path: [String], to value: YAMLValue) -> YAMLValue {
        guard let key = path.first else { return value }
        var pairs = self.pairs ?? []
        if let index = pairs.firstIndex(where: { $0.key == key }) {
            pairs[index].value = pairs[index].value.setting(Array(path.dropFirst()), to: value)
        } else {
            pairs.append(YAMLPair(key: key, value: YAMLValue.mapping([]).setting(Array(path.dropFirst()), to: value)))
        }
        return .mapping(pairs)
    }
}
