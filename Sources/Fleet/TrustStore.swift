import BoKSystem
import Crypto
import Foundation
import PKI
import SwiftASN1
import X509

/// The coordinator's small CA for the agent link (`coordinator ca init`), kept in a 0700 directory:
/// `ca.crt`, `ca.key` (0600), the coordinator's own client certificate `coordinator.crt/.key` (0600),
/// `issued/<serial>.crt` (every certificate the CA issued, for `certs list`) and `revocations.json`
/// (the CA-signed revocation list agents receive).
///
/// Roles (docs/security.md): agent certificates are serverAuth only with SANs node name, addresses and
/// `bok:role:agent`; coordinator certificates are clientAuth only with the URI SAN `bok:role:coordinator`.
public struct TrustStore: Sendable {
    public let dir: String
    public var caCert: String { dir + "/ca.crt" }
    public var caKey: String { dir + "/ca.key" }
    public var coordinatorCert: String { dir + "/coordinator.crt" }
    public var coordinatorKey: String { dir + "/coordinator.key" }
    public var issuedDir: String { dir + "/issued" }
    public var revocationsFile: String { dir + "/revocations.json" }

    public init(dir: String) { self.dir = dir }

    /// `~/.bok/ca`, or `$BOK_HOME/ca`.
    public static var defaultDir: String {
        let home = ProcessInfo.processInfo.environment["BOK_HOME"] ?? (NSHomeDirectory() + "/.bok")
        return home + "/ca"
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: caCert) && FileManager.default.fileExists(atPath: caKey) }

    /// Creates the CA and the coordinator's client certificate. Refuses to overwrite unless `force`.
    public func initialize(commonName: String = "BoK coordinator CA", force: Bool = false, validityDays: Int = 3650) throws(FleetError) {
        if exists && !force {
            throw FleetError("a CA already exists in \(dir); agents trust it, so replacing it would cut them off. Pass --force to replace it anyway")
        }
        do {
            try SecretFile.makePrivateDirectory(dir)
            let ca = try CertificateAuthority.createRoot(commonName: commonName, organization: "BoK", validityDays: validityDays)
            try AtomicFile.write(Data(PEMFile.pem(for: ca.certificate).utf8), to: caCert, defaultMode: 0o644, symlinks: .refuse)
            try SecretFile.write(PEMFile.pem(for: ca.privateKey), to: caKey)
            try? FileManager.default.removeItem(atPath: revocationsFile)
            try issueCoordinatorCertificate(ca: ca, validityDays: min(validityDays, 825))
        } catch let e as FleetError {
            throw e
        } catch {
            throw FleetError("creating the CA in \(dir) failed: \(error)")
        }
    }

    private func issueCoordinatorCertificate(ca: CertificateAuthority, validityDays: Int = 825) throws {
        let key = P256.Signing.PrivateKey()
        let cert = try ca.issue(
            commonName: "bok-coordinator", organizationalUnit: "coordinator",
            sans: ["bok-coordinator", AgentLinkRole.coordinator.uri],
            usage: .client, publicKey: key.publicKey, validityDays: validityDays, notBefore: nil)
        try SecretFile.write(PEMFile.pem(for: key), to: coordinatorKey)
        try AtomicFile.write(Data(PEMFile.pem(for: cert).utf8), to: coordinatorCert, defaultMode: 0o644, symlinks: .refuse)
        try record(cert)
    }

    public func loadCA() throws(FleetError) -> CertificateAuthority {
        guard exists else { throw FleetError("no CA in \(dir); create one with `coordinator ca init`") }
        do {
            let cert = try PEMFile.readCertificate(at: caCert)
            let key = try PEMFile.privateKey(fromPEM: String(contentsOfFile: caKey, encoding: .utf8))
            return try CertificateAuthority(certificate: cert, privateKey: key)
        } catch {
            throw FleetError("cannot load the CA from \(dir): \(error)")
        }
    }

    /// The SANs of an agent certificate: node name, addresses, the agent role.
    static func agentSANs(node: String, addresses: [String]) -> [String] {
        var seen = Set<String>()
        return ([node] + addresses + [AgentLinkRole.agent.uri]).filter { seen.insert($0).inserted }
    }

    /// Issues a certificate for an agent (serverAuth only; SANs: node name, addresses, `bok:role:agent`).
    /// Writes `<out>/agent.crt`, `agent.key` (0600, never through a symlink) and `ca.crt` into a 0700 directory.
    @discardableResult
    public func issueAgent(
        node: String, addresses: [String], outDir: String, validityDays: Int = 825,
        notBefore: Date? = nil
    ) throws(FleetError) -> (cert: String, key: String, ca: String) {
        let ca = try loadCA()
        let out = (cert: outDir + "/agent.crt", key: outDir + "/agent.key", ca: outDir + "/ca.crt")
        do {
            try Self.checkNodeName(node)
            try SecretFile.makePrivateDirectory(outDir)
            let key = P256.Signing.PrivateKey()
            let cert = try ca.issue(
                commonName: node, organizationalUnit: "agent", sans: Self.agentSANs(node: node, addresses: addresses),
                usage: .server, publicKey: key.publicKey, validityDays: validityDays, notBefore: notBefore)
            try SecretFile.write(PEMFile.pem(for: key), to: out.key)
            try AtomicFile.write(Data(PEMFile.pem(for: cert).utf8), to: out.cert, defaultMode: 0o644, symlinks: .refuse)
            try AtomicFile.write(Data(PEMFile.pem(for: ca.certificate).utf8), to: out.ca, defaultMode: 0o644, symlinks: .refuse)
            try record(cert)
        } catch let e as FleetError {
            throw e
        } catch {
            throw FleetError("issuing a certificate for \(node) into \(outDir) failed: \(error)")
        }
        return out
    }

    /// Signs an agent's CSR (the key stays on the node): serverAuth only, SANs node name + addresses + agent role.
    /// The CSR's own subject and extensions are ignored; only its public key (proven by its signature) is used.
    public func signAgentCSR(_ csrPEM: String, node: String, addresses: [String], validityDays: Int = 825) throws(FleetError) -> Certificate {
        let ca = try loadCA()
        do {
            try Self.checkNodeName(node)
            guard csrPEM.utf8.count <= 64 * 1024 else { throw FleetError("the CSR of \(node) is larger than 64 KiB") }
            let csr = try CertificateSigningRequest(pemEncoded: csrPEM)
            guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
                throw FleetError("the CSR of \(node) is not signed by its own key; refusing to sign it")
            }
            guard let key = P256.Signing.PublicKey(csr.publicKey) else {
                throw FleetError("the CSR of \(node) does not carry an ECDSA P-256 key (the only kind BoK issues)")
            }
            let cert = try ca.issue(
                commonName: node, organizationalUnit: "agent", sans: Self.agentSANs(node: node, addresses: addresses),
                usage: .server, publicKey: key, validityDays: validityDays, notBefore: nil)
            try record(cert)
            return cert
        } catch let e as FleetError {
            throw e
        } catch {
            throw FleetError("signing the CSR of \(node) failed: \(error); the node must send a PEM CERTIFICATE REQUEST")
        }
    }

    /// Issues a coordinator-role client certificate (e.g. a second coordinator, CI).
    /// Writes `<out>/<name>.crt` and `<name>.key` (0600) into a 0700 directory.
    public func issueClient(name: String, outDir: String, validityDays: Int = 825, notBefore: Date? = nil) throws(FleetError) -> (
        cert: String, key: String
    ) {
        let ca = try loadCA()
        let out = (cert: outDir + "/\(name).crt", key: outDir + "/\(name).key")
        do {
            try Self.checkNodeName(name)
            try SecretFile.makePrivateDirectory(outDir)
            let key = P256.Signing.PrivateKey()
            let cert = try ca.issue(
                commonName: name, organizationalUnit: "coordinator", sans: [name, AgentLinkRole.coordinator.uri], usage: .client,
                publicKey: key.publicKey, validityDays: validityDays, notBefore: notBefore)
            try SecretFile.write(PEMFile.pem(for: key), to: out.key)
            try AtomicFile.write(Data(PEMFile.pem(for: cert).utf8), to: out.cert, defaultMode: 0o644, symlinks: .refuse)
            try record(cert)
        } catch let e as FleetError {
            throw e
        } catch {
            throw FleetError("issuing a client certificate \(name) into \(outDir) failed: \(error)")
        }
        return out
    }

    static func checkNodeName(_ name: String) throws(FleetError) {
        guard !name.isEmpty, name.utf8.count <= 253, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) else {
            throw FleetError("'\(name)' is not a valid name: use letters, digits, '-', '.', '_' (at most 253)")
        }
    }

    /// The coordinator's TLS material, with the revocation list. A coordinator certificate from before roles
    /// existed (no `bok:role:coordinator`) is re-issued from the CA once, since agents now refuse it.
    public func clientTLS() throws(FleetError) -> ClientTLS {
        if exists, let cert = try? PEMFile.readCertificate(at: coordinatorCert), AgentLinkRole.of(cert) != .coordinator {
            do { try issueCoordinatorCertificate(ca: try loadCA()) } catch {
                throw FleetError("the coordinator certificate in \(dir) has no coordinator role and re-issuing it failed: \(error)")
            }
        }
        let list = try revocationList()
        let signed = try signedRevocationList()
        do {
            return try ClientTLS(
                certFile: coordinatorCert, keyFile: coordinatorKey, caFile: caCert, revokedSerials: Set(list.serials),
                revocations: signed.map { (signed: $0, number: list.number) })
        } catch {
            throw FleetError("cannot load the coordinator's TLS material from \(dir): \(error); run `coordinator ca init`")
        }
    }

    // MARK: issued certificates and revocation

    private func record(_ cert: Certificate) throws {
        try SecretFile.makePrivateDirectory(issuedDir)
        let serial = CertificateFacts(cert).serial
        try AtomicFile.write(Data(PEMFile.pem(for: cert).utf8), to: "\(issuedDir)/\(serial).crt", defaultMode: 0o644, symlinks: .refuse)
    }

    /// One issued certificate, as `coordinator certs list` shows it.
    public struct IssuedCertificate: Sendable, Codable, Equatable {
        public var serial: String
        public var subject: String
        public var name: String
        public var role: String
        /// ISO 8601.
        public var notAfter: String
        public var revoked: Bool
    }

    public func issued() throws(FleetError) -> [IssuedCertificate] {
        let revoked = Set((try revocationList()).serials)
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: issuedDir)) ?? []).filter { $0.hasSuffix(".crt") }.sorted()
        var out: [IssuedCertificate] = []
        for file in files {
            guard let cert = try? PEMFile.readCertificate(at: "\(issuedDir)/\(file)") else { continue }
            let facts = CertificateFacts(cert)
            let role = AgentLinkRole.of(cert)?.rawValue ?? (facts.serverAuth && facts.clientAuth ? "agent (legacy, server+client)" : "none")
            out.append(
                IssuedCertificate(
                    serial: facts.serial, subject: facts.subject, name: facts.commonName ?? "", role: role,
                    notAfter: ISO8601DateFormatter().string(from: facts.notAfter), revoked: revoked.contains(facts.serial)))
        }
        return out.sorted { ($0.name, $0.notAfter) < ($1.name, $1.notAfter) }
    }

    /// The current revocation list (empty when none was written), its signature checked.
    public func revocationList() throws(FleetError) -> RevocationList {
        guard let signed = try signedRevocationList() else { return RevocationList() }
        do { return try RevocationList.verify(signed, caCertificate: try loadCA().certificate) } catch let e as FleetError { throw e } catch {
            throw FleetError("\(revocationsFile): \(error); restore it from a backup or revoke again to re-sign it")
        }
    }

    /// The signed list as agents receive it, nil when nothing was ever revoked.
    public func signedRevocationList() throws(FleetError) -> RevocationList.Signed? {
        guard let data = FileManager.default.contents(atPath: revocationsFile) else { return nil }
        do { return try RevocationList.decodeSigned(data) } catch { throw FleetError("\(revocationsFile): \(error)") }
    }

    /// Adds serials to the list (dropping those of expired certificates), bumps its number and re-signs it.
    /// Returns the serials newly revoked.
    @discardableResult
    public func revoke(serials: [String]) throws(FleetError) -> [String] {
        let ca = try loadCA()
        var list = try revocationList()
        let fresh = serials.filter { !list.serials.contains($0) }
        guard !fresh.isEmpty else { return [] }
        // An expired certificate is refused anyway: its serial leaves the list, which so stays small.
        let now = Date()
        list.serials = list.serials.filter { serial in
            guard let cert = try? PEMFile.readCertificate(at: "\(issuedDir)/\(serial).crt") else { return true }
            return cert.notValidAfter > now
        }
        list.serials += fresh
        list.number += 1
        list.issuedAt = ISO8601DateFormatter().string(from: Date())
        do {
            let signed = try list.signed(by: ca)
            try AtomicFile.write(RevocationList.encodeSigned(signed), to: revocationsFile, defaultMode: 0o644, symlinks: .refuse)
        } catch {
            throw FleetError("writing the revocation list \(revocationsFile) failed: \(error)")
        }
        return fresh
    }

    /// Serials of the valid (unrevoked, unexpired) certificates issued to `name`, with `role`.
    public func serials(name: String, role: AgentLinkRole) throws(FleetError) -> [String] {
        try issued().filter { $0.name == name && $0.role.hasPrefix(role.rawValue) && !$0.revoked }.map(\.serial)
    }
}

/// A coordinator-side error with a sentence a person can act on.
public struct FleetError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
