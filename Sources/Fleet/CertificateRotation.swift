import AgentProtocol
import Foundation
import PKI
import X509

/// `coordinator certs rotate`: renews agent certificates over the agent protocol. The node makes the new key
/// and a CSR (`agent.cert.csr`, the key never leaves it), the coordinator's CA signs it, the agent installs it
/// (`agent.cert.install`) and uses it for new connections — no SSH, no Docker restart, open connections and
/// their requests untouched.
public struct CertificateRotation: Sendable {
    public let runner: FleetRunner
    public let trust: TrustStore
    public var validityDays: Int

    public init(runner: FleetRunner, trust: TrustStore, validityDays: Int = 825) {
        self.runner = runner
        self.trust = trust
        self.validityDays = validityDays
    }

    public struct Renewed: Sendable, Equatable, Codable {
        public var oldSerial: String?
        public var serial: String
        public var notAfter: String
    }

    public func rotate(_ nodes: [Inventory.Node]? = nil) async -> [NodeOutcome<Renewed>] {
        let trust = self.trust
        let days = validityDays
        return await runner.run(nodes) { client throws(AgentClientError) -> Renewed in
            func failed(_ message: String) -> AgentClientError {
                AgentClientError(
                    kind: .protocolError, node: client.node, address: client.address, method: AgentMethod.certInstall.rawValue,
                    message: message, rpcError: nil)
            }
            let old = client.connectHello?.certSerial
            // Keep the addresses the old certificate named; add the one the inventory uses.
            var addresses: [String] = []
            if let old, let cert = try? PEMFile.readCertificate(at: "\(trust.issuedDir)/\(old).crt") {
                let facts = CertificateFacts(cert)
                addresses = facts.ipAddresses + facts.dnsNames.filter { $0 != client.node }
            }
            if !addresses.contains(client.host) { addresses.append(client.host) }
            let csr = try await client.certCSR()
            let cert: Certificate
            do { cert = try trust.signAgentCSR(csr.csr, node: client.node, addresses: addresses, validityDays: days) } catch {
                throw failed("\(error)")
            }
            let pem: String
            do { pem = try PEMFile.pem(for: cert) } catch { throw failed("cannot encode the certificate: \(error)") }
            let installed = try await client.certInstall(CertInstallParams(certificate: pem))
            return Renewed(oldSerial: old, serial: installed.serial, notAfter: installed.notAfter)
        }
    }
}
