import Foundation
import XCTest

/// The `coordinator validate|crypto|render` commands as a script sees them: output and exit status.
final class CoordinatorCLITests: XCTestCase {
    private var coordinator: String!

    override func setUpWithError() throws {
        let candidate = Bundle.main.bundleURL.appendingPathComponent("coordinator").path
        let alternative = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("coordinator").path
        guard let path = [candidate, alternative].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("the coordinator executable is not built next to the tests (run `swift build` first)")
        }
        coordinator = path
    }

    func testValidateAcceptsTheExampleAndExitsZero() throws {
        let result = try TestSupport.run(coordinator, ["validate", "-c", TestSupport.exampleConfigPath])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("valid — tenant f-1: 1 orderer org (1 orderer), 2 peer orgs (4 peers, 2 users)"))
    }

    func testValidateReportsFileLineAndFieldAndExitsTwo() throws {
        let dir = try TestSupport.temporaryDirectory("bok-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bad.yaml").path
        try
            "Tenant: f-1\nOrdererOrgs:\n- Name: O\n  Domain: o\n  Template:\n    Count: 1\nPeerOrgs:\n- Name: Org1\n  Domain: o\n  Template:\n    Count: 0\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let result = try TestSupport.run(coordinator, ["validate", "-c", file])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.output.contains("\(file):9:11: error: PeerOrgs[0].Domain: domain 'o' is already used"), result.output)
        XCTAssertTrue(result.output.contains("\(file):11:12: error: PeerOrgs[0].Template.Count:"), result.output)

        let json = try TestSupport.run(coordinator, ["validate", "-c", file, "--json"])
        XCTAssertEqual(json.status, 2)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        XCTAssertEqual(decoded?["valid"] as? Bool, false)
        XCTAssertEqual((decoded?["diagnostics"] as? [[String: Any]])?.first?["line"] as? Int, 9)
    }

    func testUsageErrorsExitTwo() throws {
        XCTAssertEqual(try TestSupport.run(coordinator, ["validate", "--no-such-flag"]).status, 2)
        XCTAssertEqual(try TestSupport.run(coordinator, ["render", "--help"]).status, 0)
    }

    func testCryptoThenRenderProducesStableManifests() throws {
        let dir = try TestSupport.temporaryDirectory("bok-cli-render")
        defer { try? FileManager.default.removeItem(at: dir) }
        let crypto = dir.appendingPathComponent("crypto").path
        let generated = try TestSupport.run(coordinator, ["crypto", "-c", TestSupport.exampleConfigPath, "-o", crypto])
        XCTAssertEqual(generated.status, 0, generated.output)
        XCTAssertTrue(generated.output.contains("101 files written"), generated.output)
        let again = try TestSupport.run(coordinator, ["crypto", "-c", TestSupport.exampleConfigPath, "-o", crypto])
        XCTAssertTrue(again.output.contains("0 files written, 101 unchanged; 0 keys generated, 26 kept"), again.output)

        for name in ["a", "b"] {
            let result = try TestSupport.run(
                coordinator,
                [
                    "render", "-c", TestSupport.exampleConfigPath, "-o",
                    dir.appendingPathComponent(name).path, "--crypto", crypto,
                ])
            XCTAssertEqual(result.status, 0, result.output)
            XCTAssertTrue(result.output.contains("73 objects written"), result.output)  // 63 + 10 NetworkPolicies
        }
        let diff = try TestSupport.run("/usr/bin/diff", ["-r", dir.appendingPathComponent("a").path, dir.appendingPathComponent("b").path])
        XCTAssertEqual(diff.status, 0, diff.output)

        let missing = try TestSupport.run(
            coordinator,
            [
                "render", "-c", TestSupport.exampleConfigPath, "-o",
                dir.appendingPathComponent("c").path, "--crypto", "/nonexistent",
            ])
        XCTAssertEqual(missing.status, 1)
    }
}
