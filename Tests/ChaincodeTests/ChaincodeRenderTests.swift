import BoKSystem
import DockerEngine
import FabricTopology
import Foundation
import KubeManifests
import XCTest

/// What the chaincode renderer makes: names, labels, the package's ConfigMaps, what each Job mounts, valid schemas.
final class ChaincodeRenderTests: XCTestCase {
    var topology: FabricTopology!
    var renderer: ManifestRenderer!

    override func setUpWithError() throws {
        topology = try ChaincodeFixture.topology()
        renderer = ManifestRenderer(topology: topology)
    }

    func info(_ bytes: Data, label: String = "simple_1.0") -> ChaincodePackageInfo {
        ChaincodePackageInfo(label: label, sha256: String(repeating: "a1", count: 32), size: bytes.count)
    }

    func allJobs(_ info: ChaincodePackageInfo) -> [KubeObject] {
        let definition = ChaincodeDefinition(name: "simple", version: "1.0", sequence: 1, initRequired: true)
        return topology.peerOrgs.flatMap { org in
            [
                renderer.chaincodeInstallJob(info, org: org), renderer.chaincodeStateJob(info, chaincode: "simple", org: org),
                renderer.chaincodeApproveJob(info, definition: definition, org: org),
                renderer.chaincodeCommitJob(info, definition: definition, org: org),
                renderer.chaincodeInitJob(
                    info, definition: definition, arguments: #"{"Args":["init","a","100","b","200"]}"#, org: org),
                renderer.chaincodeCallJob(
                    .invoke, chaincode: "simple", arguments: #"{"Args":["invoke","a","b","10"]}"#, org: org,
                    jobName: ChaincodeNames.call(.invoke, chaincode: "simple", unique: "abc")),
                renderer.chaincodeCallJob(
                    .query, chaincode: "simple", arguments: #"{"Args":["query","a"]}"#, org: org,
                    jobName: ChaincodeNames.call(.query, chaincode: "simple", unique: "abc")),
            ]
        }
    }

    func testALargePackageIsSplitIntoConfigMapsThatConcatenateBackToIt() throws {
        let bytes = ChaincodeFixture.bytes(count: 2_621_440)  // 2.5 MiB
        let info = info(bytes)
        let org = topology.peerOrgs[1]
        let configMaps = renderer.chaincodePackageConfigMaps(info, bytes: bytes, org: org)
        XCTAssertEqual(configMaps.count, 4)
        XCTAssertEqual(configMaps.map(\.name), (0..<4).map { "cc-pkg-simple-1-0-a1a1a1a1-\($0)" })
        var joined = Data()
        for (index, configMap) in configMaps.enumerated() {
            XCTAssertEqual(configMap.namespace, "org2-f-1")
            XCTAssertEqual(configMap.labels[BoKLabels.tenant], "f-1")
            XCTAssertEqual(configMap.labels[BoKLabels.organization], "org2")
            XCTAssertEqual(configMap.body["metadata"]?["annotations"]?["bok.io/package-id"]?.string, info.packageID)
            let pairs = try XCTUnwrap(configMap.body["binaryData"]?.pairs)
            XCTAssertEqual(pairs.map(\.key), [ChaincodeNames.partKey(index)])
            let part = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(pairs[0].value.string)))
            // The API server counts decoded bytes against a ConfigMap's 1 MiB; etcd takes requests up to 1.5 MiB.
            XCTAssertLessThanOrEqual(part.count, 768 * 1024)
            XCTAssertLessThan(configMap.yaml.utf8.count, 1_572_864)
            joined.append(part)
        }
        XCTAssertEqual(joined, bytes)

        // The install Job mounts exactly these parts, in order, and cats them back in that order.
        let install = renderer.chaincodeInstallJob(info, org: org)
        let program = try JobProgram(install)
        XCTAssertEqual(program.environment["CC_PARTS"], "part-000 part-001 part-002 part-003")
        let volumes = try XCTUnwrap(install.body["spec"]?["template"]?["spec"]?["volumes"]?.list)
        let package = try XCTUnwrap(volumes.first { $0["name"]?.string == "package" })
        let sources = try XCTUnwrap(package["projected"]?["sources"]?.list)
        XCTAssertEqual(sources.compactMap { $0["configMap"]?["name"]?.string }, configMaps.map(\.name))
        // Exactly 768 KiB makes one part, one byte more two.
        XCTAssertEqual(ChaincodePackageInfo(label: "x", sha256: info.sha256, size: 768 * 1024).partCount, 1)
        XCTAssertEqual(ChaincodePackageInfo(label: "x", sha256: info.sha256, size: 768 * 1024 + 1).partCount, 2)
    }

    func testEveryJobRunsInItsOrgWithOnlyThatOrgsAdminIdentityAndTheTenantLabels() throws {
        let info = info(Data(count: 10))
        for job in allJobs(info) {
            let org = try XCTUnwrap(topology.peerOrgs.first { $0.namespace == job.namespace }, job.name)
            XCTAssertEqual(job.labels[BoKLabels.tenant], "f-1", job.name)
            XCTAssertEqual(job.labels[BoKLabels.organization], org.shortName, job.name)
            XCTAssertEqual(job.labels[BoKLabels.instance], job.name)
            XCTAssertTrue(DNSName.isLabel(job.name) && job.name.count <= 63, job.name)
            let pod = try XCTUnwrap(job.body["spec"]?["template"]?["spec"])
            XCTAssertEqual(job.body["spec"]?["template"]?["metadata"]?["labels"]?["bok.io/tenant"]?.string, "f-1")
            let volumes = try XCTUnwrap(pod["volumes"]?.list)
            let crypto = try XCTUnwrap(volumes.first { $0["name"]?.string == "crypto" }?["projected"]?["sources"]?.list)
            let secrets = crypto.compactMap { $0["secret"]?["name"]?.string }
            XCTAssertEqual(secrets, ["admin-identity"], "\(job.name) mounts only the org admin's Secret")
            XCTAssertFalse(volumes.contains { $0["secret"] != nil }, "no other Secret volume in \(job.name)")
            let items = crypto.first { $0["secret"] != nil }?["secret"]?["items"]?.list ?? []
            XCTAssertFalse(items.isEmpty)
            for item in items {
                XCTAssertTrue(
                    item["path"]?.string?.hasPrefix("\(CryptoLayout.admin(org).directory)/") ?? false, "\(job.name): \(item)")
            }
            let env = try JobProgram(job).environment
            XCTAssertEqual(env["CORE_PEER_LOCALMSPID"], org.mspID)
            XCTAssertEqual(env["CORE_PEER_MSPCONFIGPATH"], "/etc/bok/crypto/\(CryptoLayout.admin(org).directory)/msp")
            XCTAssertEqual(pod["containers"]?.list?.first?["image"]?.string, "hyperledger/fabric-tools:2.5")
            XCTAssertEqual(pod["restartPolicy"]?.string, "Never")
        }
        // Deterministic names: the same inputs give the same names; the sequence and the package tell runs apart.
        XCTAssertEqual(ChaincodeNames.install(info), "cc-install-simple-1-0-a1a1a1a1")
        XCTAssertEqual(ChaincodeNames.approve(info, sequence: 3), "cc-approve-simple-1-0-a1a1a1a1-s3")
        XCTAssertEqual(ChaincodeNames.commit(info, sequence: 3), "cc-commit-simple-1-0-a1a1a1a1-s3")
        let long = ChaincodePackageInfo(
            label: "A_Very.Long+Label_" + String(repeating: "x", count: 80), sha256: info.sha256, size: 1)
        for name in [
            ChaincodeNames.install(long), ChaincodeNames.approve(long, sequence: 123_456),
            ChaincodeNames.packagePart(long, index: 99),
        ] {
            XCTAssertTrue(DNSName.isLabel(name) && name.count <= 63, name)
        }
    }

    func testEveryRenderedChaincodeObjectValidatesAgainstKubernetesSchemas() throws {
        let check = CommandRunner.run(["python3", "-c", "import kubernetes_validate"])
        guard check.succeeded else {
            throw XCTSkip("python module kubernetes_validate is not installed (pip install kubernetes-validate)")
        }
        let dir = try ChaincodeFixture.temporaryDirectory("bok-cc-validate")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = ChaincodeFixture.bytes(count: 1_600_000)
        let info = info(bytes)
        let objects =
            allJobs(info) + topology.peerOrgs.flatMap { renderer.chaincodePackageConfigMaps(info, bytes: bytes, org: $0) }
        var files: [String] = []
        for (index, object) in objects.enumerated() {
            let path = "\(dir)/\(index)-\(object.kind)-\(object.name).yaml"
            try Data(object.yaml.utf8).write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        let result = CommandRunner.run(
            ["python3", "-m", "kubernetes_validate", "--kubernetes-version", "1.33.0", "--strict", "--quiet"] + files,
            timeout: 300)
        XCTAssertTrue(result.succeeded, result.stdout + result.stderr)
        XCTAssertFalse((result.stdout + result.stderr).contains("ERROR"), result.stdout + result.stderr)
        // The check is real: a Job with an unknown field fails it.
        let broken = "\(dir)/broken.yaml"
        try Data(allJobs(info)[0].yaml.replacingOccurrences(of: "backoffLimit:", with: "backOffLimit:").utf8)
            .write(to: URL(fileURLWithPath: broken))
        XCTAssertFalse(
            CommandRunner.run([
                "python3", "-m", "kubernetes_validate", "--kubernetes-version", "1.33.0", "--strict", "--quiet", broken,
            ]).succeeded)
    }
}
