import BoKSystem
import DockerEngine
import Foundation
import Lab
import XCTest

@testable import Rollout

/// The package ID BoK computes is Fabric's own (`peer lifecycle chaincode calculatepackageid` of a real release), and
/// `--path` packages with the release's `peer`.
final class ChaincodePackageIntegrationTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = try ChaincodeFixture.temporaryDirectory("bok-cc-package")
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// The release the lab would use (`$BOK_FABRIC_RELEASE`, else BoK's cache, which scripts/install-deps.sh fills),
    /// else the one beside the repository (`../shared/fabric`).
    static var resolvedRelease: Lab.FabricRelease? { try? Lab.FabricRelease.resolve(explicit: nil) }

    /// Fabric's `simple` chaincode: the release's copy (the cache keeps it beside bin/), else the one beside the tarball.
    static var chaincodeSource: String? {
        if let cached = resolvedRelease?.chaincode("simple") { return cached }
        return releasePath.map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("chaincode/simple").path
        }
    }

    static var releasePath: String? {
        if let resolved = resolvedRelease { return resolved.root }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let shared = repository.deletingLastPathComponent().appendingPathComponent("shared/fabric")
        let tarballs =
            (try? FileManager.default.contentsOfDirectory(atPath: shared.path))?
            .filter { $0.hasPrefix("hyperledger-fabric-linux-") && $0.hasSuffix(".tar.gz") }.sorted() ?? []
        return tarballs.last.map { shared.appendingPathComponent($0).path }
    }

    func release() throws -> FabricReleaseLocation {
        guard let path = Self.releasePath else {
            throw XCTSkip("no Fabric release: set BOK_FABRIC_RELEASE or put one in ../shared/fabric")
        }
        return try FabricReleaseLocation.locate(path)
    }

    func testThePackageIDIsFabricsAndBadPackagesAreRefused() throws {
        let release = try release()
        defer { release.cleanUp() }
        let path = try ChaincodeFixture.makePackage(in: dir, label: "mycc_2.1", payload: 50_000)
        let file = try ChaincodePackageFile.load(path: path)
        XCTAssertEqual(file.info.label, "mycc_2.1")
        XCTAssertEqual(file.type, "golang")
        var environment = ProcessInfo.processInfo.environment
        environment["FABRIC_CFG_PATH"] = release.configDirectory
        let fabric = CommandRunner.run(
            [release.peer, "lifecycle", "chaincode", "calculatepackageid", path], environment: environment)
        XCTAssertTrue(fabric.succeeded, fabric.stderr)
        XCTAssertEqual(fabric.stdout.trimmingCharacters(in: .whitespacesAndNewlines), file.info.packageID)

        // Not a package, a missing file, a label Fabric refuses: each says what to do.
        try Data("not a tarball".utf8).write(to: URL(fileURLWithPath: dir + "/junk.tar.gz"))
        XCTAssertThrowsError(try ChaincodePackageFile.load(path: dir + "/junk.tar.gz")) { error in
            XCTAssertTrue(
                "\(error)".contains("is not a chaincode package") && "\(error)".contains("peer lifecycle chaincode package"),
                "\(error)")
        }
        XCTAssertThrowsError(try ChaincodePackageFile.load(path: dir + "/missing.tar.gz")) { error in
            XCTAssertTrue("\(error)".contains("cannot read the chaincode package"), "\(error)")
        }
        let badLabel = try ChaincodeFixture.makePackage(in: dir, label: "-bad label", payload: 10)
        XCTAssertThrowsError(try ChaincodePackageFile.load(path: badLabel)) { error in
            XCTAssertTrue("\(error)".contains("no valid label"), "\(error)")
        }
        XCTAssertThrowsError(try FabricReleaseLocation.locate(dir)) { error in
            XCTAssertTrue("\(error)".contains("has no executable bin/peer"), "\(error)")
        }
        XCTAssertThrowsError(try FabricReleaseLocation.locate(nil, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("--fabric-release") && "\(error)".contains("BOK_FABRIC_RELEASE"), "\(error)")
        }
    }

    func testPathIsPackagedWithTheReleasesPeer() throws {
        let release = try release()
        defer { release.cleanUp() }
        // The chaincode source beside the release (Fabric's `simple`, vendored).
        let source = Self.chaincodeSource ?? ""
        guard FileManager.default.fileExists(atPath: source + "/go.mod") else {
            throw XCTSkip("no chaincode source at \(source)")
        }
        let output = dir + "/simple.tar.gz"
        guard CommandRunner.which("go") != nil else {
            XCTAssertThrowsError(
                try ChaincodePackager.package(
                    sourcePath: source, language: "golang", label: "simple_1.0", output: output, release: release)
            ) { error in
                XCTAssertTrue("\(error)".contains("no `go` is on PATH"), "\(error)")
            }
            throw XCTSkip("Go is not installed: packaging Go chaincode needs it (apt-get install golang-go)")
        }
        try ChaincodePackager.package(
            sourcePath: source, language: "golang", label: "simple_1.0", output: output, release: release)
        let file = try ChaincodePackageFile.load(path: output)
        XCTAssertEqual(file.info.label, "simple_1.0")
        XCTAssertGreaterThan(file.info.partCount, 1, "the simple chaincode with its vendor/ is larger than one ConfigMap")
        XCTAssertThrowsError(
            try ChaincodePackager.package(
                sourcePath: dir + "/nowhere", language: "golang", label: "x_1", output: dir + "/x.tar.gz",
                release: release)
        ) { error in
            XCTAssertTrue("\(error)".contains("`peer lifecycle chaincode package` of \(dir!)/nowhere failed"), "\(error)")
        }
    }
}
