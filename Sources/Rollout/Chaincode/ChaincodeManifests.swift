import FabricTopology
import Foundation
import KubeManifests

import enum KubeClient.JSON

// This file sees KubeManifests' `KubeObject` only; the chaincode orchestration works with KubeClient's, built from
// the rendered tree's JSON (no YAML text in between).

/// The chaincode objects of one org, rendered as the API's JSON (see `ManifestRenderer+Chaincode`).
struct ChaincodeManifests: Sendable {
    let renderer: ManifestRenderer

    init(topology: FabricTopology) {
        // Chaincode Jobs only refer to the Secrets and ConfigMaps the rollout made: no crypto material needed here.
        renderer = ManifestRenderer(topology: topology)
    }

    func packageConfigMaps(_ package: ChaincodePackageInfo, bytes: Data, org: Organization) -> [JSON] {
        renderer.chaincodePackageConfigMaps(package, bytes: bytes, org: org).map(\.json)
    }

    func install(_ package: ChaincodePackageInfo, org: Organization) -> JSON {
        renderer.chaincodeInstallJob(package, org: org).json
    }

    func state(_ package: ChaincodePackageInfo, chaincode: String, org: Organization) -> JSON {
        renderer.chaincodeStateJob(package, chaincode: chaincode, org: org).json
    }

    func approve(_ package: ChaincodePackageInfo, _ definition: ChaincodeDefinition, org: Organization) -> JSON {
        renderer.chaincodeApproveJob(package, definition: definition, org: org).json
    }

    func commit(_ package: ChaincodePackageInfo, _ definition: ChaincodeDefinition, org: Organization) -> JSON {
        renderer.chaincodeCommitJob(package, definition: definition, org: org).json
    }

    func initialize(_ package: ChaincodePackageInfo, _ definition: ChaincodeDefinition, arguments: String, org: Organization)
        -> JSON
    {
        renderer.chaincodeInitJob(package, definition: definition, arguments: arguments, org: org).json
    }

    func call(
        _ kind: ChaincodeCallKind, chaincode: String, arguments: String, org: Organization, jobName: String,
        peer: FabricNode? = nil
    ) -> JSON {
        renderer.chaincodeCallJob(kind, chaincode: chaincode, arguments: arguments, org: org, jobName: jobName, peer: peer).json
    }
}
