import Foundation
import SSHClient
import XCTest

final class SSHAuthenticationIntegrationTests: SSHTestCase {
    private func connect(_ server: TestSSHServer, auth: SSHAuth) throws -> SSHSession {
        try SSHSession(
            target: SSHTarget(host: "127.0.0.1", port: server.port), auth: auth,
            knownHostsPath: try knownHosts(for: server), connectTimeout: 5, operationTimeout: 10)
    }

    func testEd25519AndECDSAKeysLogIn() throws {
        for type in ["ed25519", "ecdsa"] {
            let key = try makeKey(type)
            let server = try startServer(authorizedKeys: [try publicKey(of: key)])
            let session = try connect(server, auth: .key(privateKeyPath: key, passphrase: nil))
            XCTAssertEqual(try session.run("echo \(type)").stdoutText, "\(type)\n")
        }
    }

    func testEncryptedKeyLogsInWithItsPassphrase() throws {
        let key = try makeKey("ed25519", passphrase: "correct horse")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let session = try connect(server, auth: .key(privateKeyPath: key, passphrase: "correct horse"))
        XCTAssertEqual(try session.run("true").exitStatus, 0)
    }

    func testEncryptedKeyWithoutPassphraseSaysSoBeforeConnectingTheServer() throws {
        let key = try makeKey("ed25519", passphrase: "correct horse")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let error = expectSSHError { try connect(server, auth: .key(privateKeyPath: key, passphrase: nil)) }
        XCTAssertEqual(error?.step, .authentication)
        XCTAssertEqual(error?.kind, .localFile)
        XCTAssertTrue(error?.reason.contains("encrypted") ?? false, "\(String(describing: error))")
    }

    func testWrongPassphraseIsALocalKeyError() throws {
        let key = try makeKey("ed25519", passphrase: "correct horse")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let error = expectSSHError { try connect(server, auth: .key(privateKeyPath: key, passphrase: "battery staple")) }
        XCTAssertEqual(error?.step, .authentication)
        XCTAssertEqual(error?.kind, .localFile)
        XCTAssertTrue(error?.description.contains(key) ?? false, "\(String(describing: error))")
    }

    func testKeyNotAuthorizedIsAClearAuthenticationError() throws {
        let authorized = try makeKey("ed25519")
        let other = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: authorized)])
        let error = expectSSHError { try connect(server, auth: .key(privateKeyPath: other, passphrase: nil)) }
        XCTAssertEqual(error?.step, .authentication)
        XCTAssertEqual(error?.kind, .authenticationFailed)
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains("refused the ed25519 key \(other)"), text)
        XCTAssertTrue(text.contains("authorized_keys"), text)
    }

    func testMissingIdentityFileIsNamed() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let missing = directory.appendingPathComponent("id_missing").path
        let error = expectSSHError { try connect(server, auth: .key(privateKeyPath: missing, passphrase: nil)) }
        XCTAssertEqual(error?.kind, .localFile)
        XCTAssertTrue(error?.reason.contains(missing) ?? false)
        XCTAssertTrue(error?.hint?.contains("ssh-keygen -t ed25519") ?? false)
    }

    func testPublicKeyFileGivenAsIdentityIsExplained() throws {
        let key = try makeKey("ed25519")
        let server = try startServer(authorizedKeys: [try publicKey(of: key)])
        let error = expectSSHError { try connect(server, auth: .key(privateKeyPath: key + ".pub", passphrase: nil)) }
        XCTAssertEqual(error?.kind, .localFile)
        XCTAssertTrue(error?.reason.contains("not a private key") ?? false)
    }

    /// What really happens with RSA between libssh2 1.10 and OpenSSH 9.2: libssh2 offers the key as
    /// `ssh-rsa` (SHA-1), sshd's default PubkeyAcceptedAlgorithms no longer has it, the key is refused
    /// although it is in authorized_keys.
    func testRSAKeyIsRefusedByOpenSSH9WithTheSHA1Explanation() throws {
        for pem in [false, true] {
            let key = try makeKey("rsa", bits: 2048, pem: pem)
            let server = try startServer(authorizedKeys: [try publicKey(of: key)])
            let error = expectSSHError { try connect(server, auth: .key(privateKeyPath: key, passphrase: nil)) }
            XCTAssertEqual(error?.step, .authentication)
            XCTAssertEqual(error?.kind, .rsaSHA1Refused, "pem: \(pem) \(String(describing: error))")
            let text = error?.description ?? ""
            XCTAssertTrue(text.contains("SHA-1"), text)
            XCTAssertTrue(text.contains("ssh-rsa"), text)
            XCTAssertTrue(text.contains("ed25519"), text)
            XCTAssertTrue(server.logEventually(contains: "ssh-rsa not in PubkeyAcceptedAlgorithms"), server.log)
        }
    }

    /// The counter-proof: the same key logs in once the server accepts SHA-1 signatures again.
    func testRSAKeyWorksWhenTheServerStillAcceptsSSHRSA() throws {
        let key = try makeKey("rsa", bits: 2048)
        let server = try startServer(authorizedKeys: [try publicKey(of: key)], extraConfig: ["PubkeyAcceptedAlgorithms +ssh-rsa"])
        let session = try connect(server, auth: .key(privateKeyPath: key, passphrase: nil))
        XCTAssertEqual(try session.run("echo rsa").stdoutText, "rsa\n")
    }

    func testPasswordLogsInWhenAskedForExplicitly() throws {
        let server = try startServer(authorizedKeys: [], rootPassword: "s3cret-for-this-test")
        let session = try connect(server, auth: .password("s3cret-for-this-test"))
        XCTAssertEqual(try session.run("id -u").stdoutText, "0\n")
        XCTAssertTrue(server.logEventually(contains: "Accepted password for root"), server.log)
    }

    func testWrongPasswordIsRefusedClearly() throws {
        let server = try startServer(authorizedKeys: [])
        let error = expectSSHError { try connect(server, auth: .password("definitely-not-the-root-password")) }
        XCTAssertEqual(error?.step, .authentication)
        XCTAssertEqual(error?.kind, .authenticationFailed)
        XCTAssertTrue(error?.reason.contains("refused the password for user root") ?? false, "\(String(describing: error))")
    }

    func testPasswordWhereTheServerTakesOnlyKeysSaysWhatItTakes() throws {
        let server = try startServer(authorizedKeys: [], extraConfig: ["PasswordAuthentication no"])
        let error = expectSSHError { try connect(server, auth: .password("x")) }
        XCTAssertEqual(error?.kind, .authenticationFailed)
        XCTAssertTrue(error?.reason.contains("does not accept passwords") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.reason.contains("publickey") ?? false)
    }

    func testAuthDescriptionNeverShowsSecrets() {
        XCTAssertFalse("\(SSHAuth.password("hunter2"))".contains("hunter2"))
        XCTAssertFalse("\(SSHAuth.key(privateKeyPath: "/k", passphrase: "hunter2"))".contains("hunter2"))
    }
}
