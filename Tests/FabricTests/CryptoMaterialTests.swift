import FabricTopology
import Foundation
import XCTest

@testable import MSP

/// Checks generated material with openssl, the way an operator (and Fabric) would see it.
final class CryptoMaterialTests: XCTestCase {
    /// The example topology's material, generated once for the read-only tests.
    private static let generated = Result<URL, Error> {
        let dir = try TestSupport.temporaryDirectory("bok-crypto")
        _ = try MSPGenerator(topology: try TestSupport.exampleTopology()).generate(into: dir.path)
        return dir
    }
    private var openssl: String!

    override func setUpWithError() throws {
        openssl = try XCTUnwrap(TestSupport.which("openssl"), "openssl is needed to check certificates")
    }

    private func material() throws -> URL { try Self.generated.get() }

    override class func tearDown() {
        if let dir = try? generated.get() { try? FileManager.default.removeItem(at: dir) }
        super.tearDown()
    }

    private func files(under root: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root.path)!
        var result: [String] = []
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory)
            result.append(isDirectory.boolValue ? path + "/" : path)
        }
        return result.sorted()
    }

    /// The layout written out from cryptogen's source (cmd/cryptogen/main.go, internal/cryptogen/msp/msp.go) with
    /// NodeOUs enabled: every directory and file it creates, independently of `CryptoLayout`.
    private func cryptogenLayout(kind: String, domain: String, nodes: [String], users: [String]) -> [String] {
        let org = "\(kind)Organizations/\(domain)/"
        var paths = [
            org, org + "ca/", org + "ca/ca.\(domain)-cert.pem", org + "ca/priv_sk",
            org + "tlsca/", org + "tlsca/tlsca.\(domain)-cert.pem", org + "tlsca/priv_sk",
            org + "msp/", org + "msp/admincerts/", org + "msp/cacerts/", org + "msp/cacerts/ca.\(domain)-cert.pem",
            org + "msp/tlscacerts/", org + "msp/tlscacerts/tlsca.\(domain)-cert.pem", org + "msp/config.yaml",
            org + (kind == "peer" ? "peers/" : "orderers/"), org + "users/",
        ]
        func identity(_ dir: String, _ name: String, tlsPrefix: String) {
            let base = org + dir + name + "/"
            paths += [
                base, base + "msp/", base + "msp/admincerts/", base + "msp/cacerts/", base + "msp/cacerts/ca.\(domain)-cert.pem",
                base + "msp/keystore/", base + "msp/keystore/priv_sk", base + "msp/signcerts/",
                base + "msp/signcerts/\(name)-cert.pem", base + "msp/tlscacerts/",
                base + "msp/tlscacerts/tlsca.\(domain)-cert.pem", base + "msp/config.yaml", base + "tls/", base + "tls/ca.crt",
                base + "tls/\(tlsPrefix).crt", base + "tls/\(tlsPrefix).key",
            ]
        }
        for node in nodes { identity(kind == "peer" ? "peers/" : "orderers/", "\(node).\(domain)", tlsPrefix: "server") }
        for user in users { identity("users/", "\(user)@\(domain)", tlsPrefix: "client") }
        identity("users/", "Admin@\(domain)", tlsPrefix: "client")
        return paths
    }

    func testLayoutMatchesCryptogenFileForFile() throws {
        let root = try material()
        var expected = ["ordererOrganizations/", "peerOrganizations/"]
        expected += cryptogenLayout(kind: "orderer", domain: "orgordererorg", nodes: ["orderer0"], users: [])
        expected += cryptogenLayout(kind: "peer", domain: "org1", nodes: ["peer0", "peer1"], users: ["User1"])
        expected += cryptogenLayout(kind: "peer", domain: "org2", nodes: ["peer0", "peer1"], users: ["User1"])
        XCTAssertEqual(files(under: root), expected.sorted())
    }

    func testTheDesignBenchmarkTopologyHasCryptogensFileCount() throws {
        // DESIGN.md §9: cryptogen wrote 2,739 files for 20 peer orgs × (10 peers + 5 users + admin) + 3 orderers.
        let topology = try FabricTopology.parse(yaml: Self.benchmarkYAML)
        let expected = topology.organizations.reduce(0) { total, org in
            total + 7 + 8 * CryptoLayout.identities(org).count
        }
        XCTAssertEqual(expected, 2_739)
    }

    static let benchmarkYAML: String = {
        var yaml = "Tenant: bench\nOrdererOrgs:\n- Name: OrdererOrg\n  Domain: orderer\n  Template:\n    Count: 3\nPeerOrgs:\n"
        for index in 1...20 { yaml += "- Name: Org\(index)\n  Domain: org\(index)\n  Template:\n    Count: 10\n  Users:\n    Count: 5\n" }
        return yaml
    }()

    func testEveryCertificateChainsToItsOrgsCA() throws {
        let root = try material()
        let topology = try TestSupport.exampleTopology()
        for org in topology.organizations {
            let orgDir = root.appendingPathComponent(CryptoLayout.organizationDirectory(org))
            let ca = orgDir.appendingPathComponent("ca/\(org.caName)-cert.pem").path
            let tlsca = orgDir.appendingPathComponent("tlsca/\(org.tlsCAName)-cert.pem").path
            for identity in CryptoLayout.identities(org) {
                let dir = root.appendingPathComponent(identity.directory)
                let sign = dir.appendingPathComponent(identity.signCertificate).path
                let tls = dir.appendingPathComponent(identity.tlsCertificate).path
                assertOpenSSL(["verify", "-CAfile", ca, sign], contains: "OK", identity.name)
                assertOpenSSL(
                    ["verify", "-CAfile", tlsca, "-purpose", identity.tlsPrefix == "server" ? "sslserver" : "sslclient", tls],
                    contains: "OK", identity.name)
                // A TLS certificate must not chain to the signing CA, nor an enrollment certificate to the TLS CA.
                let (status, _) = try TestSupport.run(openssl, ["verify", "-CAfile", ca, tls])
                XCTAssertNotEqual(status, 0, "\(identity.name)'s TLS certificate verified against the signing CA")
                // The MSP's copies of the CA certificates are the CA certificates.
                XCTAssertEqual(
                    try String(contentsOfFile: dir.appendingPathComponent(identity.caCertificate).path, encoding: .utf8),
                    try String(contentsOfFile: ca, encoding: .utf8))
                XCTAssertEqual(
                    try String(contentsOfFile: dir.appendingPathComponent(identity.tlsRootCertificate).path, encoding: .utf8),
                    try String(contentsOfFile: tlsca, encoding: .utf8))
            }
        }
    }

    func testEveryKeyMatchesItsCertificate() throws {
        let root = try material()
        let topology = try TestSupport.exampleTopology()
        for org in topology.organizations {
            var pairs = [
                (CryptoLayout.caCertificate(org), CryptoLayout.caPrivateKey(org)),
                (CryptoLayout.tlsCACertificate(org), CryptoLayout.tlsCAPrivateKey(org)),
            ]
            for identity in CryptoLayout.identities(org) {
                pairs.append(("\(identity.directory)/\(identity.signCertificate)", "\(identity.directory)/\(identity.privateKey)"))
                pairs.append(("\(identity.directory)/\(identity.tlsCertificate)", "\(identity.directory)/\(identity.tlsPrivateKey)"))
            }
            for (certificate, key) in pairs {
                let fromCert = try TestSupport.run(openssl, ["x509", "-in", root.appendingPathComponent(certificate).path, "-noout", "-pubkey"])
                let fromKey = try TestSupport.run(openssl, ["pkey", "-in", root.appendingPathComponent(key).path, "-pubout"])
                XCTAssertEqual(fromCert.status, 0)
                XCTAssertEqual(fromKey.status, 0)
                XCTAssertEqual(fromCert.output, fromKey.output, "\(key) does not belong to \(certificate)")
                let header = try String(contentsOfFile: root.appendingPathComponent(key).path, encoding: .utf8)
                XCTAssertTrue(header.hasPrefix("-----BEGIN PRIVATE KEY-----"), "\(key) is not PKCS#8")
                let mode = try FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(key).path)[.posixPermissions] as? Int
                XCTAssertEqual(mode, 0o600, key)
            }
        }
    }

    func testSubjectsNodeOUsAndSANsAreRight() throws {
        let root = try material()
        let topology = try TestSupport.exampleTopology()
        let org1 = topology.peerOrgs[0]
        func subject(_ path: String) throws -> String {
            try TestSupport.run(
                openssl,
                [
                    "x509", "-in", root.appendingPathComponent(path).path, "-noout", "-subject",
                    "-nameopt", "RFC2253",
                ]
            ).output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func sans(_ path: String) throws -> String {
            try TestSupport.run(openssl, ["x509", "-in", root.appendingPathComponent(path).path, "-noout", "-ext", "subjectAltName"])
                .output
        }
        XCTAssertEqual(try subject(CryptoLayout.caCertificate(org1)), "subject=CN=ca.org1,O=org1,L=San Francisco,ST=California,C=US")
        XCTAssertEqual(try subject(CryptoLayout.tlsCACertificate(org1)), "subject=CN=tlsca.org1,O=org1,L=San Francisco,ST=California,C=US")
        let identities = CryptoLayout.identities(org1)
        XCTAssertEqual(identities.map(\.name), ["peer0.org1", "peer1.org1", "User1@org1", "Admin@org1"])
        XCTAssertEqual(identities.map(\.role), [.peer, .peer, .client, .admin])
        for identity in identities {
            XCTAssertEqual(
                try subject("\(identity.directory)/\(identity.signCertificate)"),
                "subject=CN=\(identity.name),OU=\(identity.role.rawValue),L=San Francisco,ST=California,C=US")
            XCTAssertEqual(
                try subject("\(identity.directory)/\(identity.tlsCertificate)"),
                "subject=CN=\(identity.name),L=San Francisco,ST=California,C=US")
            let mspConfig = try String(contentsOf: root.appendingPathComponent("\(identity.directory)/msp/config.yaml"), encoding: .utf8)
            XCTAssertTrue(
                mspConfig.contains("  PeerOUIdentifier:\n    Certificate: cacerts/ca.org1-cert.pem\n    OrganizationalUnitIdentifier: peer\n"))
        }
        XCTAssertTrue(
            try sans("peerOrganizations/org1/peers/peer0.org1/tls/server.crt").contains(
                "DNS:peer0.org1, DNS:peer0, DNS:peer0.org1-f-1, DNS:peer0.org1-f-1.svc, DNS:peer0.org1-f-1.svc.cluster.local"))
        XCTAssertTrue(
            try sans("ordererOrganizations/orgordererorg/orderers/orderer0.orgordererorg/tls/server.crt").contains(
                "DNS:orderer0.orgordererorg, DNS:orderer0, DNS:orderer0.ordererorg-f-1, DNS:orderer0.ordererorg-f-1.svc"))
        XCTAssertFalse(try sans("peerOrganizations/org1/users/Admin@org1/tls/client.crt").contains("DNS:"))
    }

    func testEverySignatureIsLowSAccordingToOpenSSL() throws {
        let root = try material()
        let certificates = files(under: root).filter { $0.hasSuffix(".pem") || $0.hasSuffix(".crt") }
        XCTAssertEqual(certificates.count, 62)
        let halfOrder = "7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8"
        for path in certificates {
            let full = root.appendingPathComponent(path).path
            // The certificate's last top-level element is the signature BIT STRING.
            let outline = try TestSupport.run(openssl, ["asn1parse", "-in", full]).output
            let bitString = try XCTUnwrap(outline.split(separator: "\n").last { $0.contains("BIT STRING") && $0.contains("d=1") })
            let offset = String(bitString.split(separator: ":")[0]).trimmingCharacters(in: .whitespaces)
            let signature = try TestSupport.run(openssl, ["asn1parse", "-in", full, "-strparse", offset]).output
            let integers = signature.split(separator: "\n").filter { $0.contains("INTEGER") }
            XCTAssertEqual(integers.count, 2, path)
            let s = String(integers[1].split(separator: ":").last!)
            let padded = String(repeating: "0", count: max(0, 64 - s.count)) + s
            XCTAssertLessThanOrEqual(padded, halfOrder, "\(path) has a high-S signature")
        }
    }

    func testRerunKeepsKeysAndForceReplacesThem() throws {
        let dir = try TestSupport.temporaryDirectory("bok-rerun")
        defer { try? FileManager.default.removeItem(at: dir) }
        let topology = try TestSupport.exampleTopology()
        let first = try MSPGenerator(topology: topology).generate(into: dir.path)
        XCTAssertEqual(first.filesWritten, 101)
        let keyPath = dir.appendingPathComponent("peerOrganizations/org1/peers/peer0.org1/msp/keystore/priv_sk").path
        let key = try String(contentsOfFile: keyPath, encoding: .utf8)

        let second = try MSPGenerator(topology: topology).generate(into: dir.path)
        XCTAssertEqual(second.filesWritten, 0)
        XCTAssertEqual(second.keysGenerated, 0)
        XCTAssertEqual(try String(contentsOfFile: keyPath, encoding: .utf8), key)

        let forced = try MSPGenerator(topology: topology).generate(into: dir.path, force: true)
        XCTAssertEqual(forced.keysKept, 0)
        XCTAssertNotEqual(try String(contentsOfFile: keyPath, encoding: .utf8), key)
    }

    func testAGrownTopologyAddsNodesAndReissuesOnlyCertificatesThatNoLongerFit() throws {
        let dir = try TestSupport.temporaryDirectory("bok-grow")
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = try String(contentsOfFile: TestSupport.exampleConfigPath, encoding: .utf8)
        _ = try MSPGenerator(topology: try FabricTopology.parse(yaml: yaml)).generate(into: dir.path)
        let caKeyPath = dir.appendingPathComponent("peerOrganizations/org1/ca/priv_sk").path
        let caKey = try String(contentsOfFile: caKeyPath, encoding: .utf8)

        // A third orderer and a renamed tenant: new identities, new TLS names, same CAs and keys.
        let grown = yaml.replacingOccurrences(of: "Tenant: f-1", with: "Tenant: f-2")
            .replacingOccurrences(of: "    Count: 1                # Raft", with: "    Count: 3                # Raft")
        let report = try MSPGenerator(topology: try FabricTopology.parse(yaml: grown)).generate(into: dir.path)
        XCTAssertEqual(report.keysGenerated, 4)  // orderer1 and orderer2: MSP and TLS keys
        XCTAssertEqual(report.certificatesIssued, 4 + 5)  // their 4 + the TLS certificates of the 5 existing nodes (new service names)
        XCTAssertEqual(try String(contentsOfFile: caKeyPath, encoding: .utf8), caKey)
        let sans = try TestSupport.run(
            openssl,
            [
                "x509", "-in",
                dir.appendingPathComponent(
                    "peerOrganizations/org1/peers/peer0.org1/tls/server.crt"
                ).path, "-noout", "-ext", "subjectAltName",
            ]
        ).output
        XCTAssertTrue(sans.contains("DNS:peer0.org1-f-2"))
    }

    private func assertOpenSSL(
        _ arguments: [String], contains text: String, _ context: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            let result = try TestSupport.run(openssl, arguments)
            XCTAssertEqual(result.status, 0, "\(context): openssl \(arguments.joined(separator: " ")): \(result.output)", file: file, line: line)
            XCTAssertTrue(result.output.contains(text), "\(context): \(result.output)", file: file, line: line)
        } catch {
            XCTFail("\(context): \(error)", file: file, line: line)
        }
    }
}
