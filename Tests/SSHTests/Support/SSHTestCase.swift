import Foundation
import SSHClient
import XCTest

/// Base for tests against a real sshd: a temporary directory, client keys made on demand, servers
/// that are stopped by PID in tearDown whatever happened, and helpers to connect.
class SSHTestCase: XCTestCase {
    private(set) var directory: URL!
    private var servers: [TestSSHServer] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        try XCTSkipUnless(getuid() == 0, "the sshd tests run as root")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"), "openssh-server is not installed")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bok-ssh-tests-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for server in servers {
            if (testRun?.totalFailureCount ?? 0) > 0 { print("sshd log (port \(server.port)):\n\(server.log)") }
            server.stop()
        }
        servers = []
        if let directory { try? FileManager.default.removeItem(at: directory) }
        super.tearDown()
    }

    /// A client key pair; returns the private key path (`path.pub` next to it).
    func makeKey(_ type: String, bits: Int? = nil, passphrase: String = "", pem: Bool = false) throws -> String {
        let path = directory.appendingPathComponent("id_\(type)_\(UUID().uuidString.prefix(6))").path
        var arguments = ["-q", "-t", type, "-N", passphrase, "-C", "test-client", "-f", path]
        if let bits { arguments += ["-b", String(bits)] }
        if pem { arguments += ["-m", "PEM"] }
        _ = try ToolRunner.sshKeygen(arguments)
        return path
    }

    func publicKey(of privateKeyPath: String) throws -> String {
        try String(contentsOfFile: privateKeyPath + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func startServer(
        hostKeyTypes: [String] = ["ed25519"], authorizedKeys: [String], extraConfig: [String] = [], rootPassword: String? = nil
    ) throws -> TestSSHServer {
        let server = try TestSSHServer(
            in: directory, hostKeyTypes: hostKeyTypes, authorizedKeys: authorizedKeys, extraConfig: extraConfig,
            rootPassword: rootPassword)
        servers.append(server)
        return server
    }

    /// A known_hosts file listing the server's host key of `type` (or empty when `type` is nil).
    func knownHosts(for server: TestSSHServer, type: String? = "ed25519", name: String? = nil) throws -> String {
        let path = directory.appendingPathComponent("known_hosts_\(UUID().uuidString.prefix(6))").path
        var text = ""
        if let type {
            let key = try server.hostPublicKey(type).split(separator: " ").prefix(2).joined(separator: " ")
            text = "\(name ?? "[127.0.0.1]:\(server.port)") \(key)\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A server that accepts `key`, a known_hosts that knows it, and a session logged in with `key`.
    func connectedSession(operationTimeout: Double = 10) throws -> (SSHSession, TestSSHServer) {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let session = try SSHSession(
            target: SSHTarget(host: "127.0.0.1", port: server.port), auth: .key(privateKeyPath: key, passphrase: nil),
            knownHostsPath: try knownHosts(for: server), connectTimeout: 5, operationTimeout: operationTimeout)
        return (session, server)
    }

    /// Runs `body`, which must throw an `SSHError`, and returns it.
    func expectSSHError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> SSHError? {
        do {
            let value = try body()
            XCTFail("expected an SSHError, got \(value)", file: file, line: line)
        } catch let error as SSHError {
            return error
        } catch {
            XCTFail("expected an SSHError, got \(error)", file: file, line: line)
        }
        return nil
    }
}
