import AgentProtocol
import BoKSystem
import Crypto
import NIOConcurrencyHelpers
import NIOSSL
import PKI
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The agent's side of the trust model: its CA, its own certificate (rotatable over the protocol, the key made
/// here and never sent), and the CA-signed revocation list it enforces (kept in the state directory, so a
/// restart keeps refusing what was revoked).
public final class AgentTrust: Sendable {
    public let certFile: String
    public let keyFile: String
    public let caFile: String
    let caCertificate: Certificate
    let revocationFile: String
    private struct State {
        var revocations = RevocationList()
        var own: CertificateFacts?
        var pendingKey: P256.Signing.PrivateKey?
    }
    private let state = NIOLockedValueBox(State())
    /// Called with a new TLS context after a certificate was installed, and with newly revoked serials.
    private let hooks = NIOLockedValueBox<(context: (@Sendable (NIOSSLContext) -> Void)?, revoked: (@Sendable (Set<String>) -> Int)?)>((nil, nil))

    public init(certFile: String, keyFile: String, caFile: String, stateDir: String) throws(AgentConfigError) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.revocationFile = stateDir + "/revocations.json"
        do { caCertificate = try PEMFile.readCertificate(at: caFile) } catch {
            throw AgentConfigError(source: caFile, key: "tlsCA", reason: "cannot read the CA certificate: \(error)")
        }
        let own = try? PEMFile.readCertificate(at: certFile)
        var list = RevocationList()
        if let data = FileManager.default.contents(atPath: revocationFile) {
            do { list = try RevocationList.verify(try RevocationList.decodeSigned(data), caCertificate: caCertificate) } catch {
                throw AgentConfigError(
                    source: revocationFile, key: "-",
                    reason:
                        "the stored revocation list is invalid (\(error)); remove the file and let a coordinator deliver a new one (coordinator health)"
                )
            }
        }
        state.withLockedValue {
            $0.revocations = list
            $0.own = own.map(CertificateFacts.init)
        }
    }

    public func onNewContext(_ hook: @escaping @Sendable (NIOSSLContext) -> Void) { hooks.withLockedValue { $0.context = hook } }
    public func onRevoked(_ hook: @escaping @Sendable (Set<String>) -> Int) { hooks.withLockedValue { $0.revoked = hook } }

    public var revokedSerials: Set<String> { Set(state.withLockedValue { $0.revocations.serials }) }
    public var revocationNumber: Int { state.withLockedValue { $0.revocations.number } }
    public var ownCertificate: CertificateFacts? { state.withLockedValue { $0.own } }

    /// `agent.revocations`: accepts a list signed by this agent's CA with a number at least the current one.
    public func install(_ params: RevocationParams) throws(RPCError) -> RevocationResult {
        let list: RevocationList
        do {
            list = try RevocationList.verify(RevocationList.Signed(list: params.list, signature: params.signature), caCertificate: caCertificate)
        } catch {
            throw RPCError(.certificateRejected, "revocation list refused: \(error)")
        }
        let current = state.withLockedValue { $0.revocations }
        guard list.number >= current.number else {
            throw RPCError(
                .certificateRejected,
                "revocation list \(list.number) is older than the one this agent enforces (\(current.number)); refusing to go back")
        }
        if list.number == current.number {
            return RevocationResult(number: list.number, revokedCount: list.serials.count, closedConnections: 0)
        }
        do {
            try AtomicFile.write(
                RevocationList.encodeSigned(RevocationList.Signed(list: params.list, signature: params.signature)),
                to: revocationFile, defaultMode: 0o600, symlinks: .refuse)
        } catch {
            throw RPCError(.nodeIOError, "cannot store the revocation list: \(error)")
        }
        state.withLockedValue { $0.revocations = list }
        let closed = hooks.withLockedValue { $0.revoked }?(Set(list.serials)) ?? 0
        return RevocationResult(number: list.number, revokedCount: list.serials.count, closedConnections: closed)
    }

    /// `agent.cert.csr`: a new P-256 key, kept in memory here until `agent.cert.install`, and its CSR.
    public func makeCSR(nodeName: String) throws(RPCError) -> CertCSRResult {
        let key = P256.Signing.PrivateKey()
        do {
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName(nodeName) }, privateKey: Certificate.PrivateKey(key),
                attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
            let pem = try csr.serializeAsPEM().pemString
            state.withLockedValue { $0.pendingKey = key }
            return CertCSRResult(csr: pem)
        } catch {
            throw RPCError(.internalError, "cannot make a CSR: \(error)")
        }
    }

    /// `agent.cert.install`: checks the certificate (this CA, the pending key, an agent certificate for this node),
    /// writes key and certificate (key 0600, never through a link) and switches new connections to them.
    public func installCertificate(_ params: CertInstallParams, nodeName: String) throws(RPCError) -> CertInstallResult {
        guard let key = state.withLockedValue({ $0.pendingKey }) else {
            throw RPCError(.certificateRejected, "no pending key: call agent.cert.csr first (the key is made on the node and never sent)")
        }
        let cert: Certificate
        do { cert = try PEMFile.certificate(fromPEM: params.certificate) } catch {
            throw RPCError(.certificateRejected, "not a PEM certificate: \(error)")
        }
        guard cert.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw RPCError(.certificateRejected, "the certificate is not for the key of the last agent.cert.csr")
        }
        guard cert.issuer == caCertificate.subject, caCertificate.publicKey.isValidSignature(cert.signature, for: cert) else {
            throw RPCError(.certificateRejected, "the certificate is not issued by this agent's CA (\(caCertificate.subject))")
        }
        let facts = CertificateFacts(cert)
        guard facts.serverAuth, !facts.clientAuth, facts.dnsNames.contains(nodeName), facts.notAfter > Date() else {
            throw RPCError(.certificateRejected, "the certificate must be a valid agent certificate (serverAuth only) naming \(nodeName)")
        }
        let certPEM: String
        do { certPEM = try PEMFile.pem(for: cert) } catch { throw RPCError(.internalError, "\(error)") }
        let context: NIOSSLContext
        do {
            var config = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certPEM.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(PEMFile.pem(for: key).utf8), format: .pem)))
            config.trustRoots = .file(caFile)
            config.certificateVerification = .noHostnameVerification
            config.minimumTLSVersion = .tlsv12
            context = try NIOSSLContext(configuration: config)
        } catch {
            throw RPCError(.certificateRejected, "cannot build a TLS context from the new certificate: \(error)")
        }
        do {
            try SecretFile.write(PEMFile.pem(for: key), to: keyFile)
            try AtomicFile.write(Data(certPEM.utf8), to: certFile, defaultMode: 0o644, symlinks: .refuse)
        } catch {
            throw RPCError(.nodeIOError, "cannot write the new certificate and key (\(certFile), \(keyFile)): \(error); the old ones stay in use")
        }
        state.withLockedValue {
            $0.own = facts
            $0.pendingKey = nil
        }
        hooks.withLockedValue { $0.context }?(context)
        return CertInstallResult(serial: facts.serial, notAfter: RFC3339.string(facts.notAfter))
    }
}

/// `agent csr`: the node makes its own key (never leaves it) and prints a CSR for `coordinator certs sign`.
public enum NodeKey {
    /// Creates `keyPath` (0600, in a 0700 directory; refused when anything exists there) and returns the CSR (PEM).
    public static func generate(keyPath: String, nodeName: String) throws -> String {
        var st = stat()
        if lstat(keyPath, &st) == 0 {
            throw AgentConfigError(
                source: keyPath, key: "--key",
                reason: "something already exists there; BoK never overwrites a key it did not just make (remove it first if it is stale)")
        }
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(nodeName) }, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
        let pem = try csr.serializeAsPEM().pemString
        try SecretFile.write(PEMFile.pem(for: key), to: keyPath)
        return pem
    }
}
