import Foundation

/// What a private key file holds, read without decrypting it, so an authentication failure can be
/// explained (an RSA key fails for a reason an ed25519 key does not).
struct SSHKeyFile: Equatable {
    enum Algorithm: Equatable {
        case ed25519
        case ecdsa
        case rsa
        case dsa
        /// FIDO keys (`sk-ssh-ed25519@openssh.com`, `sk-ecdsa-…`): libssh2 1.10 cannot use them.
        case securityKey
        case unknown(String)
    }

    enum Format: Equatable {
        case openSSH
        case pem
        case pkcs8
        case unknown
    }

    var algorithm: Algorithm
    var format: Format
    /// True when the key needs a passphrase (known for OpenSSH and legacy PEM formats).
    var encrypted: Bool

    /// Reads the key type from the file's text; `nil` when it is not a private key at all.
    static func inspect(_ text: String) -> SSHKeyFile? {
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") { return inspectOpenSSH(text) }
        let pemTypes: [(String, Algorithm)] = [
            ("RSA PRIVATE KEY", .rsa), ("EC PRIVATE KEY", .ecdsa), ("DSA PRIVATE KEY", .dsa),
        ]
        for (label, algorithm) in pemTypes where text.contains("-----BEGIN \(label)-----") {
            return SSHKeyFile(algorithm: algorithm, format: .pem, encrypted: text.contains("Proc-Type: 4,ENCRYPTED"))
        }
        if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return SSHKeyFile(algorithm: .unknown("PKCS#8"), format: .pkcs8, encrypted: true)
        }
        if text.contains("-----BEGIN PRIVATE KEY-----") {
            return SSHKeyFile(algorithm: .unknown("PKCS#8"), format: .pkcs8, encrypted: false)
        }
        return nil
    }

    static func algorithm(named name: String) -> Algorithm {
        switch name {
        case "ssh-ed25519": .ed25519
        case "ssh-rsa": .rsa
        case "ssh-dss": .dsa
        case _ where name.hasPrefix("ecdsa-sha2-"): .ecdsa
        case _ where name.hasPrefix("sk-"): .securityKey
        default: .unknown(name)
        }
    }

    /// `openssh-key-v1`: magic, cipher name, KDF name, KDF options, key count, then the first public
    /// key blob, whose first string is the algorithm. All of it is stored unencrypted.
    private static func inspectOpenSSH(_ text: String) -> SSHKeyFile? {
        let body = text.split(whereSeparator: \.isNewline)
            .filter { !$0.hasPrefix("-----") }
            .joined()
        guard let data = Data(base64Encoded: body) else { return nil }
        var reader = WireReader(buffer: [UInt8](data))
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard reader.take(magic.count) == magic,
            let cipher = reader.string(),
            reader.string() != nil,  // KDF name
            reader.string() != nil,  // KDF options
            let count = reader.uint32(), count >= 1,
            let publicKey = reader.bytes()
        else { return nil }
        var keyReader = WireReader(buffer: publicKey)
        guard let name = keyReader.string() else { return nil }
        return SSHKeyFile(algorithm: algorithm(named: name), format: .openSSH, encrypted: cipher != "none")
    }
}

/// Reads RFC 4251 wire types (`uint32`, `string`) from a byte array.
struct WireReader {
    let buffer: [UInt8]
    var offset = 0

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, buffer.count - offset >= count else { return nil }
        defer { offset += count }
        return Array(buffer[offset..<(offset + count)])
    }

    mutating func uint32() -> UInt32? {
        guard let raw = take(4) else { return nil }
        return raw.reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func bytes() -> [UInt8]? {
        guard let length = uint32() else { return nil }
        return take(Int(length))
    }

    mutating func string() -> String? {
        bytes().map { String(decoding: $0, as: UTF8.self) }
    }
}
