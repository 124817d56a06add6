import Foundation
import XCTest

/// `coordinator kubeconfig fetch` end to end: the built executable against the test sshd.
final class KubeconfigCommandIntegrationTests: SSHTestCase {
    private var coordinator: String {
        URL(fileURLWithPath: Bundle.main.executablePath ?? "/nonexistent").deletingLastPathComponent()
            .appendingPathComponent("coordinator").path
    }

    private func runCoordinator(_ arguments: [String]) throws -> ToolRunner.Output {
        try ToolRunner.run(coordinator, arguments)
    }

    func testFetchTrustsOnFirstUseRewritesLoopbackAndRefusesToClobber() throws {
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: coordinator),
            "coordinator is not built next to the tests")
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let knownHosts = directory.appendingPathComponent("known_hosts").path
        let remote = directory.appendingPathComponent("admin.conf").path
        let kubeconfig =
            "apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: kubernetes\n"
        try kubeconfig.write(toFile: remote, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("home/.kube/config").path
        let common = [
            "kubeconfig", "fetch", "--master", "127.0.0.1", "--port", String(server.port), "--identity",
            key,
            "--known-hosts", knownHosts, "--path", remote, "--output", output, "--server-host",
            "198.18.0.10", "--timeout", "5",
        ]

        let refused = try runCoordinator(common)
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("--accept-new-host-keys"), refused.output)
        XCTAssertTrue(refused.output.contains(try server.hostKeyFingerprint("ed25519")), refused.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))

        let fetched = try runCoordinator(common + ["--accept-new-host-keys"])
        XCTAssertEqual(fetched.status, 0, fetched.output)
        XCTAssertTrue(
            fetched.output.contains("https://127.0.0.1:6443 → https://198.18.0.10:6443"), fetched.output)
        XCTAssertEqual(
            try String(contentsOfFile: output, encoding: .utf8),
            kubeconfig.replacingOccurrences(of: "127.0.0.1", with: "198.18.0.10"))
        XCTAssertTrue(
            try String(contentsOfFile: knownHosts, encoding: .utf8).hasPrefix(
                "[127.0.0.1]:\(server.port) ssh-ed25519 "))

        // The host is known now; the master's kubeconfig changed; the local one is not replaced silently.
        try kubeconfig.replacingOccurrences(of: "kubernetes", with: "other").write(
            toFile: remote, atomically: true, encoding: .utf8)
        let clobber = try runCoordinator(common)
        XCTAssertEqual(clobber.status, 1, clobber.output)
        XCTAssertTrue(clobber.output.contains("--force"), clobber.output)
        let forced = try runCoordinator(common + ["--force"])
        XCTAssertEqual(forced.status, 0, forced.output)
        XCTAssertTrue(try String(contentsOfFile: output, encoding: .utf8).contains("name: other"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: output + ".bak"))
    }

    /// Usage errors exit 2 ("invalid input"), like every coordinator command.
    func testUsageErrorsExitWithInvalidInput() throws {
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: coordinator),
            "coordinator is not built next to the tests")
        XCTAssertEqual(try runCoordinator(["kubeconfig", "fetch"]).status, 2)
        XCTAssertEqual(
            try runCoordinator(["kubeconfig", "fetch", "--master", "m", "--port", "70000"]).status, 2)
    }
}
