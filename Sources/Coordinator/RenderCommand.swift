import ArgumentParser
import CryptoCLI
import FabricTopology
import Foundation
import KubeManifests
import MSP
import Rollout

/// `coordinator render`: every Kubernetes object of the network as YAML files, for review or GitOps.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Write every Kubernetes object of the Fabric network as YAML.",
        discussion: """
            Writes DIR/<namespace>/<NN>-<kind>-<name>.yaml (cluster-scoped objects under DIR/cluster), so \
            `kubectl apply -R -f DIR` creates namespaces first. The same input always gives the same bytes.
            With --crypto, the Secrets (crypto material; CouchDB, CA and explorer passwords derived from the org CA \
            keys) and the certificate ConfigMaps are rendered too; without it they are left out and listed.
            Exit status: 0 done, 1 failed (e.g. crypto material missing or unwritable), 2 invalid topology or arguments.
            """)

    @OptionGroup var topology: TopologyOptions

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Directory to write the manifests to.", valueName: "DIR"))
    var output: String = "manifests"

    @Option(
        help: ArgumentHelp(
            "Crypto directory written by `coordinator crypto`; adds the Secrets and certificate ConfigMaps.",
            valueName: "DIR"))
    var crypto: String?

    @Option(
        name: .customLong("node-address"),
        help: ArgumentHelp(
            "A worker node's IP address (repeat for each): the NetworkPolicies let only these reach the peers' "
                + "chaincode port 7052. Without any, 7052 is open to every source (`rollout` takes them from the inventory).",
            valueName: "IP"))
    var nodeAddresses: [String] = []

    func validate() throws {
        let cidrs = NetworkMaterial.nodeCIDRs(nodeAddresses)
        if cidrs.count != Set(nodeAddresses).count {
            throw ValidationError(
                "--node-address takes IP addresses; not one: "
                    + nodeAddresses.filter { !cidrs.contains($0 + "/32") && !cidrs.contains($0 + "/128") }.joined(separator: ", "))
        }
    }

    func run() throws {
        let loaded = try topology.load()
        do {
            var renderer = ManifestRenderer(topology: loaded)
            if let crypto {
                let credentials = try ServiceCredentials(topology: loaded, cryptoDirectory: crypto)
                renderer = ManifestRenderer(
                    topology: loaded, crypto: DirectoryCryptoFiles(root: crypto),
                    passwords: { credentials.password(namespace: $0, purpose: $1) })
            }
            renderer.nodeCIDRs = NetworkMaterial.nodeCIDRs(nodeAddresses)
            let report = try renderer.write(to: output)
            print("\(output): \(report.objects) objects written (\(report.bytes) bytes)")
            if !report.omittedSecretObjects.isEmpty {
                print(
                    """
                    \(report.omittedSecretObjects.count) Secrets and certificate ConfigMaps were left out (no --crypto); \
                    `coordinator rollout` creates them, or render again with --crypto DIR.
                    """)
            }
        } catch {
            StandardError.print("error: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}
