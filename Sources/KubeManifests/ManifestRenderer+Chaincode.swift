import FabricTopology
import Foundation

/// A chaincode package as written by `peer lifecycle chaincode package`: what the chaincode Jobs need to know of it.
public struct ChaincodePackageInfo: Sendable, Equatable {
    /// The label in the package's `metadata.json` (`simple_1.0`).
    public let label: String
    /// SHA-256 of the package file, 64 lower-case hex digits: the second half of Fabric's package ID.
    public let sha256: String
    /// Bytes of the package file.
    public let size: Int

    public init(label: String, sha256: String, size: Int) {
        self.label = label
        self.sha256 = sha256
        self.size = size
    }

    /// Fabric's package ID: `<label>:<sha256 of the file>`.
    public var packageID: String { "\(label):\(sha256)" }
    /// The first 8 hex digits of the hash, for object names.
    public var shortHash: String { String(sha256.prefix(8)) }
    /// How many ConfigMaps carry the package (at most `ChaincodeNames.chunkSize` bytes each).
    public var partCount: Int { max(1, (size + ChaincodeNames.chunkSize - 1) / ChaincodeNames.chunkSize) }
    /// The ConfigMap keys of the parts, in order: `part-000`, `part-001`, …
    public var partKeys: [String] { (0..<partCount).map(ChaincodeNames.partKey) }
}

/// The chaincode definition agreed on the channel (`approveformyorg`/`commit`).
public struct ChaincodeDefinition: Sendable, Equatable {
    public var name: String
    public var version: String
    public var sequence: Int
    /// Set when the chaincode must be invoked with `--isInit` before anything else (`--init-args`).
    public var initRequired: Bool

    public init(name: String, version: String, sequence: Int, initRequired: Bool) {
        self.name = name
        self.version = version
        self.sequence = sequence
        self.initRequired = initRequired
    }
}

/// `peer chaincode invoke` (ordered, changes the ledger) or `peer chaincode query` (one peer, read only).
public enum ChaincodeCallKind: String, Sendable, Codable {
    case invoke
    case query
}

/// Deterministic names of the chaincode objects: the same package and definition give the same names, so a second
/// deploy finds (and reuses) what the first one made. Every name is a DNS label of at most 63 characters.
public enum ChaincodeNames {
    /// Bytes of package per ConfigMap: a ConfigMap holds at most 1 MiB, and base64 makes 768 KiB into 1 MiB.
    public static let chunkSize = 768 * 1024
    /// Where a Job finds the package's parts.
    public static let packageDirectory = "/etc/bok/chaincode"
    /// The Jobs' scratch directory (an emptyDir that survives container restarts within the pod).
    public static let workDirectory = "/work"
    /// Marks the lines a Job prints for the coordinator to read from its log.
    public static let resultBegin = "----- bok-result-begin -----"
    public static let resultEnd = "----- bok-result-end -----"

    public static func partKey(_ index: Int) -> String {
        let digits = String(index)
        return "part-" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    /// `cc-install-simple-1-0-dbe6d20a`: installs the package on every peer of one org.
    public static func install(_ package: ChaincodePackageInfo) -> String {
        name("cc-install", package.label, suffix: package.shortHash)
    }
    /// The state query of one deploy (committed and approved definitions); removed once read.
    public static func state(_ package: ChaincodePackageInfo, chaincode: String) -> String {
        name("cc-state", chaincode, suffix: package.shortHash)
    }
    public static func approve(_ package: ChaincodePackageInfo, sequence: Int) -> String {
        name("cc-approve", package.label, suffix: "\(package.shortHash)-s\(sequence)")
    }
    public static func commit(_ package: ChaincodePackageInfo, sequence: Int) -> String {
        name("cc-commit", package.label, suffix: "\(package.shortHash)-s\(sequence)")
    }
    public static func initialize(_ package: ChaincodePackageInfo, sequence: Int) -> String {
        name("cc-init", package.label, suffix: "\(package.shortHash)-s\(sequence)")
    }
    /// ConfigMap `index` of the package's parts.
    public static func packagePart(_ package: ChaincodePackageInfo, index: Int) -> String {
        name("cc-pkg", package.label, suffix: "\(package.shortHash)-\(index)")
    }
    /// One invoke or query; `unique` tells runs apart (they are not idempotent).
    public static func call(_ kind: ChaincodeCallKind, chaincode: String, unique: String) -> String {
        name("cc-\(kind.rawValue)", chaincode, suffix: unique)
    }

    /// `<prefix>-<slug of text>-<suffix>`, the slug shortened so the whole fits a DNS label.
    static func name(_ prefix: String, _ text: String, suffix: String) -> String {
        let room = max(1, 63 - prefix.count - suffix.count - 2)
        var slug = ""
        for character in text.lowercased() {
            let allowed = character.isASCII && (character.isLetter || character.isNumber)
            if allowed {
                slug.append(character)
            } else if !slug.isEmpty && slug.last != "-" {
                slug.append("-")
            }
        }
        slug = String(slug.prefix(room))
        while slug.hasSuffix("-") { slug.removeLast() }
        return slug.isEmpty ? "\(prefix)-\(suffix)" : "\(prefix)-\(slug)-\(suffix)"
    }
}

extension ManifestRenderer {
    // MARK: - Package ConfigMaps

    /// The package split into ConfigMaps of at most `ChaincodeNames.chunkSize` bytes (`binaryData`), in one org's
    /// namespace: a pod mounts only ConfigMaps of its own namespace, and a package is often larger than one ConfigMap.
    public func chaincodePackageConfigMaps(_ package: ChaincodePackageInfo, bytes: Data, org: Organization) -> [KubeObject] {
        (0..<package.partCount).map { index in
            let start = bytes.startIndex + index * ChaincodeNames.chunkSize
            let end = min(bytes.endIndex, start + ChaincodeNames.chunkSize)
            let name = ChaincodeNames.packagePart(package, index: index)
            return chaincodeObject(
                "v1", "ConfigMap", name: name, org: org, component: "chaincode-package", chaincode: nil,
                annotations: [
                    ("bok.io/package-id", package.packageID),
                    ("bok.io/part", "\(index + 1)/\(package.partCount)"),
                ],
                [
                    (
                        "binaryData",
                        [
                            YAMLPair(
                                key: ChaincodeNames.partKey(index),
                                value: .string(bytes[start..<end].base64EncodedString()))
                        ].yamlMapping
                    )
                ])
        }
    }

    // MARK: - Lifecycle Jobs

    /// Installs the package on every peer of the org (`queryinstalled` first: a peer that has it is skipped), after
    /// reassembling it from its ConfigMaps and checking its SHA-256 against the package ID.
    public func chaincodeInstallJob(_ package: ChaincodePackageInfo, org: Organization) -> KubeObject {
        let variables =
            chaincodeEnvironment(org: org, package: package) + [
                env("PEERS", org.nodes.map(\.endpoint).joined(separator: " ")),
                env("CC_PACKAGE_DIR", ChaincodeNames.packageDirectory),
                env("CC_PARTS", package.partKeys.joined(separator: " ")),
                env("PACKAGE_SHA256", package.sha256),
            ]
        return chaincodeJob(
            ChaincodeNames.install(package), org: org, component: "chaincode-install", chaincode: nil,
            script: ChaincodeScripts.install, env: variables, packageParts: package, backoffLimit: 2, transient: false)
    }

    /// Reads, on the org's first peer, the committed definition of `chaincode` and this org's approval at that
    /// sequence, and prints both for the coordinator (which decides the next sequence from them).
    public func chaincodeStateJob(_ package: ChaincodePackageInfo, chaincode: String, org: Organization) -> KubeObject {
        let variables =
            chaincodeEnvironment(org: org, package: package) + [
                env("CC_NAME", chaincode), env("CORE_PEER_ADDRESS", org.nodes[0].endpoint),
            ]
        return chaincodeJob(
            ChaincodeNames.state(package, chaincode: chaincode), org: org, component: "chaincode-state",
            chaincode: chaincode, script: ChaincodeScripts.state, env: variables, packageParts: nil, backoffLimit: 1,
            transient: true)
    }

    /// Approves the definition for the org with its admin (skipped when `queryapproved` already shows it).
    public func chaincodeApproveJob(_ package: ChaincodePackageInfo, definition: ChaincodeDefinition, org: Organization)
        -> KubeObject
    {
        let variables =
            chaincodeEnvironment(org: org, package: package) + definitionEnvironment(definition) + ordererEnvironment() + [
                env("CORE_PEER_ADDRESS", org.nodes[0].endpoint)
            ]
        return chaincodeJob(
            ChaincodeNames.approve(package, sequence: definition.sequence), org: org, component: "chaincode-approve",
            chaincode: definition.name, script: ChaincodeScripts.approve, env: variables, packageParts: nil,
            backoffLimit: 2, transient: false)
    }

    /// Commits the definition (skipped when `querycommitted` shows it) once every org approved it, endorsed by one peer
    /// of each org, then waits until every peer of every org has it.
    public func chaincodeCommitJob(_ package: ChaincodePackageInfo, definition: ChaincodeDefinition, org: Organization)
        -> KubeObject
    {
        let variables =
            chaincodeEnvironment(org: org, package: package) + definitionEnvironment(definition) + ordererEnvironment() + [
                env("CORE_PEER_ADDRESS", org.nodes[0].endpoint),
                env("ENDORSERS", endorsers()),
                env(
                    "ALL_PEERS",
                    topology.peerOrgs.flatMap { other in other.nodes.map { "\($0.endpoint)|\(tlsCA(of: other))" } }
                        .joined(separator: " ")),
            ]
        return chaincodeJob(
            ChaincodeNames.commit(package, sequence: definition.sequence), org: org, component: "chaincode-commit",
            chaincode: definition.name, script: ChaincodeScripts.commit, env: variables, packageParts: nil,
            backoffLimit: 2, transient: false)
    }

    /// `peer chaincode invoke --isInit` with the given arguments (`{"Args":["init",…]}`), endorsed by one peer of each
    /// org; an already initialized chaincode counts as done.
    public func chaincodeInitJob(
        _ package: ChaincodePackageInfo, definition: ChaincodeDefinition, arguments: String,
        org: Organization
    ) -> KubeObject {
        let variables =
            chaincodeEnvironment(org: org, package: package) + definitionEnvironment(definition) + ordererEnvironment() + [
                env("ENDORSERS", endorsers()), env("CC_ARGS", arguments),
            ]
        return chaincodeJob(
            ChaincodeNames.initialize(package, sequence: definition.sequence), org: org, component: "chaincode-init",
            chaincode: definition.name, script: ChaincodeScripts.initialize, env: variables, packageParts: nil,
            backoffLimit: 0, transient: false)
    }

    /// One `peer chaincode invoke` (endorsed by one peer of each org, waits for the commit event) or `query` (the org's
    /// first peer) with the org's admin; the result is printed between `ChaincodeNames.resultBegin`/`resultEnd`.
    /// `peer`: the peer a query asks (default the org's first); its chaincode container is launched when not running.
    public func chaincodeCallJob(
        _ kind: ChaincodeCallKind, chaincode: String, arguments: String, org: Organization,
        jobName: String, peer: FabricNode? = nil
    ) -> KubeObject {
        var variables =
            chaincodeEnvironment(org: org, package: nil) + ordererEnvironment() + [
                env("CC_NAME", chaincode), env("CC_ARGS", arguments), env("CALL", kind.rawValue),
                env("CORE_PEER_ADDRESS", (peer ?? org.nodes[0]).endpoint),
            ]
        if kind == .invoke { variables.append(env("ENDORSERS", endorsers())) }
        return chaincodeJob(
            jobName, org: org, component: "chaincode-\(kind.rawValue)", chaincode: chaincode,
            script: ChaincodeScripts.call, env: variables, packageParts: nil, backoffLimit: 0, transient: true)
    }

    // MARK: - Building blocks

    /// `ENDPOINT|TLS-CA-FILE` of the first peer of every peer org: the endorsers of commits and invokes.
    func endorsers() -> String {
        topology.peerOrgs.map { "\($0.nodes[0].endpoint)|\(tlsCA(of: $0))" }.joined(separator: " ")
    }

    /// An org's TLS CA certificate under its cryptogen path in the crypto tree (from `crypto-public`).
    func tlsCA(of org: Organization) -> String {
        "\(Paths.crypto)/\(CryptoLayout.mspDirectory(org))/\(CryptoLayout.mspFiles(org)[1])"
    }

    /// The org admin's identity and the channel: what every chaincode Job talks to its peers with.
    func chaincodeEnvironment(org: Organization, package: ChaincodePackageInfo?) -> [YAMLValue] {
        let admin = "\(Paths.crypto)/\(CryptoLayout.admin(org).directory)"
        var variables: [YAMLValue] = [
            env("FABRIC_LOGGING_SPEC", "INFO"),
            env("CORE_PEER_LOCALMSPID", org.mspID),
            env("CORE_PEER_MSPCONFIGPATH", "\(admin)/msp"),
            env("CORE_PEER_TLS_ENABLED", "true"),
            env("CORE_PEER_TLS_ROOTCERT_FILE", "\(admin)/tls/ca.crt"),
            env("CHANNEL", topology.channel),
            env("WORK", ChaincodeNames.workDirectory),
            env("RETRY_SECONDS", "5"),
        ]
        if let package { variables.append(env("PACKAGE_ID", package.packageID)) }
        return variables
    }

    func definitionEnvironment(_ definition: ChaincodeDefinition) -> [YAMLValue] {
        [
            env("CC_NAME", definition.name), env("CC_VERSION", definition.version),
            env("CC_SEQUENCE", String(definition.sequence)),
            env("CC_INIT_REQUIRED", definition.initRequired ? "true" : "false"),
        ]
    }

    /// The first orderer and the TLS CA of its org (from `crypto-public`).
    func ordererEnvironment() -> [YAMLValue] {
        [env("ORDERER", topology.orderers[0].endpoint), env("ORDERER_CA", tlsCA(of: topology.ordererOrgs[0]))]
    }

    /// The tenant's labels plus `bok.io/chaincode` (so one chaincode's objects can be listed).
    func chaincodeLabels(instance: String, component: String, org: Organization, chaincode: String?) -> YAMLValue {
        var pairs = labels(name: "fabric-chaincode", instance: instance, component: component, org: org).pairs ?? []
        if let chaincode { pairs.append(YAMLPair(key: "bok.io/chaincode", value: .string(chaincode))) }
        return .mapping(pairs)
    }

    func chaincodeObject(
        _ apiVersion: String, _ kind: String, name: String, org: Organization, component: String, chaincode: String?,
        annotations: [(String, String)], _ rest: [(String, YAMLValue?)]
    ) -> KubeObject {
        let metadata = YAMLValue.compact([
            ("name", .string(name)), ("namespace", .string(org.namespace)),
            ("labels", chaincodeLabels(instance: name, component: component, org: org, chaincode: chaincode)),
            ("annotations", annotations.isEmpty ? nil : .mapping(annotations.map { YAMLPair(key: $0.0, value: .string($0.1)) })),
        ])
        let body = YAMLValue.compact(
            [("apiVersion", .string(apiVersion)), ("kind", .string(kind)), ("metadata", metadata)] + rest)
        return KubeObject(apiVersion: apiVersion, kind: kind, name: name, namespace: org.namespace, body: body)
    }

    /// A Job with the fabric-tools image, the org admin's identity and the public certificates under their cryptogen
    /// paths (`mountCryptoTree`: only this org's admin Secret), a scratch emptyDir, and the package's parts when given.
    /// Transient Jobs (state query, invoke, query) are removed by the coordinator once read, and by Kubernetes after
    /// ten minutes should the coordinator not get to it.
    func chaincodeJob(
        _ name: String, org: Organization, component: String, chaincode: String?, script: String,
        env: [YAMLValue], packageParts package: ChaincodePackageInfo?, backoffLimit: Int, transient: Bool
    ) -> KubeObject {
        var volumes = PodVolumes()
        var mounts = [mountCryptoTree(org: org, identities: [(CryptoLayout.admin(org), Names.adminIdentity)], volumes: &volumes)]
        if let package {
            let sources: [YAMLValue] = (0..<package.partCount).map { index in
                let key = ChaincodeNames.partKey(index)
                return [
                    "configMap": [
                        "name": .string(ChaincodeNames.packagePart(package, index: index)),
                        "items": [["key": .string(key), "path": .string(key)]],
                    ]
                ]
            }
            volumes.add(["name": "package", "projected": ["defaultMode": .int(0o444), "sources": .list(sources)]])
            mounts.append(["name": "package", "mountPath": .string(ChaincodeNames.packageDirectory), "readOnly": true])
        }
        volumes.add(["name": "work", "emptyDir": [:]])
        mounts.append(["name": "work", "mountPath": .string(ChaincodeNames.workDirectory)])
        let podLabels = chaincodeLabels(instance: name, component: component, org: org, chaincode: chaincode)
        let container: YAMLValue = [
            "name": "chaincode",
            "image": .string(topology.fabric.images.tools),
            "command": ["/bin/sh", "-c"],
            "args": [.string(script)],
            "env": .list(env),
            "volumeMounts": .list(mounts),
        ]
        let spec = YAMLValue.compact([
            ("backoffLimit", .int(backoffLimit)),
            ("ttlSecondsAfterFinished", transient ? .int(600) : nil),
            (
                "template",
                [
                    "metadata": ["labels": podLabels],
                    "spec": ["restartPolicy": "Never", "containers": [container], "volumes": .list(volumes.volumes)],
                ]
            ),
        ])
        return chaincodeObject(
            "batch/v1", "Job", name: name, org: org, component: component, chaincode: chaincode, annotations: [],
            [("spec", spec)])
    }
}

extension Array where Element == YAMLPair {
    var yamlMapping: YAMLValue { .mapping(self) }
}
