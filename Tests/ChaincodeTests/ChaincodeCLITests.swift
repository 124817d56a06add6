import BoKSystem
import BoKTesting
import DockerEngine
import Foundation
import XCTest

/// `coordinator chaincode …` as a script sees it: usage errors exit 2, a deploy to a network that is not rolled out
/// exits 1 saying what to do, `--json` is a report a machine reads.
final class ChaincodeCLITests: XCTestCase {
    var dir: String!
    var standIn: KubeStandIn!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: BuildProducts.coordinator) else {
            throw XCTSkip("the coordinator executable is not built next to the tests")
        }
        dir = try ChaincodeFixture.temporaryDirectory("bok-cc-cli")
        try ChaincodeFixture.topologyYAML.write(toFile: dir + "/cluster-config.yaml", atomically: true, encoding: .utf8)
        standIn = try KubeStandIn()
    }

    override func tearDownWithError() throws {
        standIn?.stop()
        if let dir { try? FileManager.default.removeItem(atPath: dir) }
    }

    func coordinator(_ args: [String]) -> CommandResult {
        CommandRunner.run([BuildProducts.coordinator, "chaincode"] + args, timeout: 120)
    }

    var base: [String] { ["-c", dir + "/cluster-config.yaml", "--kubeconfig", standIn.kubeconfigPath] }

    func testUsageErrorsExitTwoAndADeployWithoutTheNetworkExitsOne() throws {
        let package = try ChaincodeFixture.makePackage(in: dir, payload: 100)
        let usage: [([String], String)] = [
            (["deploy"] + base, "give a package with --package"),
            (["deploy", "--package", package, "--path", dir] + base, "exclude each other"),
            (["deploy", "--path", dir] + base, "--path needs --label"),
            (["deploy", "--package", package, "--sequence", "0"] + base, "--sequence must be 1 or more"),
            (["deploy", "--package", package, "--name", "bad name!"] + base, "not a Fabric chaincode name"),
            (["deploy", "--package", package, "--init-args", #"{"Args":["init",1]}"#] + base, "--init-args"),
            (["query", "--name", "simple", "--args", "not json"] + base, "--args"),
            (["query", "--name", "simple", "--args", #"{"Args":["query","a"]}"#, "--org", "Org9"] + base, "not a peer org"),
            (["deploy", "--path", dir, "--label", "x_1", "--lang", "cobol"] + base, "--lang"),
            (["deploy", "--package", dir + "/missing.tar.gz"] + base, "cannot read the chaincode package"),
        ]
        for (args, message) in usage {
            let result = coordinator(args)
            XCTAssertEqual(result.exitCode, 2, "\(args): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(args): expected '\(message)' in: \(result.stderr)")
        }

        let deploy = coordinator(["deploy", "--package", package, "--json", "--timeout", "10"] + base)
        XCTAssertEqual(deploy.exitCode, 1, deploy.stderr)
        XCTAssertTrue(deploy.stdout.contains("\"success\" : false"), deploy.stdout)
        XCTAssertTrue(deploy.stdout.contains("run `coordinator rollout -c"), deploy.stdout)
        XCTAssertTrue(deploy.stderr.contains("[1/7] preflight"), "progress on stderr: \(deploy.stderr)")

        let query = coordinator(["query", "--name", "simple", "--args", #"{"Args":["query","a"]}"#, "--timeout", "5"] + base)
        XCTAssertEqual(query.exitCode, 1)
        XCTAssertTrue(query.stderr.contains("org Org1") && query.stderr.contains("cc-query-simple-"), query.stderr)
    }
}
