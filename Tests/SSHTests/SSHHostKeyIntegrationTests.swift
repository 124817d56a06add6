import Foundation
import SSHClient
import XCTest

final class SSHHostKeyIntegrationTests: SSHTestCase {
    private func connect(_ server: TestSSHServer, key: String, knownHosts: String, policy: HostKeyPolicy = .strict) throws
        -> SSHSession
    {
        try SSHSession(
            target: SSHTarget(host: "127.0.0.1", port: server.port), auth: .key(privateKeyPath: key, passphrase: nil),
            knownHostsPath: knownHosts, hostKeyPolicy: policy, connectTimeout: 5, operationTimeout: 10)
    }

    func testUnknownHostKeyIsRefusedInStrictModeNamingHostFingerprintAndFlag() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let knownHosts = try knownHosts(for: server, type: nil)

        let error = expectSSHError { try connect(server, key: key, knownHosts: knownHosts) }
        XCTAssertEqual(error?.kind, .unknownHostKey)
        XCTAssertEqual(error?.step, .hostKey)
        XCTAssertEqual(error?.host, "127.0.0.1")
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains("[127.0.0.1]:\(server.port)"), text)
        XCTAssertTrue(text.contains(try server.hostKeyFingerprint("ed25519")), "fingerprint as ssh-keygen -l shows it: \(text)")
        XCTAssertTrue(text.contains("--accept-new-host-keys"), text)
        // Refused before authentication: the server saw us leave without offering a key.
        XCTAssertTrue(server.logEventually(contains: "BoK coordinator done"), server.log)
        XCTAssertFalse(server.log.contains("publickey"))
        XCTAssertEqual(try String(contentsOfFile: knownHosts, encoding: .utf8), "")
    }

    func testMissingKnownHostsFileCountsAsEmpty() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let path = directory.appendingPathComponent("nowhere/known_hosts").path
        XCTAssertEqual(expectSSHError { try connect(server, key: key, knownHosts: path) }?.kind, .unknownHostKey)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testAcceptNewRecordsTheKeyThenStrictModeSucceeds() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let path = directory.appendingPathComponent("fresh/.ssh/known_hosts").path

        let first = try connect(server, key: key, knownHosts: path, policy: .acceptNew)
        XCTAssertTrue(first.hostKey.addedToKnownHosts)
        XCTAssertEqual(first.hostKey.algorithm, "ssh-ed25519")
        XCTAssertEqual(first.hostKey.fingerprint, try server.hostKeyFingerprint("ed25519"))
        let hostKey = try server.hostPublicKey("ed25519").split(separator: " ").prefix(2).joined(separator: " ")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "[127.0.0.1]:\(server.port) \(hostKey)\n")
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)

        let second = try connect(server, key: key, knownHosts: path, policy: .strict)
        XCTAssertFalse(second.hostKey.addedToKnownHosts)
        XCTAssertEqual(try second.run("echo ok").stdoutText, "ok\n")
        // OpenSSH reads what we wrote.
        let lookup = try ToolRunner.run("/usr/bin/ssh-keygen", ["-F", "[127.0.0.1]:\(server.port)", "-f", path])
        XCTAssertEqual(lookup.status, 0, lookup.output)
    }

    func testAcceptNewAppendsWithoutTouchingOtherLines() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let path = directory.appendingPathComponent("known_hosts").path
        // A comment, a key type libssh2 1.10 cannot parse, a marker, no final newline.
        let original =
            "# managed by hand\n"
            + "other.example sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIA== x\n"
            + "@cert-authority *.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3ZK7wDS1Ad2iM6Kvp5KrcyhVBkD6o1+6oSfvNFRk7e"
        try original.write(toFile: path, atomically: true, encoding: .utf8)

        _ = try connect(server, key: key, knownHosts: path, policy: .acceptNew)
        let hostKey = try server.hostPublicKey("ed25519").split(separator: " ").prefix(2).joined(separator: " ")
        XCTAssertEqual(
            try String(contentsOfFile: path, encoding: .utf8), original + "\n[127.0.0.1]:\(server.port) \(hostKey)\n")
        _ = try connect(server, key: key, knownHosts: path, policy: .strict)
    }

    func testChangedHostKeyIsRefusedEvenWithAcceptNew() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        // known_hosts records another ed25519 key for this host and port.
        let impostor = try makeKey("ed25519")
        let recorded = try publicKey(of: impostor).split(separator: " ").prefix(2).joined(separator: " ")
        let path = directory.appendingPathComponent("known_hosts").path
        let original = "[127.0.0.1]:\(server.port) \(recorded)\n"
        try original.write(toFile: path, atomically: true, encoding: .utf8)

        for policy in [HostKeyPolicy.strict, .acceptNew] {
            let error = expectSSHError { try connect(server, key: key, knownHosts: path, policy: policy) }
            XCTAssertEqual(error?.kind, .hostKeyChanged, "\(policy)")
            XCTAssertEqual(error?.step, .hostKey)
            let text = error?.description ?? ""
            XCTAssertTrue(text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), text)
            XCTAssertTrue(text.contains(try server.hostKeyFingerprint("ed25519")), text)
            XCTAssertTrue(text.contains("ssh-keygen -R '[127.0.0.1]:\(server.port)'"), text)
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), original, "known_hosts must stay untouched")
        XCTAssertTrue(server.logEventually(contains: "BoK coordinator done"), server.log)
        XCTAssertFalse(server.log.contains("publickey"))
    }

    func testRevokedHostKeyIsRefused() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let hostKey = try server.hostPublicKey("ed25519").split(separator: " ").prefix(2).joined(separator: " ")
        let path = directory.appendingPathComponent("known_hosts").path
        try "[127.0.0.1]:\(server.port) \(hostKey)\n@revoked * \(hostKey)\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(
            expectSSHError { try connect(server, key: key, knownHosts: path, policy: .acceptNew) }?.kind, .hostKeyRevoked)
    }

    func testHashedKnownHostsEntryWrittenByOpenSSHMatches() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let path = try knownHosts(for: server)
        _ = try ToolRunner.sshKeygen(["-H", "-f", path])
        XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("|1|"))
        XCTAssertEqual(try connect(server, key: key, knownHosts: path).hostKey.algorithm, "ssh-ed25519")
    }

    func testTheKeyTypeKnownHostsRecordsIsTheOneNegotiated() throws {
        // A server with three host keys; known_hosts knows only one of them. Like OpenSSH, the client
        // must ask for that type instead of refusing the host as unknown.
        let key = try makeKey("ed25519")
        let server = try startServer(hostKeyTypes: ["ed25519", "ecdsa", "rsa"], authorizedKeys: [try publicKey(of: key)])
        for (type, algorithm) in [("ecdsa", "ecdsa-sha2-nistp256"), ("ed25519", "ssh-ed25519")] {
            let session = try connect(server, key: key, knownHosts: try knownHosts(for: server, type: type))
            XCTAssertEqual(session.hostKey.algorithm, algorithm, "known type \(type)")
            XCTAssertEqual(session.hostKey.fingerprint, try server.hostKeyFingerprint(type))
        }
    }

    /// What really happens: libssh2 1.10 knows RSA host keys only as SHA-1 `ssh-rsa`, which OpenSSH 9.2
    /// no longer offers, so a host recorded only by its RSA key cannot be verified.
    func testHostRecordedOnlyWithAnRSAKeyIsExplained() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(hostKeyTypes: ["ed25519", "rsa"], authorizedKeys: [try publicKey(of: key)])
        let error = expectSSHError { try connect(server, key: key, knownHosts: try knownHosts(for: server, type: "rsa")) }
        XCTAssertEqual(error?.kind, .unknownHostKey)
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains("records only an RSA key"), text)
        XCTAssertTrue(text.contains(try server.hostKeyFingerprint("ed25519")), text)
    }

    func testRSAOnlyHostCannotBeNegotiated() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(hostKeyTypes: ["rsa"], authorizedKeys: [try publicKey(of: key)])
        let error = expectSSHError { try connect(server, key: key, knownHosts: try knownHosts(for: server, type: "rsa")) }
        XCTAssertEqual(error?.step, .handshake)
        XCTAssertEqual(error?.kind, .protocolFailure)
        XCTAssertTrue(error?.hint?.contains("ed25519 host key") ?? false, "\(String(describing: error))")
        XCTAssertTrue(server.logEventually(contains: "no matching host key type"), server.log)
    }

    func testPlainHostEntryDoesNotCoverANonStandardPort() throws {
        // OpenSSH looks up `[host]:port` for ports other than 22; a plain `127.0.0.1` entry is another host.
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let impostor = try makeKey("ed25519")
        let path = try knownHosts(for: server, type: nil)
        try "127.0.0.1 \(try publicKey(of: impostor))\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(expectSSHError { try connect(server, key: key, knownHosts: path) }?.kind, .unknownHostKey)
    }
}
