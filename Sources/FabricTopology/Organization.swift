/// Fixed ports of the Fabric nodes BoK renders; Services, env vars and TLS endpoints all use these.
public enum FabricPorts {
    public static let peer = 7051
    public static let chaincode = 7052
    public static let orderer = 7050
    public static let ordererAdmin = 7053
    public static let operations = 9443
    public static let ca = 7054
    public static let couchDB = 5984
    public static let explorer = 8080
}

/// One organisation of the network, with its nodes named the way `cryptogen` names them.
///
/// `Name: Org1`, `Domain: org1` and tenant `f-1` give namespace `org1-f-1`, MSP ID `Org1MSP`, CA `ca.org1`,
/// nodes `peer0.org1`, `peer1.org1`, users `User1@org1` and the admin `Admin@org1`.
public struct Organization: Sendable, Equatable {
    /// Whether an organisation runs orderers or peers.
    public enum Kind: String, Sendable, Equatable, Codable {
        case orderer
        case peer
    }

    public let kind: Kind
    /// The name as written (`Org1`).
    public let name: String
    /// The cryptogen domain (`org1`): directory names and certificate common names derive from it.
    public let domain: String
    public let mspID: String
    /// The Kubernetes namespace: `<name lower-cased>-<tenant>`.
    public let namespace: String
    /// The orderers or peers, in template order.
    public let nodes: [FabricNode]
    /// Users in addition to the admin (`User1@…` … `UserN@…`).
    public let userCount: Int
    /// Subject fields of the org's CA and the certificates it issues.
    public let subject: SubjectFields

    public init(
        kind: Kind, name: String, domain: String, mspID: String, namespace: String, nodes: [FabricNode], userCount: Int,
        subject: SubjectFields = SubjectFields()
    ) {
        self.kind = kind
        self.name = name
        self.domain = domain
        self.mspID = mspID
        self.namespace = namespace
        self.nodes = nodes
        self.userCount = userCount
        self.subject = subject
    }

    /// The lower-cased name, the first part of the namespace.
    public var shortName: String { name.lowercased() }
    /// Common name of the signing CA, as cryptogen names it.
    public var caName: String { "ca.\(domain)" }
    /// Common name of the TLS CA, as cryptogen names it.
    public var tlsCAName: String { "tlsca.\(domain)" }
    /// The admin's identity name.
    public var adminName: String { "Admin@\(domain)" }
    /// The regular users' identity names, `User1@domain` onwards.
    public var userNames: [String] { userCount > 0 ? (1...userCount).map { "User\($0)@\(domain)" } : [] }
}

/// Subject attributes that cryptogen puts in every certificate of an org (its `CA:` block).
public struct SubjectFields: Sendable, Equatable {
    public var country: String
    public var province: String
    public var locality: String
    public var organizationalUnit: String?

    public init(
        country: String = "US", province: String = "California", locality: String = "San Francisco",
        organizationalUnit: String? = nil
    ) {
        self.country = country
        self.province = province
        self.locality = locality
        self.organizationalUnit = organizationalUnit
    }
}

/// A peer or an orderer: its cryptogen names and the Kubernetes names it is reached by.
public struct FabricNode: Sendable, Equatable {
    public let kind: Organization.Kind
    /// The host name (`peer0`), also the Service name in the org's namespace.
    public let hostname: String
    /// The certificate common name (`peer0.org1`), also the node's directory name in the crypto tree.
    public let commonName: String
    /// The org's namespace (`org1-f-1`).
    public let namespace: String
    /// Extra SANs the user asked for (cryptogen's `SANS`).
    public let extraSANs: [String]

    public init(kind: Organization.Kind, hostname: String, commonName: String, namespace: String, extraSANs: [String] = []) {
        self.kind = kind
        self.hostname = hostname
        self.commonName = commonName
        self.namespace = namespace
        self.extraSANs = extraSANs
    }

    /// `peer0.org1-f-1`: resolvable from pods and, through the agent's Docker DNS settings, from chaincode containers.
    public var serviceHost: String { "\(hostname).\(namespace)" }
    /// `peer0.org1-f-1.svc.cluster.local`.
    public var serviceFQDN: String { "\(hostname).\(namespace).svc.cluster.local" }
    /// The main endpoint (`peer0.org1-f-1:7051`, `orderer0.ordererorg-f-1:7050`).
    public var endpoint: String { "\(serviceHost):\(kind == .peer ? FabricPorts.peer : FabricPorts.orderer)" }

    /// Every name the node's TLS server certificate must carry: cryptogen's implicit two (CN and host name),
    /// the Kubernetes service names, then the user's own.
    public var tlsSubjectAlternativeNames: [String] {
        var names = [commonName, hostname, serviceHost, "\(serviceHost).svc", serviceFQDN]
        for san in extraSANs where !names.contains(san) { names.append(san) }
        return names
    }
}
