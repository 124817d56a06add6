/// Where `cryptogen` puts every file, for a topology: the one place the crypto generator (writing) and the
/// manifest renderer (mounting) agree on paths. All paths are relative to the crypto root directory.
///
/// ```
/// peerOrganizations/org1/
///   ca/ca.org1-cert.pem, ca/priv_sk              tlsca/tlsca.org1-cert.pem, tlsca/priv_sk
///   msp/{admincerts/, cacerts/ca.org1-cert.pem, tlscacerts/tlsca.org1-cert.pem, config.yaml}
///   peers/peer0.org1/{msp,tls}                    users/{Admin@org1,User1@org1}/{msp,tls}
/// ordererOrganizations/orgordererorg/ … orderers/orderer0.orgordererorg/{msp,tls}, users/Admin@orgordererorg
/// ```
public enum CryptoLayout {
    /// The NodeOU role an identity's enrollment certificate carries (`OU=peer` …), as in the MSP's config.yaml.
    public enum Role: String, Sendable, CaseIterable {
        case client
        case peer
        case admin
        case orderer
    }

    /// One identity's directory and the files `cryptogen` writes in it.
    public struct Identity: Sendable, Equatable {
        /// Certificate common name (`peer0.org1`, `Admin@org1`), also the directory name.
        public let name: String
        public let role: Role
        /// `peerOrganizations/org1/peers/peer0.org1`.
        public let directory: String
        /// SANs of the TLS certificate (empty for users, as with cryptogen).
        public let tlsSANs: [String]
        /// The node this identity belongs to, for peers and orderers.
        public let node: FabricNode?
        let caName: String
        let tlsCAName: String

        /// `server` for nodes, `client` for users and admins (cryptogen's TLS file prefix).
        public var tlsPrefix: String { role == .peer || role == .orderer ? "server" : "client" }

        // Paths relative to `directory`.
        public var signCertificate: String { "msp/signcerts/\(name)-cert.pem" }
        public var privateKey: String { "msp/keystore/priv_sk" }
        public var caCertificate: String { "msp/cacerts/\(caName)-cert.pem" }
        public var tlsCACertificate: String { "msp/tlscacerts/\(tlsCAName)-cert.pem" }
        public var mspConfig: String { "msp/config.yaml" }
        public var tlsRootCertificate: String { "tls/ca.crt" }
        public var tlsCertificate: String { "tls/\(tlsPrefix).crt" }
        public var tlsPrivateKey: String { "tls/\(tlsPrefix).key" }

        /// Every file, relative to `directory`, in a fixed order.
        public var files: [String] {
            [
                caCertificate, privateKey, signCertificate, tlsCACertificate, mspConfig, tlsRootCertificate, tlsCertificate,
                tlsPrivateKey,
            ]
        }

        /// Empty directories cryptogen also creates (`admincerts`, unused with NodeOUs).
        public var emptyDirectories: [String] { ["msp/admincerts"] }
    }

    /// `peerOrganizations/org1` or `ordererOrganizations/orgordererorg`.
    public static func organizationDirectory(_ org: Organization) -> String {
        "\(org.kind == .peer ? "peerOrganizations" : "ordererOrganizations")/\(org.domain)"
    }

    public static func caCertificate(_ org: Organization) -> String { "\(organizationDirectory(org))/ca/\(org.caName)-cert.pem" }
    public static func caPrivateKey(_ org: Organization) -> String { "\(organizationDirectory(org))/ca/priv_sk" }
    public static func tlsCACertificate(_ org: Organization) -> String {
        "\(organizationDirectory(org))/tlsca/\(org.tlsCAName)-cert.pem"
    }
    public static func tlsCAPrivateKey(_ org: Organization) -> String { "\(organizationDirectory(org))/tlsca/priv_sk" }

    /// The org's verifying MSP (public: what channel configuration is built from).
    public static func mspDirectory(_ org: Organization) -> String { "\(organizationDirectory(org))/msp" }

    /// The verifying MSP's files, relative to `mspDirectory`.
    public static func mspFiles(_ org: Organization) -> [String] {
        ["cacerts/\(org.caName)-cert.pem", "tlscacerts/\(org.tlsCAName)-cert.pem", "config.yaml"]
    }

    /// The org's identities: nodes, then users, then the admin (cryptogen's order).
    public static func identities(_ org: Organization) -> [Identity] {
        let base = organizationDirectory(org)
        var result: [Identity] = org.nodes.map { node in
            Identity(
                name: node.commonName, role: org.kind == .peer ? .peer : .orderer,
                directory: "\(base)/\(org.kind == .peer ? "peers" : "orderers")/\(node.commonName)",
                tlsSANs: node.tlsSubjectAlternativeNames, node: node, caName: org.caName, tlsCAName: org.tlsCAName)
        }
        let users = org.kind == .peer ? org.userNames : []
        for user in users {
            result.append(
                Identity(
                    name: user, role: .client, directory: "\(base)/users/\(user)", tlsSANs: [], node: nil,
                    caName: org.caName, tlsCAName: org.tlsCAName))
        }
        result.append(admin(org))
        return result
    }

    /// The org admin (`Admin@org1`).
    public static func admin(_ org: Organization) -> Identity {
        Identity(
            name: org.adminName, role: .admin, directory: "\(organizationDirectory(org))/users/\(org.adminName)",
            tlsSANs: [], node: nil, caName: org.caName, tlsCAName: org.tlsCAName)
    }

    /// The identity of one node.
    public static func identity(of node: FabricNode, in org: Organization) -> Identity {
        identities(org).first { $0.node == node }!
    }

    /// The MSP `config.yaml` cryptogen writes with NodeOUs enabled (yaml.v2 layout).
    public static func nodeOUConfig(caCertificate: String) -> String {
        var text = "NodeOUs:\n  Enable: true\n"
        for (key, role) in [
            ("ClientOUIdentifier", Role.client), ("PeerOUIdentifier", .peer), ("AdminOUIdentifier", .admin),
            ("OrdererOUIdentifier", .orderer),
        ] {
            text += "  \(key):\n    Certificate: \(caCertificate)\n    OrganizationalUnitIdentifier: \(role.rawValue)\n"
        }
        return text
    }
}
