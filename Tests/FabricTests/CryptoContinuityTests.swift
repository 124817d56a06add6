import Crypto
import FabricTopology
import Foundation
import KubeManifests
import SwiftASN1
import X509
import XCTest

@testable import MSP
@testable import PKI

/// `coordinator crypto status` and `renew`: every identity's expiry, chain and key; renewal with the same keys, by the
/// same CA, all at once or not at all; and the Deployments whose crypto changed are the ones whose pods restart.
final class CryptoContinuityTests: XCTestCase {
    private var dir: URL!
    private var crypto: String { dir.appendingPathComponent("crypto").path }

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory("bok-crypto-continuity")
    }

    override func tearDownWithError() throws {
        if let dir {
            _ = try? TestSupport.run("/usr/bin/chattr", ["-R", "-i", dir.path])
            chmodTree(dir.path)
            try? FileManager.default.removeItem(at: dir)
        }
    }

    private func chmodTree(_ path: String) {
        _ = chmod(path, 0o700)
        for sub in (FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? [] { _ = chmod("\(path)/\(sub)", 0o700) }
    }

    private func generate(validityDays: Int = 3650) throws -> FabricTopology {
        let topology = try TestSupport.exampleTopology()
        _ = try MSPGenerator(topology: topology, validityDays: validityDays).generate(into: crypto)
        return topology
    }

    /// Every file of the tree with its bytes.
    private func snapshot(_ root: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for path in (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? [] {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(root)/\(path)", isDirectory: &isDirectory)
            files[path] = isDirectory.boolValue ? Data("<dir>".utf8) : try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(path)"))
        }
        return files
    }

    private func certificate(_ path: String) throws -> Certificate { try PEMFile.readCertificate(at: "\(crypto)/\(path)") }

    /// The DER ECDSA signature of a certificate (its third element).
    private func signatureDER(of certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        guard case .constructed(let children) = try DER.parse(serializer.serializedBytes).content else { return [] }
        return Array(try ASN1BitString(derEncoded: Array(children)[2]).bytes)
    }

    // MARK: the generator's fast paths

    func testFastKeysAndPEMAreWhatSwiftCryptoAndSwiftASN1Make() throws {
        let ca = try CertificateAuthority.createRoot(commonName: "ca", organization: "o", validityDays: 1)
        var seen = Set<Data>()
        for _ in 0..<64 {
            let key = KeyGeneration.newP256Key()
            XCTAssertTrue(seen.insert(key.rawRepresentation).inserted, "keys differ")
            XCTAssertEqual(PEMFile.pem(for: key), key.pemRepresentation + "\n")
            XCTAssertEqual(try PEMFile.privateKey(fromPEM: PEMFile.pem(for: key)).rawRepresentation, key.rawRepresentation)
            let certificate = try ca.issue(
                commonName: "leaf", organizationalUnit: nil, sans: ["a.example"], usage: .serverAndClient,
                publicKey: key.publicKey, validityDays: 1, notBefore: nil)
            XCTAssertEqual(try PEMFile.pem(for: certificate), try certificate.serializeAsPEM().pemString + "\n")
            let signature = try key.signature(for: Data("x".utf8))
            XCTAssertTrue(key.publicKey.isValidSignature(signature, for: Data("x".utf8)))
        }
        XCTAssertTrue(KeyGeneration.isBelowOrder(LowS.halfOrder))
        XCTAssertFalse(KeyGeneration.isBelowOrder(LowS.order))
    }

    // MARK: status

    func testStatusListsEveryCAAndIdentityWithRoleChainAndKey() throws {
        let topology = try generate()
        let report = try CryptoTree.scan(root: crypto, topology: topology).report(warnDays: 30)
        // Per org: ca + tlsca, and an enrollment and a TLS certificate per identity (orderer org: orderer0 + admin;
        // peer orgs: 2 peers, User1, admin).
        XCTAssertEqual(report.entries.count, 2 + 2 * 2 + 2 * (2 + 2 * 4))
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.expiring, [])
        XCTAssertEqual(Set(report.entries.map(\.role)), ["ca", "tlsca", "peer", "orderer", "admin", "client", "tls-server", "tls-client"])
        XCTAssertTrue(report.entries.allSatisfy { $0.chainsToCA && $0.keyMatches == true }, "\(report.entries.filter { !$0.chainsToCA })")
        let peer = try XCTUnwrap(report.entries.first { $0.path == "peerOrganizations/org1/peers/peer0.org1/tls/server.crt" })
        XCTAssertEqual(peer.role, "tls-server")
        XCTAssertEqual(peer.issuerPath, "peerOrganizations/org1/tlsca/tlsca.org1-cert.pem")
        XCTAssertEqual(peer.keyPath, "peerOrganizations/org1/peers/peer0.org1/tls/server.key")
        XCTAssertTrue((3648...3650).contains(peer.daysLeft), "\(peer.daysLeft)")
        let admin = try XCTUnwrap(report.entries.first { $0.path == "peerOrganizations/org2/users/Admin@org2/msp/signcerts/Admin@org2-cert.pem" })
        XCTAssertEqual(admin.role, "admin")
        XCTAssertTrue(admin.subject.contains("CN=Admin@org2"), admin.subject)
    }

    func testStatusFindsAKeyThatDoesNotMatchACertificateFromAnotherCAAndAMissingFile() throws {
        let topology = try generate()
        let peerDir = "peerOrganizations/org1/peers/peer1.org1"
        // A key that is not the certificate's.
        try PEMFile.write(P256.Signing.PrivateKey(), to: "\(crypto)/\(peerDir)/tls/server.key")
        // An enrollment certificate signed by a stranger CA with the same subject as the org's CA.
        let original = try certificate("\(peerDir)/msp/signcerts/peer1.org1-cert.pem")
        let orgCA = try certificate("peerOrganizations/org1/ca/ca.org1-cert.pem")
        let stranger = try CertificateAuthority.createRoot(subject: orgCA.subject, privateKey: P256.Signing.PrivateKey(), validityDays: 10)
        let forged = try stranger.issue(
            subject: original.subject, sans: [], usage: .signing,
            publicKey: try XCTUnwrap(P256.Signing.PublicKey(original.publicKey)), validityDays: 10, notBefore: nil)
        try PEMFile.write(forged, to: "\(crypto)/\(peerDir)/msp/signcerts/peer1.org1-cert.pem")
        try FileManager.default.removeItem(atPath: "\(crypto)/peerOrganizations/org2/users/User1@org2/tls/client.crt")

        let report = try CryptoTree.scan(root: crypto, topology: topology).report(warnDays: 30)
        let tls = try XCTUnwrap(report.entries.first { $0.path == "\(peerDir)/tls/server.crt" })
        XCTAssertEqual(tls.keyMatches, false)
        XCTAssertTrue(tls.chainsToCA)
        let enrollment = try XCTUnwrap(report.entries.first { $0.path == "\(peerDir)/msp/signcerts/peer1.org1-cert.pem" })
        XCTAssertFalse(enrollment.chainsToCA)
        XCTAssertEqual(enrollment.keyMatches, true)
        XCTAssertEqual(report.expiring, ["\(peerDir)/msp/signcerts/peer1.org1-cert.pem"])
        XCTAssertTrue(
            report.problems.contains("\(peerDir)/tls/server.key: does not match the public key of \(peerDir)/tls/server.crt"),
            "\(report.problems)")
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("\(peerDir)/msp/signcerts/peer1.org1-cert.pem: does not chain to its CA") })
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("peerOrganizations/org2/users/User1@org2/tls/client.crt: missing") })
        XCTAssertEqual(report.problems.count, 3, "\(report.problems)")
    }

    // MARK: renew

    func testRenewKeepsKeysSubjectsAndExtensionsMovesValidityAndStillChains() throws {
        let topology = try generate(validityDays: 10)
        let before = try CryptoTree.scan(root: crypto, topology: topology)
        XCTAssertEqual(before.report(warnDays: 30).expiring.count, 26)
        let keysBefore = try snapshot(crypto).filter { $0.key.hasSuffix("priv_sk") || $0.key.hasSuffix(".key") }
        XCTAssertEqual(keysBefore.count, 26)

        let report = try CryptoRenewal(selection: .within(days: 30), validityDays: 365, topology: topology).renew(directory: crypto)
        XCTAssertEqual(report.renewed.count, 26)
        XCTAssertEqual(Set(report.renewed.prefix(6).map(\.role)), ["ca", "tlsca"], "CAs first")
        // Every copy of the six CA certificates: org msp (2) + each identity's msp/cacerts, msp/tlscacerts, tls/ca.crt.
        XCTAssertEqual(report.copiesUpdated, 3 * 2 + 10 * 3)
        XCTAssertNil(report.note)

        let after = try CryptoTree.scan(root: crypto, topology: topology)
        XCTAssertEqual(after.problems, [], "every renewed certificate chains to its CA and matches its key")
        XCTAssertEqual(after.report(warnDays: 30).expiring, [])
        let old = Dictionary(uniqueKeysWithValues: before.items.map { ($0.entry.path, $0.certificate) })
        for item in after.items {
            let previous = try XCTUnwrap(old[item.entry.path])
            let path = item.entry.path
            XCTAssertEqual(
                Array(item.certificate.publicKey.subjectPublicKeyInfoBytes), Array(previous.publicKey.subjectPublicKeyInfoBytes),
                "\(path): same public key")
            XCTAssertEqual(item.certificate.subject, previous.subject, path)
            XCTAssertEqual(item.certificate.issuer, previous.issuer, path)
            XCTAssertEqual(item.certificate.extensions, previous.extensions, "\(path): same SANs, key usages and extensions")
            XCTAssertNotEqual(item.certificate.serialNumber, previous.serialNumber, path)
            XCTAssertGreaterThan(item.certificate.notValidAfter.timeIntervalSince(previous.notValidAfter), 300 * 86_400, path)
            XCTAssertTrue(try LowS.isLowS(derSignature: try signatureDER(of: item.certificate)), path)
        }
        // The old certificates still chain to the renewed CAs (same name, same key).
        let renewedCA = try certificate("peerOrganizations/org1/tlsca/tlsca.org1-cert.pem")
        let oldPeerTLS = try XCTUnwrap(old["peerOrganizations/org1/peers/peer0.org1/tls/server.crt"])
        XCTAssertTrue(renewedCA.publicKey.isValidSignature(oldPeerTLS.signature, for: oldPeerTLS))
        // Copies of the CA certificates follow.
        XCTAssertEqual(try certificate("peerOrganizations/org1/peers/peer0.org1/tls/ca.crt"), renewedCA)
        XCTAssertEqual(try certificate("peerOrganizations/org1/users/Admin@org1/msp/tlscacerts/tlsca.org1-cert.pem"), renewedCA)
        // The keys are the same bytes.
        XCTAssertEqual(try snapshot(crypto).filter { keysBefore[$0.key] != nil }, keysBefore)
        // Nothing left beside the tree.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["crypto"])
    }

    func testRenewWithinAWindowTakesOnlyWhatIsDueAndLeavesTheCAs() throws {
        let topology = try generate()
        let path = "ordererOrganizations/orgordererorg/orderers/orderer0.orgordererorg/tls/server.crt"
        let tlsCA = try CertificateAuthority(
            certificate: try certificate("ordererOrganizations/orgordererorg/tlsca/tlsca.orgordererorg-cert.pem"),
            privateKey: try PEMFile.readPrivateKey(at: "\(crypto)/ordererOrganizations/orgordererorg/tlsca/priv_sk"))
        try PEMFile.write(try tlsCA.reissue(try certificate(path), validityDays: 5), to: "\(crypto)/\(path)")
        let before = try snapshot(crypto)

        let nothing = try CryptoRenewal(selection: .within(days: 4), topology: topology).renew(directory: crypto)
        XCTAssertEqual(nothing.renewed, [])
        XCTAssertEqual(try snapshot(crypto), before, "nothing due: nothing written")

        let report = try CryptoRenewal(selection: .within(days: 30), topology: topology).renew(directory: crypto)
        XCTAssertEqual(report.renewed.map(\.path), [path])
        XCTAssertEqual(report.copiesUpdated, 0)
        let changed = try snapshot(crypto).filter { before[$0.key] != $0.value }.map(\.key)
        XCTAssertEqual(changed, [path])

        let all = try CryptoRenewal(selection: .all, topology: topology).renew(directory: crypto)
        XCTAssertEqual(all.renewed.count, 26)
        XCTAssertEqual(try CryptoTree.scan(root: crypto, topology: topology).problems, [])
    }

    func testAFailedRenewalLeavesTheTreeUntouched() throws {
        let topology = try generate(validityDays: 10)
        let before = try snapshot(crypto)
        let renewal = CryptoRenewal(selection: .within(days: 30), topology: topology)

        // Half-way: a file of the tree cannot be linked into the staging copy (immutable; root ignores modes).
        let stuck = "\(crypto)/peerOrganizations/org2/users/User1@org2/msp/config.yaml"
        if getuid() == 0 {
            let chattr = try TestSupport.run("/usr/bin/chattr", ["+i", stuck])
            guard chattr.status == 0 else { throw XCTSkip("chattr +i is not supported here: \(chattr.output)") }
        } else {
            _ = chmod(stuck, 0o000)
            _ = chmod("\(crypto)/peerOrganizations/org2/users/User1@org2/msp", 0o500)
        }
        XCTAssertThrowsError(try renewal.renew(directory: crypto)) { error in
            XCTAssertTrue("\(error)".contains("staging"), "\(error)")
        }
        XCTAssertEqual(try snapshot(crypto), before, "the tree is as it was")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["crypto"], "no staging directory left")
        _ = try? TestSupport.run("/usr/bin/chattr", ["-i", stuck])
        chmodTree(crypto)

        // Before anything: the directory holding the tree is read-only.
        if getuid() == 0 {
            XCTAssertEqual(try TestSupport.run("/usr/bin/chattr", ["+i", dir.path]).status, 0)
        } else {
            _ = chmod(dir.path, 0o500)
        }
        XCTAssertThrowsError(try renewal.renew(directory: crypto)) { error in
            XCTAssertTrue("\(error)".contains("creating the staging directory"), "\(error)")
        }
        _ = try? TestSupport.run("/usr/bin/chattr", ["-i", dir.path])
        _ = chmod(dir.path, 0o700)
        XCTAssertEqual(try snapshot(crypto), before)

        // And then it works.
        XCTAssertEqual(try renewal.renew(directory: crypto).renewed.count, 26)
    }

    func testGenerationWritesIntoAStagingTreeSwappedInAtTheEndAndAFailureKeepsTheOldTree() throws {
        let topology = try generate()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["crypto"], "no staging directory left")
        let before = try snapshot(crypto)
        // A re-run that changes nothing stages nothing: the same directory, not a swapped copy.
        var first = stat()
        var second = stat()
        XCTAssertEqual(stat(crypto, &first), 0)
        XCTAssertEqual(try MSPGenerator(topology: topology).generate(into: crypto).filesWritten, 0)
        XCTAssertEqual(stat(crypto, &second), 0)
        XCTAssertEqual(first.st_ino, second.st_ino)
        // A re-run that must write (a removed identity comes back) but cannot link a file into its staging copy.
        try FileManager.default.removeItem(atPath: "\(crypto)/peerOrganizations/org1/users/User1@org1")
        let reduced = try snapshot(crypto)
        let stuck = "\(crypto)/peerOrganizations/org2/msp/config.yaml"
        guard getuid() == 0, try TestSupport.run("/usr/bin/chattr", ["+i", stuck]).status == 0 else {
            throw XCTSkip("needs root and chattr +i to make a file that cannot be linked")
        }
        XCTAssertThrowsError(try MSPGenerator(topology: topology).generate(into: crypto))
        XCTAssertEqual(try snapshot(crypto), reduced, "the failed run changed nothing")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["crypto"])
        _ = try TestSupport.run("/usr/bin/chattr", ["-i", stuck])
        let report = try MSPGenerator(topology: topology).generate(into: crypto)
        XCTAssertEqual(report.keysGenerated, 2, "User1@org1's two keys")
        XCTAssertEqual(Set(try snapshot(crypto).keys), Set(before.keys))
        XCTAssertEqual(try snapshot(crypto).filter { !$0.key.contains("User1@org1") }, before.filter { !$0.key.contains("User1@org1") })
    }

    // MARK: which pods restart

    func testOnlyTheDeploymentsMountingRenewedMaterialChangeTheirPodTemplate() throws {
        let topology = try generate()
        func digests() throws -> [String: String] {
            let credentials = try ServiceCredentials(topology: topology, cryptoDirectory: crypto)
            let renderer = ManifestRenderer(
                topology: topology, crypto: DirectoryCryptoFiles(root: crypto),
                passwords: { credentials.password(namespace: $0, purpose: $1) })
            var result: [String: String] = [:]
            for object in try renderer.render() where object.kind == "Deployment" {
                let annotation = object.body["spec"]?["template"]?["metadata"]?["annotations"]?[ManifestRenderer.cryptoDigestAnnotation]
                result["\(object.namespace ?? "")/\(object.name)"] = try XCTUnwrap(annotation?.string, object.name)
            }
            return result
        }
        let before = try digests()
        XCTAssertEqual(before.count, 1 + 1 + 1 + 2 * (2 + 1 + 1) + 1, "\(before.keys.sorted())")  // orderer, CAs, clis, peers, explorer
        XCTAssertEqual(try digests(), before, "the same material gives the same digests")

        // One peer's TLS certificate: only that peer restarts.
        let path = "peerOrganizations/org1/peers/peer1.org1/tls/server.crt"
        let tlsCA = try CertificateAuthority(
            certificate: try certificate("peerOrganizations/org1/tlsca/tlsca.org1-cert.pem"),
            privateKey: try PEMFile.readPrivateKey(at: "\(crypto)/peerOrganizations/org1/tlsca/priv_sk"))
        try PEMFile.write(try tlsCA.reissue(try certificate(path), validityDays: 5), to: "\(crypto)/\(path)")
        _ = try CryptoRenewal(selection: .within(days: 30), topology: topology).renew(directory: crypto)
        let afterLeaf = try digests()
        XCTAssertEqual(afterLeaf.filter { before[$0.key] != $0.value }.keys.sorted(), ["org1-f-1/peer1-org1-f-1"])

        // Everything, the CAs included: every identity Secret holds a copy of its CAs, so every Deployment restarts.
        _ = try CryptoRenewal(selection: .all, topology: try TestSupport.exampleTopology()).renew(directory: crypto)
        let afterAll = try digests()
        XCTAssertEqual(afterAll.filter { afterLeaf[$0.key] == $0.value }.keys.sorted(), [], "renewing everything restarts everything")
    }
}
