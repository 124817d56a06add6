import Foundation
import SSHClient
import XCTest

/// The "master" is the test sshd on localhost: the kubeconfig is a file in the test directory,
/// fetched with an explicit remote path.
final class KubeconfigFetchIntegrationTests: SSHTestCase {
    private let kubeadmConfig = """
        apiVersion: v1
        clusters:
        - cluster:
            certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=
            server: https://127.0.0.1:6443
          name: kubernetes
        contexts:
        - context:
            cluster: kubernetes
            user: kubernetes-admin
          name: kubernetes-admin@kubernetes
        current-context: kubernetes-admin@kubernetes
        kind: Config
        preferences: {}
        users:
        - name: kubernetes-admin
          user:
            client-certificate-data: LS0tLS1CRUdJTg==
            client-key-data: LS0tLS1CRUdJTg==

        """

    private func write(_ text: String, _ name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func mode(_ path: String) -> mode_t {
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0, path)
        return info.st_mode & 0o7777
    }

    func testKubeconfigWithReachableServerIsCopiedByteForByte() throws {
        let (session, _) = try connectedSession()
        let original = kubeadmConfig.replacingOccurrences(of: "127.0.0.1", with: "10.0.0.10")
        let remote = try write(original, "admin.conf")
        let output = directory.appendingPathComponent("home/.kube/config").path

        let outcome = try KubeconfigFetch(remotePath: remote, outputPath: output).run(over: session)
        XCTAssertEqual(FileManager.default.contents(atPath: output), FileManager.default.contents(atPath: remote))
        XCTAssertEqual(mode(output), 0o600)
        XCTAssertEqual(mode(directory.appendingPathComponent("home/.kube").path), 0o700)
        XCTAssertEqual(outcome.changes, [])
        XCTAssertEqual(outcome.servers, ["https://10.0.0.10:6443"])
        XCTAssertTrue(outcome.wrote)
        XCTAssertEqual(outcome.remotePath, remote)
    }

    func testLoopbackServerIsPointedAtTheMasterAndNothingElseChanges() throws {
        let (session, _) = try connectedSession()
        let remote = try write(kubeadmConfig, "admin.conf")
        let output = directory.appendingPathComponent("config").path

        // The master is this machine, reached as 127.0.0.1: name the API address explicitly (data only,
        // nothing connects to it).
        let outcome = try KubeconfigFetch(remotePath: remote, outputPath: output, serverHost: "198.18.0.10").run(over: session)
        XCTAssertEqual(outcome.changes.map(\.description), ["https://127.0.0.1:6443 → https://198.18.0.10:6443"])
        XCTAssertEqual(
            try String(contentsOfFile: output, encoding: .utf8),
            kubeadmConfig.replacingOccurrences(of: "https://127.0.0.1:6443", with: "https://198.18.0.10:6443"))
        XCTAssertEqual(mode(output), 0o600)
    }

    func testLocalhostServerIsRewrittenToTheMasterName() throws {
        let (session, _) = try connectedSession()
        let json =
            #"{"apiVersion":"v1","kind":"Config","clusters":[{"name":"bok","cluster":{"server":"https://localhost:443"}}]}"#
            + "\n"
        let remote = try write(json, "kubeconfig.json")
        let output = directory.appendingPathComponent("config").path

        let outcome = try KubeconfigFetch(remotePath: remote, outputPath: output).run(over: session)
        XCTAssertEqual(outcome.changes.map(\.new), ["https://127.0.0.1:443"])
        XCTAssertEqual(
            try String(contentsOfFile: output, encoding: .utf8), json.replacingOccurrences(of: "localhost", with: "127.0.0.1"))
    }

    func testDifferentExistingOutputIsKeptUnlessForced() throws {
        let (session, _) = try connectedSession()
        let remote = try write(kubeadmConfig.replacingOccurrences(of: "127.0.0.1", with: "10.0.0.10"), "admin.conf")
        let output = try write("apiVersion: v1\n# my other clusters\n", "config")

        let error = expectSSHError { try KubeconfigFetch(remotePath: remote, outputPath: output).run(over: session) }
        XCTAssertEqual(error?.step, .writeOutput)
        XCTAssertTrue(error?.hint?.contains("--force") ?? false)
        XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "apiVersion: v1\n# my other clusters\n")

        let outcome = try KubeconfigFetch(remotePath: remote, outputPath: output, force: true).run(over: session)
        XCTAssertEqual(outcome.backupPath, output + ".bak")
        XCTAssertEqual(try String(contentsOfFile: output + ".bak", encoding: .utf8), "apiVersion: v1\n# my other clusters\n")
        XCTAssertEqual(FileManager.default.contents(atPath: output), FileManager.default.contents(atPath: remote))
    }

    func testFetchingTheSameKubeconfigAgainChangesNothing() throws {
        let (session, _) = try connectedSession()
        let remote = try write(kubeadmConfig, "admin.conf")
        let output = directory.appendingPathComponent("config").path
        XCTAssertTrue(try KubeconfigFetch(remotePath: remote, outputPath: output).run(over: session).wrote)
        chmod(output, 0o644)
        let again = try KubeconfigFetch(remotePath: remote, outputPath: output).run(over: session)
        XCTAssertFalse(again.wrote)
        XCTAssertEqual(mode(output), 0o600, "a readable kubeconfig is closed again")
    }

    func testMissingRemoteFileNamesThePathAndWritesNothing() throws {
        let (session, _) = try connectedSession()
        let remote = directory.appendingPathComponent("nope.conf").path
        let output = directory.appendingPathComponent("config").path
        let error = expectSSHError { try KubeconfigFetch(remotePath: remote, outputPath: output).run(over: session) }
        XCTAssertEqual(error?.kind, .remoteFileNotFound)
        XCTAssertTrue(error?.description.contains(remote) ?? false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    func testDefaultPathsAreTriedInOrder() throws {
        // Neither default exists on this machine's "master": the error lists both.
        try XCTSkipIf(KubeconfigFetch.defaultRemotePaths.contains { FileManager.default.fileExists(atPath: $0) })
        let (session, _) = try connectedSession()
        let error = expectSSHError {
            try KubeconfigFetch(outputPath: directory.appendingPathComponent("config").path).run(over: session)
        }
        XCTAssertEqual(error?.kind, .remoteFileNotFound)
        for path in KubeconfigFetch.defaultRemotePaths { XCTAssertTrue(error?.reason.contains(path) ?? false) }
        XCTAssertTrue(error?.hint?.contains("--path") ?? false)
    }

    func testRemoteFileThatIsNotAKubeconfigIsRefused() throws {
        let (session, _) = try connectedSession()
        let remote = try write("<html>404</html>\n", "index.html")
        let output = directory.appendingPathComponent("config").path
        let error = expectSSHError { try KubeconfigFetch(remotePath: remote, outputPath: output).run(over: session) }
        XCTAssertEqual(error?.step, .kubeconfig)
        XCTAssertEqual(error?.kind, .invalidContent)
        XCTAssertTrue(error?.reason.contains(remote) ?? false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }
}
