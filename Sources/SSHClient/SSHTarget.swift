/// Where to connect: a host, its SSH port and the user to log in as.
public struct SSHTarget: Sendable, Hashable, CustomStringConvertible {
    /// A host name or an IP address literal (IPv6 without brackets, e.g. `::1`).
    public var host: String
    /// The TCP port sshd listens on.
    public var port: Int
    /// The remote user name.
    public var user: String

    public init(host: String, port: Int = 22, user: String = "root") {
        self.host = host
        self.port = port
        self.user = user
    }

    /// `user@host:port` (IPv6 literals in brackets), for messages.
    public var description: String { "\(user)@\(hostAndPort)" }

    /// `host:port`, IPv6 literals in brackets.
    public var hostAndPort: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The name this host has in an OpenSSH known_hosts file: `host` on port 22, `[host]:port` otherwise.
    public var knownHostsName: String {
        port == 22 ? host : "[\(host)]:\(port)"
    }
}

/// How to prove who we are to the server.
public enum SSHAuth: Sendable, CustomStringConvertible {
    /// A private key file (ed25519, ECDSA or RSA; OpenSSH or PEM format), optionally encrypted.
    ///
    /// Prefer ed25519: libssh2 1.10 signs RSA keys only with SHA-1 (`ssh-rsa`), which OpenSSH 8.8 and
    /// later refuse by default.
    case key(privateKeyPath: String, passphrase: String?)
    /// A password. Only use it when the operator asked for it explicitly.
    case password(String)

    /// Never shows a passphrase or password.
    public var description: String {
        switch self {
        case .key(let path, let passphrase): "key \(path)\(passphrase == nil ? "" : " (with passphrase)")"
        case .password: "password (hidden)"
        }
    }
}

/// What to do with a host key that known_hosts does not list yet.
///
/// A host key that differs from the recorded one is refused under every policy.
public enum HostKeyPolicy: Sendable, Hashable {
    /// Unknown host keys are refused (the default).
    case strict
    /// Trust on first use: an unknown host key is accepted and appended to known_hosts.
    case acceptNew
}
