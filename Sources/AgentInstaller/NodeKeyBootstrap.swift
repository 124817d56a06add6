import AgentProtocol
import Fleet
import Foundation
import PKI

/// Keys never stay where they were not made: after an install that had to issue the agent a certificate
/// (its key made by the coordinator and sent over SSH once), the agent makes a new key itself
/// (`agent.cert.csr`), the CA signs the CSR, the agent installs it (`agent.cert.install`), and the
/// bootstrap certificate is revoked. From then on the agent's key exists only on the node.
enum NodeKeyBootstrap {
    /// Returns the new certificate's serial.
    static func replace(target: InstallTarget, trust: TrustStore, tls: ClientTLS, bootstrapCertificate: Data) async throws(InstallError) -> String {
        func fail(_ reason: String) -> InstallError {
            InstallError(
                node: target.name, ssh: "\(target.ssh)", step: "replacing the bootstrap key with one made on the node",
                reason: reason, hint: "The agent runs with the bootstrap certificate; run `coordinator certs rotate --nodes \(target.name)` to retry."
            )
        }
        let bootstrapSerial: String
        do {
            bootstrapSerial = CertificateFacts(try PEMFile.certificate(fromPEM: String(decoding: bootstrapCertificate, as: UTF8.self))).serial
        } catch {
            throw fail("cannot read the bootstrap certificate: \(error)")
        }
        let inventory = Inventory(
            path: "install", nodes: [Inventory.Node(name: target.name, agent: "\(target.agentHost):\(target.agentPort)")],
            caDir: trust.dir)
        let outcomes = await CertificateRotation(runner: FleetRunner(inventory: inventory, tls: tls, connectAttempts: 2), trust: trust).rotate()
        guard let outcome = outcomes.first else { throw fail("no outcome") }
        switch outcome.result {
        case .failure(let e): throw fail("\(e)")
        case .success(let renewed):
            do { try trust.revoke(serials: [bootstrapSerial]) } catch {
                throw fail("revoking the bootstrap certificate \(bootstrapSerial): \(error)")
            }
            return renewed.serial
        }
    }
}
