import AgentProtocol
import DockerEngine
import Foundation
import XCTest

@testable import AgentCore

/// Which images `chaincode.prune` considers and which it removes: pure decisions, no Docker.
final class ChaincodeImageUnitTests: XCTestCase {
    let hash1 = String(repeating: "ab", count: 32)
    let hash2 = String(repeating: "cd", count: 32)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func image(_ tags: [String], id: String, age: Double, size: Int = 1000, labels: [String: String] = [:]) -> DockerImage {
        DockerImage(id: id, repoTags: tags, created: now.addingTimeInterval(-age), size: size, labels: labels)
    }

    func testFabricImageNamesAreRecognisedWithTheirPeerAndChaincode() {
        // Fabric 2.x: dev-<peer>-<label>-<package hash>-<sha256 of that name>, lower-cased.
        let name = "dev-peer0.org1-f-1-simple_1.0-\(hash1)-\(hash2):latest"
        let r = ChaincodeImages.recognise(image([name], id: "sha256:1", age: 0), networkID: "dev")
        XCTAssertEqual(r?.peer, "peer0.org1-f-1")
        XCTAssertEqual(r?.chaincode, "simple")
        XCTAssertEqual(r?.otherTags, [])
        // Fabric 1.x: dev-<peer>-<name>-<version>-<hash>.
        let v1 = ChaincodeImages.recognise(image(["dev-peer0.org1-mycc-1.0-\(hash2):latest"], id: "sha256:2", age: 0), networkID: "dev")
        XCTAssertEqual(v1?.peer, "peer0.org1")
        XCTAssertEqual(v1?.chaincode, "mycc")
        // Another network id is another prefix.
        XCTAssertNil(ChaincodeImages.recognise(image([name], id: "sha256:3", age: 0), networkID: "prod"))
    }

    func testFabricsOwnImagesAndOtherImagesAreNotChaincode() {
        for tags in [
            ["hyperledger/fabric-ccenv:2.5"], ["hyperledger/fabric-baseos:2.5"], ["hyperledger/fabric-peer:2.5"], ["bok/chaincode:lab"],
            ["dev-tools:1"], ["devpeer0-x-y:1"], ["registry.example:5000/dev-peer0.org1-mycc-1.0:1"], [],
        ] {
            // baseos carries org.hyperledger.fabric.version: that label alone does not make a chaincode image.
            XCTAssertNil(
                ChaincodeImages.recognise(image(tags, id: "sha256:x", age: 0, labels: ["org.hyperledger.fabric.version": "2.5"]), networkID: "dev"),
                "\(tags)")
        }
    }

    func testAChaincodeLabelMakesAnyImageAChaincodeImage() {
        let r = ChaincodeImages.recognise(
            image([], id: "sha256:d", age: 0, labels: ["org.hyperledger.fabric.chaincode.type": "GOLANG"]), networkID: "dev")
        XCTAssertNotNil(r)
        XCTAssertNil(r?.peer)
    }

    func testPruneRemovesOnlyUnusedOldImagesWithNoOtherName() {
        let cc = "dev-peer0.org1-f-1-cc"
        let images = [
            image(["\(cc)_1-\(hash1):latest"], id: "sha256:used", age: 90_000, size: 5000),
            image(["\(cc)_2-\(hash1):latest"], id: "sha256:stopped", age: 90_000),
            image(["\(cc)_3-\(hash1):latest"], id: "sha256:old", age: 90_000, size: 7000),
            image(["\(cc)_4-\(hash1):latest"], id: "sha256:young", age: 60),
            image(["\(cc)_5-\(hash1):latest", "mine/keep:1"], id: "sha256:tagged", age: 90_000),
            image(["hyperledger/fabric-baseos:2.5"], id: "sha256:baseos", age: 90_000),
        ]
        let containers = [
            DockerContainerImage(id: "c1", name: "dev-peer0.org1-f-1-cc_1-x", imageID: "sha256:used", state: "running"),
            DockerContainerImage(id: "c2", name: "dev-peer0.org1-f-1-cc_2-x", imageID: "sha256:stopped", state: "exited"),
        ]
        let inventory = ChaincodeImages.inventory(
            images: images, containers: containers, sharedSizes: ["sha256:old": 2000, "sha256:used": 9999], networkID: "dev", now: now)
        XCTAssertEqual(inventory.map(\.info.id).sorted(), ["sha256:old", "sha256:stopped", "sha256:tagged", "sha256:used", "sha256:young"])
        XCTAssertEqual(inventory.first { $0.info.id == "sha256:used" }?.info.containers, ["dev-peer0.org1-f-1-cc_1-x"])
        XCTAssertEqual(inventory.first { $0.info.id == "sha256:used" }?.info.uniqueSize, 0, "shared size is capped at the size")
        XCTAssertEqual(inventory.first { $0.info.id == "sha256:old" }?.info.uniqueSize, 5000)

        let (remove, keep) = ChaincodeImages.decide(inventory, olderThan: 3600)
        XCTAssertEqual(remove.map(\.id), ["sha256:old"])
        let reasons = Dictionary(uniqueKeysWithValues: keep.map { ($0.image.id, $0.reason) })
        XCTAssertTrue(reasons["sha256:used"]?.hasPrefix("in use by") == true)
        XCTAssertTrue(reasons["sha256:stopped"]?.hasPrefix("in use by") == true, "a stopped container keeps its image")
        XCTAssertTrue(reasons["sha256:young"]?.contains("younger than 3600") == true)
        XCTAssertTrue(reasons["sha256:tagged"]?.contains("mine/keep:1") == true)

        XCTAssertEqual(Set(ChaincodeImages.decide(inventory, olderThan: 0).remove.map(\.id)), ["sha256:old", "sha256:young"])
        XCTAssertEqual(ChaincodeImages.decide(inventory, olderThan: 1_000_000).remove, [])
    }

    func testPruneParamsDefaultToAnHourAndNoDryRun() throws {
        let p = try JSONCoding.decode(ChaincodePruneParams.self, from: .object([:]))
        XCTAssertEqual(p, ChaincodePruneParams(olderThan: 3600, dryRun: false))
        let q = try JSONCoding.decode(ChaincodePruneParams.self, from: .object(["olderThan": .number(0), "dryRun": .bool(true)]))
        XCTAssertEqual(q, ChaincodePruneParams(olderThan: 0, dryRun: true))
    }
}

extension ChaincodeImageUnitTests {
    func testAOneHashNameWithANameVersionLabelReadsAsFabric2() {
        let r = ChaincodeImages.parseImageName("dev-peer0.org1-f-1-cc_1-\(hash1)", networkID: "dev")
        XCTAssertEqual(r?.peer, "peer0.org1-f-1")
        XCTAssertEqual(r?.chaincode, "cc")
    }
}
