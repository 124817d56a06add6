import FabricTopology
import Foundation
import KubeManifests
import XCTest

import struct KubeClient.KubeObject

/// The rollout applies the rendered tree as JSON (no YAML text in between); `coordinator render` writes it as YAML.
/// Both must be the same objects: every rendered object's JSON equals its YAML read back by the Kubernetes client.
final class RenderedJSONTests: XCTestCase {
    func testTheJSONTheRolloutAppliesIsTheObjectTheYAMLFilesHold() throws {
        let topology = try TestSupport.exampleTopology()
        let renderer = ManifestRenderer(topology: topology)
        var objects = try renderer.render()
        // The chaincode objects too: binaryData, multi-line scripts, integers and booleans.
        let info = ChaincodePackageInfo(label: "basic_1.0", sha256: String(repeating: "ab", count: 32), size: 3)
        for org in topology.peerOrgs {
            objects += renderer.chaincodePackageConfigMaps(info, bytes: Data([1, 2, 3]), org: org)
            objects.append(renderer.chaincodeInstallJob(info, org: org))
        }
        XCTAssertGreaterThan(objects.count, 20)
        for object in objects {
            let fromYAML = try KubeObject(yaml: object.yaml)
            let fromTree = try KubeObject(object.json)
            XCTAssertEqual(fromTree, fromYAML, "\(object.kind) \(object.namespace ?? "")/\(object.name)")
        }
    }
}
