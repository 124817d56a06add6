import AgentCore
import AgentProtocol
import Crypto
import Fleet
import Foundation
import PKI
import X509
import XCTest

/// "Any node's agent certificate is accepted as a client by every other agent", "the coordinator never checks which
/// agent answers", "nothing can be revoked": each reproduced against in-process agents over real mutual TLS.
final class CertificateRoleTests: XCTestCase {
    var fx: SecurityFixture!

    override func setUp() async throws { fx = try SecurityFixture() }
    override func tearDown() async throws { await fx.tearDown() }

    func testIssuedCertificatesCarryTheirRoles() throws {
        let agent = try fx.trust.issueAgent(node: "node1", addresses: ["198.18.0.21"], outDir: fx.dir + "/n1")
        let facts = CertificateFacts(try PEMFile.readCertificate(at: agent.cert))
        XCTAssertTrue(facts.serverAuth)
        XCTAssertFalse(facts.clientAuth, "an agent certificate must not be usable as a client")
        XCTAssertEqual(facts.dnsNames, ["node1"])
        XCTAssertEqual(facts.ipAddresses, ["198.18.0.21"])
        XCTAssertEqual(facts.uris, ["bok:role:agent"])
        let coordinator = CertificateFacts(try PEMFile.readCertificate(at: fx.trust.coordinatorCert))
        XCTAssertTrue(coordinator.clientAuth)
        XCTAssertFalse(coordinator.serverAuth)
        XCTAssertEqual(coordinator.uris, ["bok:role:coordinator"])
        XCTAssertNil(CoordinatorPolicy.refusal(coordinator, revoked: []))
        XCTAssertNotNil(CoordinatorPolicy.refusal(facts, revoked: []))
        let ci = try fx.trust.issueClient(name: "ci", outDir: fx.dir + "/ci")
        XCTAssertEqual(AgentLinkRole.of(try PEMFile.readCertificate(at: ci.cert)), .coordinator)
    }

    /// Every client certificate but a valid, unrevoked coordinator-role one from the agent's CA is refused, and the
    /// legitimate coordinator keeps being served in between.
    func testOnlyCoordinatorRoleClientsAreServed() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let b = try fx.trust.issueAgent(node: "nodeB", addresses: ["127.0.0.1"], outDir: fx.dir + "/nodeB")
        let other = TrustStore(dir: fx.dir + "/other-ca")
        try other.initialize()
        let otherCA = try other.loadCA()
        let role = AgentLinkRole.coordinator.uri
        let hostile: [(String, ClientTLS)] = [
            ("node B's agent certificate", try ClientTLS(certFile: b.cert, keyFile: b.key, caFile: fx.trust.caCert)),
            ("no extended key usage", try fx.client("noeku", usage: .signing, sans: ["noeku", role])),
            ("clientAuth without the role", try fx.client("norole", usage: .client, sans: ["norole"])),
            ("server-only with the role", try fx.client("serveronly", usage: .server, sans: ["serveronly", role])),
            ("legacy server+client agent certificate", try fx.client("legacy", usage: .serverAndClient, sans: ["legacy"])),
            ("both roles", try fx.client("both", usage: .client, sans: ["both", role, AgentLinkRole.agent.uri])),
            ("role spelled differently", try fx.client("upper", usage: .client, sans: ["upper", "bok:role:Coordinator"])),
            (
                "expired coordinator",
                try fx.client(
                    "expired", usage: .client, sans: ["expired", role], days: 1,
                    notBefore: Date().addingTimeInterval(-10 * 86_400))
            ),
            (
                "not yet valid coordinator",
                try fx.client(
                    "future", usage: .client, sans: ["future", role], days: 30,
                    notBefore: Date().addingTimeInterval(5 * 86_400))
            ),
            ("coordinator role from another CA", try fx.client("foreign", usage: .client, sans: ["foreign", role], issuer: otherCA)),
            ("another CA's coordinator certificate", try other.clientTLS()),
        ]
        for (name, tls) in hostile {
            let before = a.counter.count.withLockedValue { $0 }
            let error = await fx.refusal(node: "nodeA", port: a.port, tls: tls)
            XCTAssertNotNil(error, "\(name) must be refused")
            XCTAssertNotEqual(error?.kind, .remote, "\(name): refused before any method ran: \(String(describing: error))")
            XCTAssertEqual(a.counter.count.withLockedValue { $0 }, before, "\(name): no request may reach the methods")
            let legit = await fx.refusal(node: "nodeA", port: a.port, tls: try fx.coordinatorTLS())
            XCTAssertNil(legit, "the coordinator must still be served after \(name): \(String(describing: legit))")
        }
        // B's key used as a client: the exact attack of the issue (docker.dns.apply) never runs.
        let refusals = fx.logs.matching("refused client")
        XCTAssertFalse(refusals.isEmpty)
        XCTAssertTrue(refusals.contains { $0.contains("subject") && $0.contains("serial") && $0.contains("127.0.0.1") }, "\(refusals)")
    }

    func testARefusalIsLoggedOncePerAddressAndSerial() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let tls = try fx.client("norole", usage: .client, sans: ["norole"])
        for _ in 0..<5 { _ = await fx.refusal(node: "nodeA", port: a.port, tls: tls) }
        XCTAssertEqual(fx.logs.matching("refused client").filter { $0.contains("norole") }.count, 1, "\(fx.logs.matching("refused"))")
    }

    func testTheCoordinatorRefusesAnImpostorAgentBeforeAnyCall() async throws {
        // An agent presenting node3's certificate where the inventory puts node2.
        let impostor = try await fx.startAgent(node: "impostor-node3", certNode: "node3")
        let tls = try fx.coordinatorTLS()
        do {
            _ = try await AgentClient.connect(node: "node2", host: "127.0.0.1", port: impostor.port, tls: tls, timeout: 5)
            XCTFail("the impostor must be refused")
        } catch {
            XCTAssertEqual(error.kind, .identity)
            XCTAssertEqual(error.description, "node2: the agent at 127.0.0.1:\(impostor.port) presented a certificate for node3")
        }
        XCTAssertEqual(impostor.counter.count.withLockedValue { $0 }, 0, "no call may be made to an impostor")
        // Through the fleet (status/dns plan path): the node fails with that sentence, no retry.
        let inventory = Inventory(path: "inv", nodes: [Inventory.Node(name: "node2", agent: "127.0.0.1:\(impostor.port)")], caDir: fx.trust.dir)
        let status = await FleetStatusCollector(runner: FleetRunner(inventory: inventory, tls: try fx.coordinatorTLS()), kubeDNS: nil).collect()
        XCTAssertEqual(status.first?.reachable, false)
        XCTAssertEqual(status.first?.error, "node2: the agent at 127.0.0.1:\(impostor.port) presented a certificate for node3")
    }

    func testTheCoordinatorRefusesACoordinatorCertificateOnTheAgentSide() async throws {
        // A "server" presenting a client (coordinator) certificate is not an agent.
        let facts = CertificateFacts(try PEMFile.readCertificate(at: fx.trust.coordinatorCert))
        XCTAssertThrowsError(try AgentIdentity.check(facts, node: "bok-coordinator", address: "a:1", revoked: []))
    }

    func testARevokedAgentIsRefusedAtOnce() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let served = await fx.refusal(node: "nodeA", port: a.port, tls: try fx.coordinatorTLS())
        XCTAssertNil(served)
        let serial = CertificateFacts(try PEMFile.readCertificate(at: a.files.cert)).serial
        XCTAssertEqual(try fx.trust.serials(name: "nodeA", role: .agent), [serial])
        try fx.trust.revoke(serials: [serial])
        let error = await fx.refusal(node: "nodeA", port: a.port, tls: try fx.coordinatorTLS())
        XCTAssertEqual(error?.kind, .identity)
        XCTAssertTrue(error?.description.contains("revoked") == true, "\(String(describing: error))")
        let listed = try fx.trust.issued()
        XCTAssertTrue(listed.contains { $0.serial == serial && $0.revoked && $0.role == "agent" })
    }

    /// A revoked coordinator certificate keeps working only until any valid coordinator has talked to the agent.
    func testAgentsRefuseARevokedCoordinatorOnceAValidOneDeliveredTheList() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let ci = try fx.trust.issueClient(name: "ci", outDir: fx.dir + "/ci")
        let ciTLS = try ClientTLS(certFile: ci.cert, keyFile: ci.key, caFile: fx.trust.caCert)
        let served = await fx.refusal(node: "nodeA", port: a.port, tls: ciTLS)
        XCTAssertNil(served)
        // A long-lived connection of the soon-revoked client.
        let open = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: ciTLS, timeout: 5)
        try fx.trust.revoke(serials: try fx.trust.serials(name: "ci", role: .coordinator))
        XCTAssertEqual(a.trust.revocationNumber, 0)
        // The main coordinator connects once (as `coordinator health` does): the list goes to the agent.
        let main = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: try fx.coordinatorTLS(), timeout: 5)
        XCTAssertEqual(a.trust.revocationNumber, 1)
        let hello = try await main.hello()
        XCTAssertEqual(hello.revocationNumber, 1)
        XCTAssertEqual(hello.certSerial, CertificateFacts(try PEMFile.readCertificate(at: a.files.cert)).serial)
        XCTAssertNotNil(hello.certNotAfter)
        await main.close()
        let error = await fx.refusal(node: "nodeA", port: a.port, tls: ciTLS)
        XCTAssertNotNil(error, "the revoked coordinator certificate must be refused now")
        do {
            _ = try await open.hello()
            XCTFail("the revoked client's open connection must have been closed")
        } catch {}
        // The list survives an agent restart (stored in the state directory).
        let reloaded = try AgentTrust(certFile: a.files.cert, keyFile: a.files.key, caFile: a.files.ca, stateDir: fx.dir + "/nodeA-state")
        XCTAssertEqual(reloaded.revocationNumber, 1)
    }

    func testRevocationListsThatAreForgedOrOlderAreRefused() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        try fx.trust.revoke(serials: ["0a"])
        try fx.trust.revoke(serials: ["0b"])
        let current = try XCTUnwrap(try fx.trust.signedRevocationList())
        XCTAssertEqual(try a.trust.install(RevocationParams(list: current.list, signature: current.signature)).number, 2)
        let other = TrustStore(dir: fx.dir + "/other-ca")
        try other.initialize()
        let forged = try RevocationList(number: 99, issuedAt: "x", serials: []).signed(by: try other.loadCA())
        let older = try RevocationList(number: 1, issuedAt: "x", serials: []).signed(by: fx.ca)
        var tampered = current
        tampered.list = Data(#"{"issuedAt":"x","number":3,"serials":[]}"#.utf8).base64EncodedString()
        let cases: [(String, RevocationParams)] = [
            ("signed by another CA", RevocationParams(list: forged.list, signature: forged.signature)),
            ("older than the one enforced", RevocationParams(list: older.list, signature: older.signature)),
            ("payload changed after signing", RevocationParams(list: tampered.list, signature: tampered.signature)),
            ("signature not base64", RevocationParams(list: current.list, signature: "!!")),
            ("payload not base64", RevocationParams(list: "%%%", signature: current.signature)),
            ("oversized payload", RevocationParams(list: String(repeating: "A", count: 2 << 20), signature: current.signature)),
        ]
        for (name, params) in cases {
            XCTAssertThrowsError(try a.trust.install(params), name)
            XCTAssertEqual(a.trust.revocationNumber, 2, "\(name) must not change the list")
        }
    }

    /// Keys never leave the node: rotation over the protocol, new connections get the new certificate, an open
    /// connection keeps working, no restart.
    func testRotationOverTheProtocolKeepsOpenConnections() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let oldSerial = CertificateFacts(try PEMFile.readCertificate(at: a.files.cert)).serial
        let keyBefore = try String(contentsOfFile: a.files.key, encoding: .utf8)
        let open = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: try fx.coordinatorTLS(), timeout: 5)
        let inventory = Inventory(path: "inv", nodes: [Inventory.Node(name: "nodeA", agent: "127.0.0.1:\(a.port)")], caDir: fx.trust.dir)
        let outcomes = await CertificateRotation(runner: FleetRunner(inventory: inventory, tls: try fx.coordinatorTLS()), trust: fx.trust).rotate()
        let renewed = try outcomes[0].result.get()
        XCTAssertEqual(renewed.oldSerial, oldSerial)
        XCTAssertNotEqual(renewed.serial, oldSerial)
        XCTAssertNotEqual(try String(contentsOfFile: a.files.key, encoding: .utf8), keyBefore, "a new key on the node")
        var st = stat()
        XCTAssertEqual(stat(a.files.key, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        _ = try await open.hello()  // the open connection still works
        let fresh = try await AgentClient.connect(node: "nodeA", host: "127.0.0.1", port: a.port, tls: try fx.coordinatorTLS(), timeout: 5)
        XCTAssertEqual(fresh.connectHello?.certSerial, renewed.serial, "new connections present the new certificate")
        XCTAssertTrue(try fx.trust.issued().contains { $0.serial == renewed.serial && $0.role == "agent" })
        await fresh.close()
        await open.close()
    }

    func testCertificateInstallRefusesWhatIsNotForThisNodeAndKey() async throws {
        let a = try await fx.startAgent(node: "nodeA")
        let other = TrustStore(dir: fx.dir + "/other-ca")
        try other.initialize()
        XCTAssertThrowsError(try a.trust.installCertificate(CertInstallParams(certificate: "x"), nodeName: "nodeA"), "no pending key")
        let csr = try a.trust.makeCSR(nodeName: "nodeA")
        let rightKey = try CertificateSigningRequest(pemEncoded: csr.csr).publicKey
        let key = try XCTUnwrap(P256.Signing.PublicKey(rightKey))
        func pem(_ c: Certificate) throws -> String { try PEMFile.pem(for: c) }
        let cases: [(String, String)] = [
            ("not PEM", "garbage"),
            (
                "another CA",
                try pem(
                    try other.loadCA().issue(
                        commonName: "nodeA", organizationalUnit: nil, sans: ["nodeA"], usage: .server,
                        publicKey: key, validityDays: 30, notBefore: nil))
            ),
            (
                "another node",
                try pem(
                    try fx.ca.issue(
                        commonName: "nodeB", organizationalUnit: nil, sans: ["nodeB"], usage: .server,
                        publicKey: key, validityDays: 30, notBefore: nil))
            ),
            (
                "another key",
                try pem(
                    try fx.ca.issue(
                        commonName: "nodeA", organizationalUnit: nil, sans: ["nodeA"], usage: .server,
                        publicKey: P256.Signing.PrivateKey().publicKey, validityDays: 30, notBefore: nil))
            ),
            (
                "client usage",
                try pem(
                    try fx.ca.issue(
                        commonName: "nodeA", organizationalUnit: nil, sans: ["nodeA"], usage: .serverAndClient,
                        publicKey: key, validityDays: 30, notBefore: nil))
            ),
            (
                "expired",
                try pem(
                    try fx.ca.issue(
                        commonName: "nodeA", organizationalUnit: nil, sans: ["nodeA"], usage: .server,
                        publicKey: key, validityDays: 1, notBefore: Date().addingTimeInterval(-5 * 86_400)))
            ),
        ]
        let before = try String(contentsOfFile: a.files.cert, encoding: .utf8)
        for (name, certificate) in cases {
            XCTAssertThrowsError(try a.trust.installCertificate(CertInstallParams(certificate: certificate), nodeName: "nodeA"), name)
            XCTAssertEqual(try String(contentsOfFile: a.files.cert, encoding: .utf8), before, "\(name): nothing written")
        }
    }

    func testTheCASignsOnlyWellFormedCSRs() throws {
        XCTAssertThrowsError(try fx.trust.signAgentCSR("not a csr", node: "n1", addresses: []))
        XCTAssertThrowsError(try fx.trust.signAgentCSR(String(repeating: "A", count: 100_000), node: "n1", addresses: []))
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("root") },
            privateKey: Certificate.PrivateKey(key), attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        XCTAssertThrowsError(try fx.trust.signAgentCSR(try csr.serializeAsPEM().pemString, node: "bad name;rm", addresses: []))
        // The CSR's own subject is ignored: the certificate names the node the coordinator says.
        let cert = try fx.trust.signAgentCSR(try csr.serializeAsPEM().pemString, node: "n1", addresses: ["10.0.0.1"])
        let facts = CertificateFacts(cert)
        XCTAssertEqual(facts.commonName, "n1")
        XCTAssertTrue(facts.serverAuth && !facts.clientAuth)
    }

    func testExpiredCertificatesLeaveTheRevocationList() throws {
        let old = try fx.trust.issueClient(name: "old", outDir: fx.dir + "/old", validityDays: 1, notBefore: Date().addingTimeInterval(-3 * 86_400))
        let oldSerial = CertificateFacts(try PEMFile.readCertificate(at: old.cert)).serial
        try fx.trust.revoke(serials: [oldSerial])
        XCTAssertEqual(try fx.trust.revocationList().serials, [oldSerial])
        let current = try fx.trust.serials(name: "bok-coordinator", role: .coordinator)
        try fx.trust.revoke(serials: current)
        XCTAssertEqual(try fx.trust.revocationList().serials, current, "the expired one was pruned, the new one is listed")
        XCTAssertEqual(try fx.trust.revocationList().number, 2)
    }

    func testHealthWarnsThirtyDaysBeforeExpiry() {
        func hello(_ days: Double) -> HelloResult {
            HelloResult(
                protocol: 1, protocolMin: 1, protocolMax: 1, version: "t", node: "n1", capabilities: [], dnsSource: "none",
                certSerial: "0a", certNotAfter: ISO8601DateFormatter().string(from: Date().addingTimeInterval(days * 86_400)))
        }
        XCTAssertEqual(CertificateExpiry.check(hello(10))?.status, .warn)
        XCTAssertEqual(CertificateExpiry.check(hello(-1))?.status, .warn)
        XCTAssertEqual(CertificateExpiry.check(hello(90))?.status, .ok)
        XCTAssertTrue(CertificateExpiry.check(hello(10))?.detail.contains("certs rotate") == true)
    }
}
