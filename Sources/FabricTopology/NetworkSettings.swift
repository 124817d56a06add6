/// The Fabric release to run and the images for each component.
public struct FabricRelease: Sendable, Equatable {
    /// `major.minor` or `major.minor.patch`, e.g. `2.5` (the default, Fabric's LTS line).
    public let version: String
    public let major: Int
    public let minor: Int
    public var images: ImageSet

    /// The default: Fabric 2.5 LTS with its matching images.
    public static let defaultVersion = "2.5"

    /// Parses a version; nil when it is not `X.Y` or `X.Y.Z`.
    public init?(version: String, images: ImageSet? = nil) {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), let major = Int(parts[0]), let minor = Int(parts[1]),
            parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) })
        else { return nil }
        self.version = version
        self.major = major
        self.minor = minor
        self.images = images ?? ImageSet.defaults(forFabric: version)
    }

    /// Channel participation (`osnadmin`) and orderers without a system channel arrived in 2.3.
    public var isSupported: Bool { major > 2 || (major == 2 && minor >= 3) }
    /// Fabric 3 dropped the system channel and with it the orderer's bootstrap settings.
    public var hasSystemChannelSettings: Bool { major < 3 }
    /// The newest application capability this release understands.
    public var applicationCapability: String {
        if major >= 3 { return "V2_5" }
        return minor >= 5 ? "V2_5" : "V2_0"
    }
}

/// Container images of every component; each can be overridden in `Fabric.Images`.
public struct ImageSet: Sendable, Equatable {
    public var peer: String
    public var orderer: String
    public var ca: String
    public var tools: String
    public var couchDB: String
    public var explorer: String
    public var explorerDB: String

    public init(peer: String, orderer: String, ca: String, tools: String, couchDB: String, explorer: String, explorerDB: String) {
        self.peer = peer
        self.orderer = orderer
        self.ca = ca
        self.tools = tools
        self.couchDB = couchDB
        self.explorer = explorer
        self.explorerDB = explorerDB
    }

    /// Official images for a Fabric version: `hyperledger/fabric-peer:<version>` and so on.
    public static func defaults(forFabric version: String) -> ImageSet {
        ImageSet(
            peer: "hyperledger/fabric-peer:\(version)",
            orderer: "hyperledger/fabric-orderer:\(version)",
            ca: "hyperledger/fabric-ca:1.5",
            tools: "hyperledger/fabric-tools:\(version)",
            couchDB: "couchdb:3.3",
            explorer: "ghcr.io/hyperledger-labs/explorer:2.0.0",
            explorerDB: "ghcr.io/hyperledger-labs/explorer-db:2.0.0"
        )
    }
}

/// Where peers keep world state.
public enum StateDatabase: String, Sendable, Equatable, CaseIterable {
    /// A CouchDB sidecar next to each peer (rich queries; BoK's default).
    case couchDB = "CouchDB"
    /// The embedded LevelDB (no sidecar).
    case levelDB = "LevelDB"
}

/// Where ledgers (and, with NFS, crypto material) live.
public enum StorageSettings: Sendable, Equatable {
    /// A PersistentVolumeClaim per ledger from a StorageClass (nil: the cluster's default class).
    case storageClass(name: String?, size: String)
    /// BoK's original layout: one NFS export holding crypto material and ledgers, one PersistentVolume per org.
    case nfs(server: String, path: String, size: String)

    /// The default: the cluster's default StorageClass, 5Gi per ledger.
    public static let defaultSettings = StorageSettings.storageClass(name: nil, size: "5Gi")

    /// The requested size of each ledger volume.
    public var size: String {
        switch self {
        case .storageClass(_, let size), .nfs(_, _, let size): return size
        }
    }
}

/// Platform-specific details of where Docker lives on the worker nodes.
public enum PlatformProfile: String, Sendable, Equatable, CaseIterable {
    /// Plain Kubernetes: Docker socket under `/var/run`, chaincode containers on Docker's `bridge` network.
    case standard = "default"
    /// VMware PKS: socket under `/var/vcap/sys/run/docker`, chaincode containers on the host network.
    case pks = "PKS"

    /// The node directory holding `docker.sock`, mounted into peers at `/host/var/run`.
    public var dockerSocketDirectory: String {
        switch self {
        case .standard: return "/var/run"
        case .pks: return "/var/vcap/sys/run/docker"
        }
    }

    /// `CORE_VM_DOCKER_HOSTCONFIG_NETWORKMODE` for chaincode containers.
    public var chaincodeNetworkMode: String {
        switch self {
        case .standard: return "bridge"
        case .pks: return "host"
        }
    }
}

/// Hyperledger Explorer, BoK's monitoring UI.
public struct ExplorerSettings: Sendable, Equatable {
    public var enabled: Bool

    public init(enabled: Bool = true) { self.enabled = enabled }
}

/// NodePorts for the Services reachable from outside the cluster; nil means ClusterIP only.
public struct NodePortSettings: Sendable, Equatable {
    /// The explorer's NodePort (BoK used 32767).
    public var explorer: Int?
    /// First CA NodePort; the CA of the k-th org (peer orgs first, then orderer orgs) gets `ca + 100·k` (BoK: 30000, 30100).
    public var caBase: Int?
    /// First orderer NodePort; the n-th orderer gets `orderer + n` (BoK: 32700).
    public var ordererBase: Int?

    public init(explorer: Int? = nil, caBase: Int? = nil, ordererBase: Int? = nil) {
        self.explorer = explorer
        self.caBase = caBase
        self.ordererBase = ordererBase
    }

    /// The range Kubernetes allocates NodePorts from by default.
    public static let validRange = 30000...32767
}
