import Crypto
import Foundation
import SwiftASN1
import X509
import XCTest

@testable import PKI

final class PKITests: XCTestCase {
    func testNormalizingTurnsHighSIntoLowSAndKeepsItValid() throws {
        let key = P256.Signing.PrivateKey()
        let message = Array("fabric".utf8)
        var sawHigh = false
        for _ in 0..<64 {
            let original = try key.signature(for: SHA256.hash(data: message))
            let s = Array(original.rawRepresentation[32..<64])
            sawHigh = sawHigh || LowS.isHigh(s)
            let normalized = try LowS.normalize(original)
            XCTAssertFalse(LowS.isHigh(Array(normalized.rawRepresentation[32..<64])))
            XCTAssertTrue(key.publicKey.isValidSignature(normalized, for: SHA256.hash(data: message)))
            XCTAssertTrue(try LowS.isLowS(derSignature: Array(normalized.derRepresentation)))
        }
        XCTAssertTrue(sawHigh, "swift-crypto is expected to produce high-S signatures about half the time")
    }

    func testHalfOrderIsTheBoundary() {
        XCTAssertFalse(LowS.isHigh(LowS.halfOrder))
        var above = LowS.halfOrder
        above[31] += 1
        XCTAssertTrue(LowS.isHigh(above))
        XCTAssertEqual(LowS.subtract(LowS.order, LowS.subtract(LowS.order, above)), above)
    }

    func testRootCAIsSelfSignedWithLowS() throws {
        for _ in 0..<16 {
            let ca = try CertificateAuthority.createRoot(commonName: "bok-ca", organization: "BoK", validityDays: 365)
            XCTAssertTrue(ca.hasIssued(ca.certificate))
            let der = try signatureDER(of: ca.certificate)
            XCTAssertTrue(try LowS.isLowS(derSignature: der))
            XCTAssertEqual(try ca.certificate.extensions.basicConstraints, .isCertificateAuthority(maxPathLength: nil))
        }
    }

    func testIssuedCertificateCarriesUsageSANsAndSubject() throws {
        let ca = try CertificateAuthority.createRoot(commonName: "bok-ca", organization: nil, validityDays: 365)
        let key = P256.Signing.PrivateKey()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let certificate = try ca.issue(
            commonName: "agent-1", organizationalUnit: "agents", sans: ["node1", "198.18.0.1", "::1"],
            usage: .serverAndClient, publicKey: key.publicKey, validityDays: 30, notBefore: start)
        XCTAssertTrue(ca.hasIssued(certificate))
        XCTAssertEqual(certificate.notValidBefore, start)
        XCTAssertEqual(certificate.notValidAfter, start.addingTimeInterval(30 * 86_400))
        XCTAssertEqual(certificate.subject.description, "CN=agent-1,OU=agents")
        let sans = try XCTUnwrap(try certificate.extensions.subjectAlternativeNames)
        XCTAssertEqual(
            Array(sans),
            [
                .dnsName("node1"), .ipAddress(ASN1OctetString(contentBytes: [198, 18, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
            ])
        XCTAssertEqual(try certificate.extensions.extendedKeyUsage, try ExtendedKeyUsage([.serverAuth, .clientAuth]))
        XCTAssertEqual(try certificate.extensions.basicConstraints, .notCertificateAuthority)
    }

    func testClientAndServerUsagesDiffer() throws {
        let ca = try CertificateAuthority.createRoot(commonName: "bok-ca", organization: nil, validityDays: 365)
        let key = P256.Signing.PrivateKey().publicKey
        let client = try ca.issue(
            commonName: "c", organizationalUnit: nil, sans: [], usage: .client, publicKey: key,
            validityDays: 1, notBefore: nil)
        let server = try ca.issue(
            commonName: "s", organizationalUnit: nil, sans: ["s"], usage: .server, publicKey: key,
            validityDays: 1, notBefore: nil)
        let signing = try ca.issue(
            commonName: "m", organizationalUnit: nil, sans: [], usage: .signing, publicKey: key,
            validityDays: 1, notBefore: nil)
        XCTAssertEqual(try client.extensions.extendedKeyUsage, try ExtendedKeyUsage([.clientAuth]))
        XCTAssertEqual(try server.extensions.extendedKeyUsage, try ExtendedKeyUsage([.serverAuth]))
        XCTAssertNil(try signing.extensions.extendedKeyUsage)
        XCTAssertEqual(try signing.extensions.keyUsage, KeyUsage(digitalSignature: true))
    }

    func testPEMRoundTripsCertificatesAndPKCS8Keys() throws {
        let ca = try CertificateAuthority.createRoot(commonName: "bok-ca", organization: "BoK", validityDays: 365)
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let certPath = dir.appendingPathComponent("ca.pem").path
        let keyPath = dir.appendingPathComponent("ca.key").path
        try PEMFile.write(ca.certificate, to: certPath)
        try PEMFile.write(ca.privateKey, to: keyPath)
        XCTAssertEqual(try PEMFile.readCertificate(at: certPath), ca.certificate)
        XCTAssertEqual(try PEMFile.readPrivateKey(at: keyPath).rawRepresentation, ca.privateKey.rawRepresentation)
        XCTAssertTrue(PEMFile.pem(for: ca.privateKey).hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        let reloaded = try CertificateAuthority(
            certificate: try PEMFile.readCertificate(at: certPath),
            privateKey: try PEMFile.readPrivateKey(at: keyPath))
        XCTAssertEqual(reloaded.certificate, ca.certificate)
        XCTAssertThrowsError(try CertificateAuthority(certificate: ca.certificate, privateKey: P256.Signing.PrivateKey()))
        XCTAssertThrowsError(try PEMFile.certificate(fromPEM: "garbage"))
    }

    func testBadSANIsRejected() throws {
        let ca = try CertificateAuthority.createRoot(commonName: "bok-ca", organization: nil, validityDays: 365)
        XCTAssertThrowsError(
            try ca.issue(
                commonName: "x", organizationalUnit: nil, sans: ["has space"], usage: .server,
                publicKey: ca.privateKey.publicKey, validityDays: 1, notBefore: nil))
    }

    private func signatureDER(of certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        let root = try DER.parse(serializer.serializedBytes)
        guard case .constructed(let children) = root.content else { throw PKIError.invalidPEM("not a SEQUENCE") }
        let nodes = Array(children)
        let bitString = try ASN1BitString(derEncoded: nodes[2])
        return Array(bitString.bytes)
    }
}

/// `CertificateFacts.hex`: serials as BoK prints and compares them (leading zero bytes dropped, at least one byte).
final class SerialHexTests: XCTestCase {
    func testHexOfSerialsIsUnchanged() {
        XCTAssertEqual(CertificateFacts.hex([0x00, 0x00, 0x0a, 0xff]), "0aff")
        XCTAssertEqual(CertificateFacts.hex([0x00]), "00")
        XCTAssertEqual(CertificateFacts.hex([0x00, 0x01]), "01")
        XCTAssertEqual(CertificateFacts.hex([0xde, 0xad, 0xbe, 0xef]), "deadbeef")
    }
}
