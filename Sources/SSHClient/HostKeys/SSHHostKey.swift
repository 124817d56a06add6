import CLibSSH2
import Foundation

/// The host key a server presented, as OpenSSH shows it.
public struct SSHHostKey: Sendable, Hashable {
    /// The key's algorithm name as written in known_hosts, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`.
    public let algorithm: String
    /// `SHA256:` and the unpadded base64 of the key's SHA-256, exactly like `ssh-keygen -l`.
    public let fingerprint: String
    /// The public key blob in base64, as in known_hosts.
    public let base64: String
    /// True when this connection trusted the key on first use and appended it to known_hosts.
    public let addedToKnownHosts: Bool
}

/// The key the server presented during the handshake, before any decision about it.
struct PresentedHostKey {
    let blob: [UInt8]
    /// `LIBSSH2_HOSTKEY_TYPE_*`.
    let libssh2Type: Int32
    let sha256: [UInt8]

    /// The algorithm name at the start of the blob (`string` in RFC 4253 wire format).
    var algorithm: String {
        guard blob.count >= 4 else { return "unknown" }
        let length = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard length > 0, length <= blob.count - 4 else { return "unknown" }
        return String(decoding: blob[4..<(4 + length)], as: UTF8.self)
    }

    var base64: String { Data(blob).base64EncodedString() }

    var fingerprint: String { Self.fingerprint(sha256: sha256) }

    static func fingerprint(sha256: [UInt8]) -> String {
        var encoded = Data(sha256).base64EncodedString()
        while encoded.hasSuffix("=") { encoded.removeLast() }
        return "SHA256:" + encoded
    }

    /// The matching `LIBSSH2_KNOWNHOST_KEY_*` bits, or nil for a type known_hosts checks cannot express.
    var knownHostKeyType: KnownHostKeyType? { KnownHostKeyType(libssh2HostKeyType: libssh2Type) }

    func publicValue(added: Bool) -> SSHHostKey {
        SSHHostKey(algorithm: algorithm, fingerprint: fingerprint, base64: base64, addedToKnownHosts: added)
    }
}

/// Host key families as libssh2's known-hosts code tells them apart, with the handshake algorithms
/// that produce a key of each family.
enum KnownHostKeyType: CaseIterable {
    case ed25519, ecdsa256, ecdsa384, ecdsa521, rsa

    init?(libssh2HostKeyType type: Int32) {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: self = .ed25519
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: self = .ecdsa256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: self = .ecdsa384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: self = .ecdsa521
        case LIBSSH2_HOSTKEY_TYPE_RSA: self = .rsa
        default: return nil
        }
    }

    /// The name for messages.
    var name: String {
        switch self {
        case .ed25519: "ed25519"
        case .ecdsa256: "ecdsa-sha2-nistp256"
        case .ecdsa384: "ecdsa-sha2-nistp384"
        case .ecdsa521: "ecdsa-sha2-nistp521"
        case .rsa: "RSA"
        }
    }

    /// `LIBSSH2_KNOWNHOST_KEY_*`.
    var typemask: Int32 {
        switch self {
        case .ed25519: LIBSSH2_KNOWNHOST_KEY_ED25519
        case .ecdsa256: LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case .ecdsa384: LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case .ecdsa521: LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case .rsa: LIBSSH2_KNOWNHOST_KEY_SSHRSA
        }
    }

    /// Host key algorithms that yield this kind of key, best first. libssh2 1.10 knows only `ssh-rsa`
    /// (SHA-1) of the RSA ones and drops the others from the list; OpenSSH 8.8+ no longer offers
    /// `ssh-rsa`, so an RSA host key cannot be negotiated with them. Later libssh2 versions use the
    /// rsa-sha2 names.
    var handshakeAlgorithms: [String] {
        switch self {
        case .ed25519: ["ssh-ed25519"]
        case .ecdsa256: ["ecdsa-sha2-nistp256"]
        case .ecdsa384: ["ecdsa-sha2-nistp384"]
        case .ecdsa521: ["ecdsa-sha2-nistp521"]
        case .rsa: ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        }
    }

    /// Host key algorithms to ask for: those of the key types known_hosts already holds for this host
    /// first (as OpenSSH does, so a host recorded with one key type is not met with another), then the
    /// rest, ed25519 first.
    static func preferredAlgorithms(known: [KnownHostKeyType]) -> [String] {
        let ordered = known + allCases.filter { !known.contains($0) }
        return ordered.flatMap(\.handshakeAlgorithms)
    }
}
