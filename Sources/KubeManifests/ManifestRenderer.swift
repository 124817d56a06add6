import BoKSystem
import FabricTopology
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Renders every Kubernetes object of a Fabric network from its topology: namespaces, storage, crypto Secrets,
/// CAs, Raft orderers, peers (with CouchDB and the node's Docker socket), CLI pods, the channel jobs and the explorer.
///
/// Pure: the same topology and crypto material always give the same objects, in the same order, as the same bytes.
/// Objects that carry crypto material or passwords (Secrets, the public-certificate ConfigMaps) are rendered only
/// when a crypto directory is given; the rest of the manifests refer to them by name either way.
public struct ManifestRenderer: Sendable {
    public let topology: FabricTopology
    public let crypto: CryptoFileSource?
    public let passwords: PasswordSource?
    /// The worker nodes' addresses as CIDRs (`10.0.0.5/32`): where chaincode containers reach their peer's 7052 from
    /// (the NetworkPolicies). Empty: port 7052 stays open to every source.
    public var nodeCIDRs: [String] = []

    public init(topology: FabricTopology, crypto: CryptoFileSource? = nil, passwords: PasswordSource? = nil) {
        self.topology = topology
        self.crypto = crypto
        self.passwords = passwords
    }

    /// Mount points shared by every pod template.
    enum Paths {
        /// A node's own identity: `msp/` and `tls/` as cryptogen lays them out.
        static let identity = "/etc/hyperledger/identity"
        /// Crypto material under its cryptogen paths (jobs, CLI): `<root>/peerOrganizations/org1/...`.
        static let crypto = "/etc/bok/crypto"
        /// The rendered configtx.yaml.
        static let channelConfig = "/etc/bok/channel"
        static let ledger = "/var/hyperledger/production"
        static let dockerSocketMount = "/host/var/run"
        static let caConfig = "/etc/hyperledger/fabric-ca-server-config"
        static let caHome = "/var/hyperledger/fabric-ca-server"
    }

    /// Names of objects other objects refer to.
    enum Names {
        static let share = "fabric-share"
        static let cryptoPublic = "crypto-public"
        static let channelConfig = "channel-config"
        static let couchDBCredentials = "couchdb-credentials"
        static let caAdminCredentials = "ca-admin-credentials"
        static let caKeyPair = "ca-keypair"
        static let explorerCredentials = "explorer-credentials"
        static let explorerConfig = "explorer-config"
        static func identity(_ hostname: String) -> String { "\(hostname)-identity" }
        static let adminIdentity = "admin-identity"
    }

    /// Every object, namespaces first, in a fixed order.
    public func render() throws -> [KubeObject] {
        try renderAll().filter { include($0) }
    }

    /// Every object including those that need crypto material (with empty contents when there is none).
    private func renderAll() throws -> [KubeObject] {
        var objects: [KubeObject] = []
        for org in topology.organizations {
            objects.append(namespace(org))
        }
        for org in topology.organizations {
            objects.append(contentsOf: networkPolicies(org))
        }
        objects.append(contentsOf: persistentVolumes())
        for org in topology.ordererOrgs {
            objects.append(contentsOf: try organizationObjects(org))
            objects.append(contentsOf: try org.nodes.flatMap { try ordererObjects($0, in: org) })
        }
        for org in topology.peerOrgs {
            objects.append(contentsOf: try organizationObjects(org))
            objects.append(contentsOf: try org.nodes.flatMap { try peerObjects($0, in: org) })
        }
        objects.append(contentsOf: try channelObjects())
        if let org = topology.explorerOrg {
            objects.append(contentsOf: try explorerObjects(in: org))
        }
        return hasSecretInputs ? annotatingMountedDigests(objects) : objects
    }

    /// Whether an object is rendered: Secrets and certificate ConfigMaps need the crypto directory.
    private func include(_ object: KubeObject) -> Bool {
        hasSecretInputs || !Self.needsCrypto(object)
    }

    private var hasSecretInputs: Bool { crypto != nil && passwords != nil }

    /// Objects whose content comes from the crypto directory.
    static func needsCrypto(_ object: KubeObject) -> Bool {
        object.kind == "Secret" || (object.kind == "ConfigMap" && object.name == Names.cryptoPublic)
    }

    /// The objects `render()` leaves out without crypto material, by `namespace/kind/name`.
    public func omittedObjects() throws -> [String] {
        guard !hasSecretInputs else { return [] }
        return try renderAll().filter(Self.needsCrypto).map { "\($0.namespace ?? "cluster")/\($0.kind)/\($0.name)" }
    }

    /// Renders and writes each object to `<directory>/<namespace>/<rank>-<kind>-<name>.yaml`.
    ///
    /// Files are emitted and written on all cores: creating thousands of small files costs far more system time than
    /// rendering them.
    public func write(to directory: String) throws -> RenderReport {
        let all = try renderAll()
        var report = RenderReport()
        if !hasSecretInputs {
            report.omittedSecretObjects = all.filter(Self.needsCrypto).map { "\($0.namespace ?? "cluster")/\($0.kind)/\($0.name)" }
        }
        let objects = all.filter { include($0) }
        let paths = objects.map { "\(directory)/\($0.relativePath)" }
        var folders: [String] = []
        for path in paths {
            let folder = String(path[..<path.lastIndex(of: "/")!])
            if folders.last != folder && !folders.contains(folder) { folders.append(folder) }
        }
        let secret = hasSecretInputs
        for folder in folders {
            do {
                // With --crypto the tree holds every org's keys as Secrets: 0700 directories, 0600 Secret files.
                if secret {
                    try SecretFile.makePrivateDirectory(folder)
                } else {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                }
            } catch {
                throw RenderError.cannotWrite(path: folder, reason: "\(error)")
            }
        }
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let results = ConcurrentWork.map(count: workers, concurrency: workers) { worker -> Result<Int, RenderError> in
            var bytes = 0
            for index in stride(from: worker, to: objects.count, by: workers) {
                do {
                    bytes += try FileWriter.write(objects[index].yaml, to: paths[index], mode: objects[index].kind == "Secret" ? 0o600 : 0o644)
                } catch {
                    return .failure(RenderError.cannotWrite(path: paths[index], reason: "\(error)"))
                }
            }
            return .success(bytes)
        }
        for result in results { report.bytes += try result.get() }
        report.objects = objects.count
        report.filesWritten = objects.count
        return report
    }

    // MARK: - Shared building blocks

    /// Labels of every object: the app.kubernetes.io set plus tenant and organisation.
    func labels(name: String, instance: String, component: String, org: Organization?) -> YAMLValue {
        var pairs: [(String, YAMLValue?)] = [
            (BoKLabels.name, .string(name)),
            (BoKLabels.instance, .string(instance)),
            (BoKLabels.component, .string(component)),
            (BoKLabels.partOf, .string(BoKLabels.product)),
            (BoKLabels.managedBy, .string(BoKLabels.product)),
            (BoKLabels.version, .string(topology.fabric.version)),
            (BoKLabels.tenant, .string(topology.tenant)),
        ]
        if let org { pairs.append((BoKLabels.organization, .string(org.shortName))) }
        return .compact(pairs)
    }

    /// The labels a Service and its Deployment select on.
    func selector(name: String, instance: String) -> YAMLValue {
        [BoKLabels.name: .string(name), BoKLabels.instance: .string(instance)]
    }

    func metadata(_ name: String, namespace: String?, labels: YAMLValue) -> YAMLValue {
        .compact([("name", .string(name)), ("namespace", namespace.map(YAMLValue.string)), ("labels", labels)])
    }

    func object(
        _ apiVersion: String, _ kind: String, name: String, namespace: String?, labels: YAMLValue,
        _ rest: [(String, YAMLValue?)]
    ) -> KubeObject {
        let body = YAMLValue.compact(
            [
                ("apiVersion", .string(apiVersion)), ("kind", .string(kind)),
                ("metadata", metadata(name, namespace: namespace, labels: labels)),
            ] + rest)
        return KubeObject(apiVersion: apiVersion, kind: kind, name: name, namespace: namespace, body: body)
    }

    /// A crypto file's text; a placeholder when rendering without crypto (those objects are dropped later).
    func cryptoFile(_ path: String) throws -> String {
        guard let crypto else { return "" }
        guard let text = crypto.contents(of: path) else { throw RenderError.missingCryptoFile(path) }
        return text
    }

    func password(_ namespace: String, _ purpose: String) -> String {
        passwords?(namespace, purpose) ?? ""
    }

    func env(_ name: String, _ value: String) -> YAMLValue { ["name": .string(name), "value": .string(value)] }

    func secretEnv(_ name: String, secret: String, key: String) -> YAMLValue {
        ["name": .string(name), "valueFrom": ["secretKeyRef": ["name": .string(secret), "key": .string(key)]]]
    }

    func port(_ name: String, _ number: Int) -> YAMLValue {
        ["name": .string(name), "containerPort": .int(number), "protocol": "TCP"]
    }

    func servicePort(_ name: String, _ number: Int, nodePort: Int? = nil) -> YAMLValue {
        .compact([
            ("name", .string(name)), ("port", .int(number)), ("targetPort", .string(name)), ("protocol", "TCP"),
            ("nodePort", nodePort.map(YAMLValue.int)),
        ])
    }

    func service(
        _ name: String, org: Organization, component: String, selectorName: String, selectorInstance: String,
        ports: [YAMLValue], nodePort: Bool
    ) -> KubeObject {
        object(
            "v1", "Service", name: name, namespace: org.namespace,
            labels: labels(name: selectorName, instance: name, component: component, org: org),
            [
                (
                    "spec",
                    .compact([
                        ("type", .string(nodePort ? "NodePort" : "ClusterIP")),
                        ("selector", selector(name: selectorName, instance: selectorInstance)),
                        ("ports", .list(ports)),
                    ])
                )
            ])
    }

    /// A Deployment with one replica, replaced (not rolled) because its volumes are ReadWriteOnce.
    func deployment(
        _ name: String, org: Organization, appName: String, instance: String, component: String,
        podSpec: YAMLValue
    ) -> KubeObject {
        let podLabels = labels(name: appName, instance: instance, component: component, org: org)
        return object(
            "apps/v1", "Deployment", name: name, namespace: org.namespace, labels: podLabels,
            [
                (
                    "spec",
                    [
                        "replicas": 1,
                        "strategy": ["type": "Recreate"],
                        "selector": ["matchLabels": selector(name: appName, instance: instance)],
                        "template": ["metadata": ["labels": podLabels], "spec": podSpec],
                    ]
                )
            ])
    }

    /// Base64 of text, for Secret data.
    func base64(_ text: String) -> YAMLValue { .string(Data(text.utf8).base64EncodedString()) }

    /// A key usable in a ConfigMap or Secret for a crypto path (`/` → `_`, anything else odd → `-`).
    static func dataKey(_ path: String) -> String {
        String(
            path.map { character -> Character in
                if character == "/" { return "_" }
                if character.isASCII && (character.isLetter || character.isNumber || "-._".contains(character)) { return character }
                return "-"
            })
    }

    var nfs: (server: String, path: String)? {
        if case .nfs(let server, let path, _) = topology.storage { return (server, path) }
        return nil
    }
}

/// Plain POSIX file writes: thousands of small files, without Foundation's per-call overhead.
enum FileWriter {
    struct Failure: Error, CustomStringConvertible {
        let code: Int32
        var description: String { String(cString: strerror(code)) }
    }

    /// Writes text to a file (replaced if present; never through a symbolic link); returns the bytes written.
    /// The mode is set before any content goes in, so a Secret is never readable by others, not even briefly.
    static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(code: errno) }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else { throw Failure(code: errno) }
        var text = text
        return try text.withUTF8 { buffer in
            let code = writeAll(fd, UnsafeRawBufferPointer(buffer))
            guard code == 0 else { throw Failure(code: code) }
            return buffer.count
        }
    }
}
