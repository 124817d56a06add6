import Foundation
import SSHClient
import XCTest

final class SSHConnectIntegrationTests: SSHTestCase {
    func testHostThatAcceptsTCPButNeverSpeaksSSHTimesOutNamingHostAndStep() throws {
        let listener = try LoopbackListener()
        let key = try makeKey("ed25519")
        let started = Date()
        let error = expectSSHError {
            try SSHSession(
                target: SSHTarget(host: "127.0.0.1", port: listener.port), auth: .key(privateKeyPath: key, passphrase: nil),
                knownHostsPath: directory.appendingPathComponent("known_hosts").path, connectTimeout: 1.5, operationTimeout: 30)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(error?.kind, .timedOut)
        XCTAssertEqual(error?.step, .handshake)
        XCTAssertEqual(error?.host, "127.0.0.1")
        XCTAssertEqual(error?.port, listener.port)
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains("127.0.0.1:\(listener.port)"), text)
        XCTAssertTrue(text.contains("handshake"), text)
        XCTAssertGreaterThanOrEqual(elapsed, 1.4)
        XCTAssertLessThan(elapsed, 3.0, "the connect timeout bounds the handshake")
    }

    func testHostThatNeverAnswersTheTCPHandshakeTimesOutAtConnect() throws {
        // A full accept queue makes Linux drop SYNs: the same silence as a firewall that drops packets.
        let listener = try LoopbackListener(backlog: 0)
        let fillers = listener.fillBacklog(count: 3)
        defer { for fd in fillers { close(fd) } }
        let key = try makeKey("ed25519")
        let started = Date()
        let error = expectSSHError {
            try SSHSession(
                target: SSHTarget(host: "127.0.0.1", port: listener.port), auth: .key(privateKeyPath: key, passphrase: nil),
                knownHostsPath: directory.appendingPathComponent("known_hosts").path, connectTimeout: 1, operationTimeout: 30)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(error?.step, .connect)
        XCTAssertEqual(error?.kind, .timedOut)
        XCTAssertTrue(error?.description.contains("127.0.0.1:\(listener.port)") ?? false)
        XCTAssertGreaterThanOrEqual(elapsed, 0.9)
        XCTAssertLessThan(elapsed, 2.5)
    }

    func testClosedPortFailsAtConnectRightAway() throws {
        let port = try LoopbackListener.freePort()
        let key = try makeKey("ed25519")
        let started = Date()
        let error = expectSSHError {
            try SSHSession(
                target: SSHTarget(host: "127.0.0.1", port: port), auth: .key(privateKeyPath: key, passphrase: nil),
                knownHostsPath: directory.appendingPathComponent("known_hosts").path, connectTimeout: 5)
        }
        XCTAssertEqual(error?.step, .connect)
        XCTAssertEqual(error?.kind, .connectionFailed)
        XCTAssertTrue(error?.reason.contains("refused") ?? false, "\(String(describing: error))")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    func testServerThatClosesImmediatelyIsAHandshakeError() throws {
        // sshd refuses every connection beyond MaxStartups; simplest stand-in: accept and close.
        let listener = try LoopbackListener()
        let key = try makeKey("ed25519")
        let listening = listener.fileDescriptor
        let closer = Thread {
            let fd = accept(listening, nil, nil)
            if fd >= 0 { close(fd) }
        }
        closer.start()
        let error = expectSSHError {
            try SSHSession(
                target: SSHTarget(host: "127.0.0.1", port: listener.port), auth: .key(privateKeyPath: key, passphrase: nil),
                knownHostsPath: directory.appendingPathComponent("known_hosts").path, connectTimeout: 5)
        }
        XCTAssertEqual(error?.step, .handshake)
        XCTAssertEqual(error?.kind, .protocolFailure)
    }

    func testLocalhostNameResolves() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let session = try SSHSession(
            target: SSHTarget(host: "localhost", port: server.port), auth: .key(privateKeyPath: key, passphrase: nil),
            knownHostsPath: try knownHosts(for: server, name: "[localhost]:\(server.port)"), connectTimeout: 5)
        XCTAssertEqual(try session.run("echo hi").stdoutText, "hi\n")
    }
}
