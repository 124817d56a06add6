import Crypto
import Foundation
import PKI
import X509

/// The coordinator's small CA for the agent link (`coordinator ca init`), kept in a directory:
/// `ca.crt`, `ca.key` (0600), and the coordinator's own client certificate `coordinator.crt/.key`.
public struct TrustStore: Sendable {
    public let dir: String
    public var caCert: String { dir + "/ca.crt" }
    public var caKey: String { dir + "/ca.key" }
    public var coordinatorCert: String { dir + "/coordinator.crt" }
    public var coordinatorKey: String { dir + "/coordinator.key" }

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
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let ca = try CertificateAuthority.createRoot(commonName: commonName, organization: "BoK", validityDays: validityDays)
            try write(PEMFile.pem(for: ca.certificate), to: caCert, mode: 0o644)
            try write(PEMFile.pem(for: ca.privateKey), to: caKey, mode: 0o600)
            let key = P256.Signing.PrivateKey()
            let cert = try ca.issue(commonName: "bok-coordinator", organizationalUnit: "coordinator", sans: ["bok-coordinator"],
                                    usage: .client, publicKey: key.publicKey, validityDays: min(validityDays, 825), notBefore: nil)
            try write(PEMFile.pem(for: cert), to: coordinatorCert, mode: 0o644)
            try write(PEMFile.pem(for: key), to: coordinatorKey, mode: 0o600)
        } catch let e as FleetError {
            throw e
        } catch {
            throw FleetError("creating the CA in \(dir) failed: \(error)")
        }
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

    /// Issues a certificate for an agent (server + client auth; SANs: node name and addresses).
    /// Writes `<out>/agent.crt`, `agent.key` (0600) and `ca.crt`.
    @discardableResult
    public func issueAgent(node: String, addresses: [String], outDir: String, validityDays: Int = 825,
                           notBefore: Date? = nil) throws(FleetError) -> (cert: String, key: String, ca: String) {
        let ca = try loadCA()
        let out = (cert: outDir + "/agent.crt", key: outDir + "/agent.key", ca: outDir + "/ca.crt")
        do {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            let key = P256.Signing.PrivateKey()
            let cert = try ca.issue(commonName: node, organizationalUnit: "agent", sans: [node] + addresses,
                                    usage: .serverAndClient, publicKey: key.publicKey, validityDays: validityDays, notBefore: notBefore)
            try write(PEMFile.pem(for: cert), to: out.cert, mode: 0o644)
            try write(PEMFile.pem(for: key), to: out.key, mode: 0o600)
            try write(PEMFile.pem(for: ca.certificate), to: out.ca, mode: 0o644)
        } catch {
            throw FleetError("issuing a certificate for \(node) failed: \(error)")
        }
        return out
    }

    /// Issues a client certificate (e.g. a second coordinator, or an expired one for tests).
    public func issueClient(name: String, outDir: String, validityDays: Int = 825, notBefore: Date? = nil) throws(FleetError) -> (cert: String, key: String) {
        let ca = try loadCA()
        let out = (cert: outDir + "/\(name).crt", key: outDir + "/\(name).key")
        do {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            let key = P256.Signing.PrivateKey()
            let cert = try ca.issue(commonName: name, organizationalUnit: "coordinator", sans: [name], usage: .client,
                                    publicKey: key.publicKey, validityDays: validityDays, notBefore: notBefore)
            try write(PEMFile.pem(for: cert), to: out.cert, mode: 0o644)
            try write(PEMFile.pem(for: key), to: out.key, mode: 0o600)
        } catch {
            throw FleetError("issuing a client certificate \(name) failed: \(error)")
        }
        return out
    }

    public func clientTLS() throws(FleetError) -> ClientTLS {
        do { return try ClientTLS(certFile: coordinatorCert, keyFile: coordinatorKey, caFile: caCert) } catch {
            throw FleetError("cannot load the coordinator's TLS material from \(dir): \(error); run `coordinator ca init`")
        }
    }

    private func write(_ text: String, to path: String, mode: Int) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}

/// A coordinator-side error with a sentence a person can act on.
public struct FleetError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
