import FabricTopology
import Foundation
import PKI
import XCTest

@testable import MSP

/// `coordinator crypto status|renew` as a script sees them: the table, the JSON document and the exit status; and
/// `coordinator crypto -c FILE -o DIR` still generating as it always did.
final class CryptoCLITests: XCTestCase {
    private var coordinator: String!
    private var dir: URL!
    private var crypto: String { dir.appendingPathComponent("crypto").path }

    override func setUpWithError() throws {
        let candidate = Bundle.main.bundleURL.appendingPathComponent("coordinator").path
        let alternative = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("coordinator").path
        guard let path = [candidate, alternative].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("the coordinator executable is not built next to the tests (run `swift build` first)")
        }
        coordinator = path
        dir = try TestSupport.temporaryDirectory("bok-crypto-cli")
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// Standard output only (the JSON document), and the exit status.
    private func stdout(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let quoted = ([coordinator!] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try TestSupport.run("/bin/sh", ["-c", "\(quoted) 2>/dev/null"])
    }

    func testStatusTableJSONAndExitCodesAroundTheWindow() throws {
        let config = TestSupport.exampleConfigPath
        let generated = try TestSupport.run(coordinator, ["crypto", "-c", config, "-o", crypto])
        XCTAssertEqual(generated.status, 0, generated.output)
        XCTAssertTrue(generated.output.contains("101 files written"), generated.output)

        let fine = try TestSupport.run(coordinator, ["crypto", "status", "-c", config, "--crypto", crypto])
        XCTAssertEqual(fine.status, 0, fine.output)
        XCTAssertTrue(fine.output.hasPrefix("PATH"), fine.output)
        XCTAssertTrue(fine.output.contains("ordererOrganizations/orgordererorg/ca/ca.orgordererorg-cert.pem"), fine.output)
        XCTAssertTrue(fine.output.contains("26 certificate(s) in \(crypto); nearest expiry"), fine.output)

        // One TLS certificate re-issued to expire in 5 days: exit 1, and it is named.
        let path = "peerOrganizations/org2/peers/peer1.org2/tls/server.crt"
        let tlsCA = try CertificateAuthority(
            certificate: try PEMFile.readCertificate(at: "\(crypto)/peerOrganizations/org2/tlsca/tlsca.org2-cert.pem"),
            privateKey: try PEMFile.readPrivateKey(at: "\(crypto)/peerOrganizations/org2/tlsca/priv_sk"))
        try PEMFile.write(try tlsCA.reissue(try PEMFile.readCertificate(at: "\(crypto)/\(path)"), validityDays: 5), to: "\(crypto)/\(path)")
        let due = try TestSupport.run(coordinator, ["crypto", "status", "-c", config, "--crypto", crypto])
        XCTAssertEqual(due.status, 1, due.output)
        XCTAssertTrue(due.output.contains("1 certificate(s) expire within 30 days: \(path)"), due.output)
        XCTAssertTrue(due.output.contains("coordinator crypto renew"), due.output)
        XCTAssertEqual(try TestSupport.run(coordinator, ["crypto", "status", "-c", config, "--crypto", crypto, "--warn-days", "3"]).status, 0)

        let json = try stdout(["crypto", "status", "-c", config, "--crypto", crypto, "--json"])
        XCTAssertEqual(json.status, 1)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any], json.output)
        XCTAssertEqual(document["expiring"] as? [String], [path])
        XCTAssertEqual(document["warnDays"] as? Int, 30)
        let entries = try XCTUnwrap(document["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 26)
        let entry = try XCTUnwrap(entries.first { $0["path"] as? String == path })
        XCTAssertEqual(entry["role"] as? String, "tls-server")
        XCTAssertEqual(entry["chainsToCA"] as? Bool, true)
        XCTAssertEqual(entry["keyMatches"] as? Bool, true)
        XCTAssertTrue([3, 4, 5].contains(entry["daysLeft"] as? Int ?? -1), "\(entry)")
        XCTAssertEqual((document["nearest"] as? [String: Any])?["path"] as? String, path)

        // Renew what is due: that one certificate, with its key; then status is clean again.
        let key = try Data(contentsOf: URL(fileURLWithPath: "\(crypto)/peerOrganizations/org2/peers/peer1.org2/tls/server.key"))
        let renew = try TestSupport.run(coordinator, ["crypto", "renew", "-c", config, "--crypto", crypto, "--within", "30d"])
        XCTAssertEqual(renew.status, 0, renew.output)
        XCTAssertTrue(renew.output.contains("renewed \(path) (tls-server)"), renew.output)
        XCTAssertTrue(renew.output.contains("1 certificate(s) renewed with their keys"), renew.output)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(crypto)/peerOrganizations/org2/peers/peer1.org2/tls/server.key")), key)
        XCTAssertEqual(try TestSupport.run(coordinator, ["crypto", "status", "-c", config, "--crypto", crypto]).status, 0)
        let nothing = try TestSupport.run(coordinator, ["crypto", "renew", "-c", config, "--crypto", crypto])
        XCTAssertTrue(nothing.output.contains("nothing to renew"), nothing.output)

        // `crypto generate` is the default subcommand: the same run as before, keys kept.
        let again = try TestSupport.run(coordinator, ["crypto", "generate", "-c", config, "-o", crypto])
        XCTAssertTrue(again.output.contains("0 keys generated, 26 kept"), again.output)

        XCTAssertEqual(try TestSupport.run(coordinator, ["crypto", "renew", "-c", config, "--all", "--within", "3d"]).status, 2)
        XCTAssertEqual(try TestSupport.run(coordinator, ["crypto", "renew", "-c", config, "--within", "soon"]).status, 2)
        let missing = try TestSupport.run(coordinator, ["crypto", "status", "-c", config, "--crypto", dir.appendingPathComponent("none").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.output.contains("is not a directory"), missing.output)
    }

    func testHealthReportsTheCryptoTreesNearestExpiry() throws {
        let config = TestSupport.exampleConfigPath
        XCTAssertEqual(try TestSupport.run(coordinator, ["crypto", "-c", config, "-o", crypto]).status, 0)
        let caDir = dir.appendingPathComponent("ca").path
        XCTAssertEqual(try TestSupport.run(coordinator, ["ca", "init", "--dir", caDir]).status, 0)
        // One node whose agent does not answer (nothing listens on port 1 of loopback).
        let inventory = dir.appendingPathComponent("inventory.yaml").path
        try "caDir: \(caDir)\nnodes:\n  - name: node1\n    agent: 127.0.0.1:1\n".write(toFile: inventory, atomically: true, encoding: .utf8)
        let path = "peerOrganizations/org1/users/User1@org1/msp/signcerts/User1@org1-cert.pem"
        let ca = try CertificateAuthority(
            certificate: try PEMFile.readCertificate(at: "\(crypto)/peerOrganizations/org1/ca/ca.org1-cert.pem"),
            privateKey: try PEMFile.readPrivateKey(at: "\(crypto)/peerOrganizations/org1/ca/priv_sk"))
        try PEMFile.write(try ca.reissue(try PEMFile.readCertificate(at: "\(crypto)/\(path)"), validityDays: 12), to: "\(crypto)/\(path)")

        let health = try TestSupport.run(
            coordinator, ["health", "--inventory", inventory, "--connect-timeout", "1", "-c", config, "--crypto", crypto])
        XCTAssertEqual(health.status, 1, "the agent is down: \(health.output)")
        XCTAssertTrue(health.output.contains("nearest expiry of the crypto material: \(crypto)/\(path)"), health.output)
        XCTAssertTrue(health.output.contains("WARN: renew with `coordinator crypto renew"), health.output)

        let json = try stdout(["health", "--inventory", inventory, "--connect-timeout", "1", "--crypto", crypto, "--json"])
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any], json.output)
        XCTAssertEqual((document["nodes"] as? [[String: Any]])?.first?["node"] as? String, "node1")
        let nearest = try XCTUnwrap((document["nearestExpiry"] as? [[String: Any]])?.first)
        XCTAssertEqual(nearest["source"] as? String, "crypto")
        XCTAssertEqual(nearest["status"] as? String, "warn")
        XCTAssertTrue([10, 11, 12].contains(nearest["daysLeft"] as? Int ?? -1), "\(nearest)")
    }
}
