#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The protocol version this build speaks, and the range it accepts from the other side.
public enum ProtocolVersion {
    public static let current = 1
    public static let supported: ClosedRange<Int> = 1...1
}

/// The method names of the agent protocol (DESIGN.md §4).
public enum AgentMethod: String, Sendable, CaseIterable {
    case hello = "agent.hello"
    case health = "node.health"
    case dnsGet = "docker.dns.get"
    case dnsPlan = "docker.dns.plan"
    case dnsApply = "docker.dns.apply"
    case dockerRestart = "docker.restart"
    case chaincodeList = "chaincode.list"
    case chaincodeWatch = "chaincode.watch"
    case resolve = "node.resolve"
    case upstreamDNS = "node.upstreamDNS"
    /// Installs a newer CA-signed revocation list (coordinator certificates the agent must refuse).
    case revocations = "agent.revocations"
    /// Certificate rotation, step 1: the node makes a new key (kept on the node) and returns a CSR.
    case certCSR = "agent.cert.csr"
    /// Certificate rotation, step 2: the agent installs the signed certificate for new connections.
    case certInstall = "agent.cert.install"
    /// Every chaincode image on the node, with the containers using it.
    case chaincodeImages = "chaincode.images"
    /// Removes chaincode images no container uses (mutating: serialized like a DNS apply).
    case chaincodePrune = "chaincode.prune"
    /// Read-only facts for `coordinator preflight`: the agent's clock, the container runtime, free space under Docker's root.
    case preflight = "node.preflight"
}

/// Names of pushed notifications (requests without `id`, agent → coordinator).
public enum AgentNotification: String, Sendable {
    case chaincodeEvent = "chaincode.event"
}

// MARK: agent.hello

public struct HelloParams: Codable, Sendable, Equatable {
    /// The protocol versions the caller speaks.
    public var protocolMin: Int
    public var protocolMax: Int
    public var client: String?
    public init(
        protocolMin: Int = ProtocolVersion.supported.lowerBound,
        protocolMax: Int = ProtocolVersion.supported.upperBound, client: String? = nil
    ) {
        self.protocolMin = protocolMin
        self.protocolMax = protocolMax
        self.client = client
    }
}

public struct HelloResult: Codable, Sendable, Equatable {
    /// The protocol version chosen for this connection.
    public var `protocol`: Int
    public var protocolMin: Int
    public var protocolMax: Int
    /// The agent's version.
    public var version: String
    /// The node's name.
    public var node: String
    public var capabilities: [String]
    /// Where this node's Docker takes its DNS settings from: `defaults-file`, `daemon-json` or `none`.
    public var dnsSource: String
    /// A sentence on how that was found out (systemd unit, restart command, …).
    public var dnsSourceDetail: String?
    /// The agent's TLS certificate: serial (lower-case hex) and notAfter (ISO 8601); nil with --insecure.
    public var certSerial: String?
    public var certNotAfter: String?
    /// The number of the revocation list the agent enforces (0: none received).
    public var revocationNumber: Int?
    public init(
        protocol: Int, protocolMin: Int, protocolMax: Int, version: String, node: String,
        capabilities: [String], dnsSource: String, dnsSourceDetail: String? = nil,
        certSerial: String? = nil, certNotAfter: String? = nil, revocationNumber: Int? = nil
    ) {
        self.certSerial = certSerial
        self.certNotAfter = certNotAfter
        self.revocationNumber = revocationNumber
        self.protocol = `protocol`
        self.protocolMin = protocolMin
        self.protocolMax = protocolMax
        self.version = version
        self.node = node
        self.capabilities = capabilities
        self.dnsSource = dnsSource
        self.dnsSourceDetail = dnsSourceDetail
    }
}

// MARK: docker.dns.*

/// DNS settings as they travel on the wire (validated on arrival by the agent).
public struct DNSParams: Codable, Sendable, Equatable {
    public var nameservers: [String]
    public var search: [String]
    public var options: [String]
    public init(nameservers: [String], search: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
    }

    enum CodingKeys: String, CodingKey { case nameservers, search, options }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nameservers = try c.decode([String].self, forKey: .nameservers)
        search = try c.decodeIfPresent([String].self, forKey: .search) ?? []
        options = try c.decodeIfPresent([String].self, forKey: .options) ?? []
    }
}

public struct DNSGetResult: Codable, Sendable, Equatable {
    public var nameservers: [String]
    public var search: [String]
    public var options: [String]
    /// `defaults-file`, `daemon-json` or `none`.
    public var source: String
    /// The file the settings were read from.
    public var path: String?
    /// Settings the running dockerd really carries (from /proc/<pid>/cmdline), when it runs.
    public var running: DNSParams?
    public var warnings: [String]
    public init(
        nameservers: [String], search: [String], options: [String], source: String,
        path: String? = nil, running: DNSParams? = nil, warnings: [String] = []
    ) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
        self.source = source
        self.path = path
        self.running = running
        self.warnings = warnings
    }
}

public struct DNSPlanResult: Codable, Sendable, Equatable {
    public var changed: Bool
    /// Unified diff of the file that would change (empty when nothing changes).
    public var diff: String
    public var path: String?
    public var warnings: [String]
    public init(changed: Bool, diff: String, path: String? = nil, warnings: [String] = []) {
        self.changed = changed
        self.diff = diff
        self.path = path
        self.warnings = warnings
    }
}

public struct StoppedContainer: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var exitCode: Int?
    public init(id: String, name: String, exitCode: Int?) {
        self.id = id
        self.name = name
        self.exitCode = exitCode
    }
}

public struct DNSApplyResult: Codable, Sendable, Equatable {
    public var changed: Bool
    public var restarted: Bool
    public var diff: String
    public var restartSeconds: Double
    /// Containers that were running before the restart and are not running after it.
    public var stoppedContainers: [StoppedContainer]
    public var warnings: [String]
    public init(
        changed: Bool, restarted: Bool, diff: String, restartSeconds: Double,
        stoppedContainers: [StoppedContainer], warnings: [String]
    ) {
        self.changed = changed
        self.restarted = restarted
        self.diff = diff
        self.restartSeconds = restartSeconds
        self.stoppedContainers = stoppedContainers
        self.warnings = warnings
    }
}

/// `data` of an apply error: what went wrong and what was restored.
public struct ApplyFailure: Codable, Sendable, Equatable {
    public var stage: String
    public var reason: String
    public var rolledBack: Bool
    public var restoredFile: String?
    public var dockerRunning: Bool
    public var dockerLog: [String]
    public init(
        stage: String, reason: String, rolledBack: Bool, restoredFile: String?,
        dockerRunning: Bool, dockerLog: [String]
    ) {
        self.stage = stage
        self.reason = reason
        self.rolledBack = rolledBack
        self.restoredFile = restoredFile
        self.dockerRunning = dockerRunning
        self.dockerLog = dockerLog
    }
}

public struct RestartResult: Codable, Sendable, Equatable {
    public var restartSeconds: Double
    public var stoppedContainers: [StoppedContainer]
    public init(restartSeconds: Double, stoppedContainers: [StoppedContainer] = []) {
        self.restartSeconds = restartSeconds
        self.stoppedContainers = stoppedContainers
    }
}

// MARK: chaincode.*

public struct ChaincodeContainerInfo: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var peer: String
    public var chaincode: String
    public var version: String
    public var state: String
    public var exitCode: Int?
    public var image: String
    /// RFC 3339.
    public var createdAt: String
    public var ageSeconds: Double?
    /// The nameservers in the container's own resolv.conf (what it really sees).
    public var nameservers: [String]
    public var search: [String]?
    /// Set when the container predates the node's current DNS settings.
    public var staleDNS: Bool?
    public var note: String?
    public init(
        id: String, name: String, peer: String, chaincode: String, version: String, state: String,
        exitCode: Int?, image: String, createdAt: String, ageSeconds: Double? = nil,
        nameservers: [String], search: [String]? = nil, staleDNS: Bool? = nil, note: String? = nil
    ) {
        self.id = id
        self.name = name
        self.peer = peer
        self.chaincode = chaincode
        self.version = version
        self.state = state
        self.exitCode = exitCode
        self.image = image
        self.createdAt = createdAt
        self.ageSeconds = ageSeconds
        self.nameservers = nameservers
        self.search = search
        self.staleDNS = staleDNS
        self.note = note
    }
}

public struct ChaincodeListResult: Codable, Sendable, Equatable {
    public var containers: [ChaincodeContainerInfo]
    public init(containers: [ChaincodeContainerInfo]) { self.containers = containers }
}

/// Pushed as `chaincode.event` notifications after `chaincode.watch`.
///
/// `action` is Docker's event for a chaincode container: `start`, `die` (with `exitCode`), `oom` or `destroy`.
/// `time` is when Docker saw it (RFC 3339, UTC). `container` is what the agent knows of the container at that time
/// (after `destroy` only the fields the event carries: id, name, image, labels-derived peer/chaincode/version).
public struct ChaincodeEvent: Codable, Sendable, Equatable {
    public var action: String
    public var container: ChaincodeContainerInfo
    /// RFC 3339 time of the Docker event (nil from agents older than the events-based watch).
    public var time: String?
    /// The container's exit code, for `die`.
    public var exitCode: Int?
    public init(action: String, container: ChaincodeContainerInfo, time: String? = nil, exitCode: Int? = nil) {
        self.action = action
        self.container = container
        self.time = time
        self.exitCode = exitCode
    }
}

public struct WatchResult: Codable, Sendable, Equatable {
    public var watching: Bool
    public var intervalSeconds: Double
    /// Where events come from: `docker-events` (Docker's `/events` stream) or `polling` (older agents).
    public var source: String?
    public init(watching: Bool, intervalSeconds: Double, source: String? = nil) {
        self.watching = watching
        self.intervalSeconds = intervalSeconds
        self.source = source
    }
}

// MARK: node.*

public enum CheckStatus: String, Codable, Sendable, Comparable {
    case ok, warn, fail
    private var rank: Int { self == .ok ? 0 : self == .warn ? 1 : 2 }
    public static func < (a: CheckStatus, b: CheckStatus) -> Bool { a.rank < b.rank }
}

public struct HealthCheck: Codable, Sendable, Equatable {
    public var name: String
    public var status: CheckStatus
    public var detail: String
    public init(name: String, status: CheckStatus, detail: String) {
        self.name = name
        self.status = status
        self.detail = detail
    }
}

public struct HealthParams: Codable, Sendable, Equatable {
    /// Desired DNS settings to compare against (optional).
    public var desired: DNSParams?
    /// A name that the cluster DNS must answer (optional).
    public var probeName: String?
    public init(desired: DNSParams? = nil, probeName: String? = nil) {
        self.desired = desired
        self.probeName = probeName
    }
}

public struct HealthResult: Codable, Sendable, Equatable {
    public var status: CheckStatus
    public var node: String
    public var checks: [HealthCheck]
    public init(status: CheckStatus, node: String, checks: [HealthCheck]) {
        self.status = status
        self.node = node
        self.checks = checks
    }
}

public struct ResolveParams: Codable, Sendable, Equatable {
    public var name: String
    /// `A` (default), `AAAA`, `SRV`, `TXT`, `PTR`, `CNAME`.
    public var type: String
    /// Ask this server instead of Docker's configured ones.
    public var server: String?
    public init(name: String, type: String = "A", server: String? = nil) {
        self.name = name
        self.type = type
        self.server = server
    }

    enum CodingKeys: String, CodingKey { case name, type, server }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "A"
        server = try c.decodeIfPresent(String.self, forKey: .server)
    }
}

public struct ResolveResult: Codable, Sendable, Equatable {
    /// The server that answered.
    public var server: String
    public var answers: [String]
    public var rcode: String
    public var tried: [String]
    public init(server: String, answers: [String], rcode: String, tried: [String]) {
        self.server = server
        self.answers = answers
        self.rcode = rcode
        self.tried = tried
    }
}

/// `node.upstreamDNS`: the node's own resolvers (its /etc/resolv.conf), for the coordinator's rollout.
public struct UpstreamDNSResult: Codable, Sendable, Equatable {
    public var nameservers: [String]
    public var search: [String]
    public var path: String
    public init(nameservers: [String], search: [String], path: String) {
        self.nameservers = nameservers
        self.search = search
        self.path = path
    }
}

// MARK: conversions

public enum JSONCoding {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Converts any Codable value to a ``JSONValue``.
    public static func value<T: Encodable>(_ v: T) throws -> JSONValue {
        if let value = v as? JSONValue { return value }
        let data = try encoder().encode(v)
        return try JSONValue.parse(data)
    }

    /// Decodes a typed value out of a ``JSONValue`` (params or result).
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue?) throws -> T {
        if T.self == JSONValue.self, let value = (value ?? .object([:])) as? T { return value }
        let data = Data(try JSONValueWriter.bytes(value ?? .object([:])))
        return try JSONDecoder().decode(T.self, from: data)
    }
}

// MARK: agent.revocations, agent.cert.*

/// A CA-signed revocation list: `list` is base64 of the payload JSON, `signature` base64 DER ECDSA by the CA key.
public struct RevocationParams: Codable, Sendable, Equatable {
    public var list: String
    public var signature: String
    public init(list: String, signature: String) {
        self.list = list
        self.signature = signature
    }
}

public struct RevocationResult: Codable, Sendable, Equatable {
    /// The number of the list now enforced.
    public var number: Int
    public var revokedCount: Int
    /// Open connections closed because their certificate is now revoked.
    public var closedConnections: Int
    public init(number: Int, revokedCount: Int, closedConnections: Int) {
        self.number = number
        self.revokedCount = revokedCount
        self.closedConnections = closedConnections
    }
}

public struct CertCSRParams: Codable, Sendable, Equatable {
    public init() {}
}

public struct CertCSRResult: Codable, Sendable, Equatable {
    /// PEM CERTIFICATE REQUEST for a fresh P-256 key that stays on the node.
    public var csr: String
    public init(csr: String) { self.csr = csr }
}

public struct CertInstallParams: Codable, Sendable, Equatable {
    /// PEM certificate for the key of the last `agent.cert.csr`.
    public var certificate: String
    public init(certificate: String) { self.certificate = certificate }
}

public struct CertInstallResult: Codable, Sendable, Equatable {
    public var serial: String
    public var notAfter: String
    public init(serial: String, notAfter: String) {
        self.serial = serial
        self.notAfter = notAfter
    }
}

// MARK: chaincode.images, chaincode.prune

/// One chaincode image: Fabric's `dev-<peer>-<ccid>-<hash>` images, or any image labelled `org.hyperledger.fabric.chaincode.*`.
public struct ChaincodeImageInfo: Codable, Sendable, Equatable {
    /// `sha256:…`.
    public var id: String
    /// `repo:tag` names (empty for a dangling image).
    public var tags: [String]
    /// Parsed from the name (or the labels): the peer and chaincode it was built for, when known.
    public var peer: String?
    public var chaincode: String?
    /// RFC 3339.
    public var created: String
    public var ageSeconds: Double
    /// Docker's size of the image, shared base layers (fabric-baseos) included.
    public var size: Int
    /// Bytes only this image holds (size minus what it shares with other images): what removing it frees.
    public var uniqueSize: Int
    /// Names of the containers (running or stopped) created from it.
    public var containers: [String]
    public init(
        id: String, tags: [String], peer: String? = nil, chaincode: String? = nil, created: String, ageSeconds: Double,
        size: Int, uniqueSize: Int, containers: [String]
    ) {
        self.id = id
        self.tags = tags
        self.peer = peer
        self.chaincode = chaincode
        self.created = created
        self.ageSeconds = ageSeconds
        self.size = size
        self.uniqueSize = uniqueSize
        self.containers = containers
    }
}

public struct ChaincodeImagesResult: Codable, Sendable, Equatable {
    public var images: [ChaincodeImageInfo]
    public init(images: [ChaincodeImageInfo]) { self.images = images }
}

/// `chaincode.prune`: remove chaincode images that no container uses and that are older than `olderThan` seconds.
public struct ChaincodePruneParams: Codable, Sendable, Equatable {
    /// Minimum age in seconds (default 3600: an image a peer has just built may not have its container yet).
    public var olderThan: Double
    /// Only say what would be removed.
    public var dryRun: Bool
    public init(olderThan: Double = ChaincodePruneParams.defaultOlderThan, dryRun: Bool = false) {
        self.olderThan = olderThan
        self.dryRun = dryRun
    }
    public static let defaultOlderThan: Double = 3600

    enum CodingKeys: String, CodingKey { case olderThan, dryRun }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        olderThan = try c.decodeIfPresent(Double.self, forKey: .olderThan) ?? Self.defaultOlderThan
        dryRun = try c.decodeIfPresent(Bool.self, forKey: .dryRun) ?? false
    }
}

/// A chaincode image prune left in place, and why (in use, too young, also tagged otherwise, Docker refused).
public struct KeptChaincodeImage: Codable, Sendable, Equatable {
    public var image: ChaincodeImageInfo
    public var reason: String
    public init(image: ChaincodeImageInfo, reason: String) {
        self.image = image
        self.reason = reason
    }
}

public struct ChaincodePruneResult: Codable, Sendable, Equatable {
    public var dryRun: Bool
    /// Removed (or, with dryRun, would be removed).
    public var removed: [ChaincodeImageInfo]
    public var kept: [KeptChaincodeImage]
    /// Images Docker refused to remove (e.g. a container was created from it meanwhile), with Docker's reason.
    public var failed: [KeptChaincodeImage]
    /// Sum of the removed images' `uniqueSize` (with dryRun: what would be freed).
    public var bytesFreed: Int
    public init(dryRun: Bool, removed: [ChaincodeImageInfo], kept: [KeptChaincodeImage], failed: [KeptChaincodeImage], bytesFreed: Int) {
        self.dryRun = dryRun
        self.removed = removed
        self.kept = kept
        self.failed = failed
        self.bytesFreed = bytesFreed
    }
}

// MARK: node.preflight

public struct NodePreflightParams: Codable, Sendable, Equatable {
    public init() {}
}

/// Facts the coordinator's preflight judges (it owns the thresholds). Nothing is written on the node.
public struct NodePreflightResult: Codable, Sendable, Equatable {
    public var node: String
    /// The agent's clock (Unix seconds) when the request arrived and when it answered: with the coordinator's
    /// send and receive times they give the clock offset as NTP computes it.
    public var receivedTime: Double
    public var time: Double
    /// The container runtime verdict of `node.health` (`container-runtime`, `docker`).
    public var checks: [HealthCheck]
    /// Where Docker keeps images (`DockerRootDir` from `/info`), and the space there (statvfs; bytes an
    /// unprivileged writer may use, and the file system's size).
    public var dockerRootDir: String?
    public var diskAvailableBytes: Int?
    public var diskTotalBytes: Int?
    public init(
        node: String, receivedTime: Double, time: Double, checks: [HealthCheck], dockerRootDir: String? = nil,
        diskAvailableBytes: Int? = nil, diskTotalBytes: Int? = nil
    ) {
        self.node = node
        self.receivedTime = receivedTime
        self.time = time
        self.checks = checks
        self.dockerRootDir = dockerRootDir
        self.diskAvailableBytes = diskAvailableBytes
        self.diskTotalBytes = diskTotalBytes
    }
}
