import BoKSystem
import FabricTopology
import Foundation
import KubeManifests
import MSP

import enum KubeClient.JSON

#if canImport(Glibc)
    import Glibc
#endif

// This file sees KubeManifests' `KubeObject` only; the rest of the module works with KubeClient's.

/// Which rollout step applies a rendered object.
public enum ObjectPhase: String, Sendable, Codable {
    /// Namespaces, storage, config, Services and Deployments (step 4).
    case main
    /// The channel Jobs (step 6), applied once every Deployment is available.
    case channel
    /// The explorer's objects (step 7), applied once the channel exists.
    case explorer
}

/// One rendered object as the Kubernetes API's JSON (no YAML text in between), with the step that applies it.
public struct RenderedManifest: Sendable {
    public var json: JSON
    public var phase: ObjectPhase
}

/// Crypto material and the rendered network: the inputs of the Kubernetes steps.
public enum NetworkMaterial {
    /// Generates (or completes) the MSP material in `directory`, keeping every existing key.
    public static func generateCrypto(_ topology: FabricTopology, into directory: String) throws -> CryptoReport {
        try MSPGenerator(topology: topology).generate(into: directory)
    }

    /// Every object of the network with its Secrets, rendered from the crypto directory.
    /// `nodeAddresses`: the worker nodes' IP addresses, which the NetworkPolicies let reach the peers' chaincode port.
    public static func render(_ topology: FabricTopology, cryptoDirectory: String, nodeAddresses: [String] = []) throws
        -> [RenderedManifest]
    {
        let credentials = try ServiceCredentials(topology: topology, cryptoDirectory: cryptoDirectory)
        var renderer = ManifestRenderer(
            topology: topology, crypto: DirectoryCryptoFiles(root: cryptoDirectory),
            passwords: { credentials.password(namespace: $0, purpose: $1) })
        renderer.nodeCIDRs = nodeCIDRs(nodeAddresses)
        let explorerNamespace = topology.explorerOrg?.namespace
        return try renderer.render().map { object in
            let phase: ObjectPhase
            if object.kind == "Job" {
                phase = .channel
            } else if let explorerNamespace, object.namespace == explorerNamespace,
                object.labels[BoKLabels.instance] == "explorer"
            {
                phase = .explorer
            } else {
                phase = .main
            }
            return RenderedManifest(json: object.json, phase: phase)
        }
    }

    /// Host addresses as single-address CIDRs (`/32`, `/128`), sorted and unique; names that are not IP literals are
    /// left out (a NetworkPolicy's ipBlock takes addresses only).
    public static func nodeCIDRs(_ addresses: [String]) -> [String] {
        var out = Set<String>()
        for address in addresses {
            switch IPAddressLiteral.parse(address)?.count {
            case 4: out.insert(address + "/32")
            case 16: out.insert(address + "/128")
            default: break
            }
        }
        return out.sorted()
    }

    /// The pod-template annotation with the digest of what a Deployment mounts (see `ManifestRenderer`).
    public static let cryptoDigestAnnotation = ManifestRenderer.cryptoDigestAnnotation

    /// The label that marks what a tenant owns, and its selector.
    public static let tenantLabel = BoKLabels.tenant
    public static func tenantSelector(_ tenant: String) -> String { BoKLabels.tenantSelector(tenant) }
}
