import BoKSystem
import Foundation
import XCTest

@testable import SSHClient

/// Key files as ssh-keygen writes them are recognised without decrypting anything.
final class SSHKeyFileIntegrationTests: SSHTestCase {
    private func inspect(_ path: String) throws -> SSHKeyFile? {
        SSHKeyFile.inspect(try String(contentsOfFile: path, encoding: .utf8))
    }

    func testOpenSSHFormatKeys() throws {
        XCTAssertEqual(try inspect(try makeKey("ed25519")), SSHKeyFile(algorithm: .ed25519, format: .openSSH, encrypted: false))
        XCTAssertEqual(try inspect(try makeKey("ecdsa")), SSHKeyFile(algorithm: .ecdsa, format: .openSSH, encrypted: false))
        XCTAssertEqual(
            try inspect(try makeKey("rsa", bits: 2048)), SSHKeyFile(algorithm: .rsa, format: .openSSH, encrypted: false))
        XCTAssertEqual(
            try inspect(try makeKey("ed25519", passphrase: "secret")),
            SSHKeyFile(algorithm: .ed25519, format: .openSSH, encrypted: true))
    }

    func testPEMFormatKeys() throws {
        XCTAssertEqual(
            try inspect(try makeKey("rsa", bits: 2048, pem: true)), SSHKeyFile(algorithm: .rsa, format: .pem, encrypted: false))
        XCTAssertEqual(
            try inspect(try makeKey("ecdsa", pem: true)), SSHKeyFile(algorithm: .ecdsa, format: .pem, encrypted: false))
    }

    func testPublicKeyIsNotAPrivateKey() throws {
        XCTAssertNil(try inspect(try makeKey("ed25519") + ".pub"))
        XCTAssertNil(SSHKeyFile.inspect("-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n"))
    }

    func testSecurityKeyAlgorithmNames() {
        XCTAssertEqual(SSHKeyFile.algorithm(named: "sk-ssh-ed25519@openssh.com"), .securityKey)
        XCTAssertEqual(SSHKeyFile.algorithm(named: "ecdsa-sha2-nistp384"), .ecdsa)
    }

    func testShellQuoting() {
        XCTAssertEqual(shellQuoted("plain"), "'plain'")
        XCTAssertEqual(shellQuoted("it's"), #"'it'\''s'"#)
    }

    func testKnownHostsNames() {
        XCTAssertEqual(SSHTarget(host: "m1", port: 22).knownHostsName, "m1")
        XCTAssertEqual(SSHTarget(host: "m1", port: 2222).knownHostsName, "[m1]:2222")
        XCTAssertEqual(SSHTarget(host: "fd00::1", port: 22, user: "admin").description, "admin@[fd00::1]:22")
    }

    func testFingerprintLooksLikeOpenSSHs() {
        XCTAssertEqual(
            PresentedHostKey.fingerprint(sha256: [UInt8](repeating: 0, count: 32)),
            "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    }
}
