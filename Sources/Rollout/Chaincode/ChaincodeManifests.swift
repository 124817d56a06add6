import FabricTopology
import Foundation
import KubeManifests

// This file sees KubeManifests' `KubeObject` only; the chaincode orchestration works with KubeClient's, from YAML.

/// The chaincode objects of one org, rendered as YAML (see `ManifestRenderer+Chaincode`).
struct ChaincodeManifests: Sendable {
    let renderer: ManifestRenderer

    init(topology: FabricTopology) {
        // Chaincode Jobs only refer to the Secrets and ConfigMaps the rollout made: no crypto material needed here.
        renderer = ManifestRenderer(topology: topology)
    }

    func packageConfigMaps(_ package: ChaincodePackageInfo, bytes: Data, org: Organization) -> [String] {
        renderer.chaincodePackageConfigMaps(package, bytes: bytes, org: org).map(\.yaml)
    }

    func install(_ package: ChaincodePackageInfo, org: Organization) -> String {
        renderer.chaincodeInstallJob(package, org: org).yaml
    }

    func state(_ package: ChaincodePackageInfo, chaincode: String, org: Organization) -> String {
        renderer.chaincodeStateJob(package, chaincode: chaincode, org: org).yaml
    }

    func approve(_ package: ChaincodePackageInfo, _ definition: ChaincodeDefinition, org: Organization) -> String {
        renderer.chaincodeApproveJob(package, definition: definition, org: org).yaml
    }

    func commit(_ package: ChaincodePackageInfo, _ definition: ChaincodeDefinition, org: Organization) -> String {
        renderer.chaincodeCommitJob(package, definition: definition, org: org).yaml
    }

    func initialize(_ package: ChaincodePackageInfo, _ definition: ChaincodeDefinition, arguments: String, org: Organization)
        -> String
    {
        renderer.chaincodeInitJob(package, definition: definition, arguments: arguments, org: org).yaml
    }

    func call(
        _ kind: ChaincodeCallKind, chaincode: String, arguments: String, org: Organization, jobName: String,
        peer: FabricNode? = nil
    ) -> String {
        renderer.chaincodeCallJob(kind, chaincode: chaincode, arguments: arguments, org: org, jobName: jobName, peer: peer).yaml
    }
}
