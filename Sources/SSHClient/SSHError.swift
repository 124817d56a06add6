/// Everything that can go wrong in an SSH session, with what a person needs to act on it:
/// which host, which step, why, and what to do next.
public struct SSHError: Error, CustomStringConvertible, Sendable {
    /// The step that failed.
    public enum Step: String, Sendable, Hashable {
        case connect
        case handshake
        case hostKey = "host key"
        case authentication
        case exec
        case upload
        case download
        case kubeconfig
        case writeOutput = "write output"
    }

    /// The class of failure, for code that must react differently (tests, retries, exit codes).
    public enum Kind: Sendable, Hashable {
        /// The host did not answer within the configured time.
        case timedOut
        /// TCP connection refused, unreachable, name not resolved.
        case connectionFailed
        /// The peer broke the SSH protocol or closed the connection.
        case protocolFailure
        /// The host key is not in known_hosts and the policy is strict.
        case unknownHostKey
        /// The host key differs from the one recorded in known_hosts.
        case hostKeyChanged
        /// The host key is marked `@revoked` in known_hosts.
        case hostKeyRevoked
        /// The server refused our key or password.
        case authenticationFailed
        /// The server refused an RSA key because libssh2 1.10 signs with SHA-1 (`ssh-rsa`).
        case rsaSHA1Refused
        /// A local file (identity, known_hosts, output) could not be read or written.
        case localFile
        /// A remote file operation failed (permission denied, no space, a directory in the way).
        case remoteFile
        /// A remote file or directory does not exist.
        case remoteFileNotFound
        /// A remote command ran but failed.
        case commandFailed
        /// The caller passed something unusable (empty command, bad path).
        case invalidArgument
        /// Downloaded content is not what was expected.
        case invalidContent
    }

    /// The host as given by the caller.
    public var host: String
    /// The SSH port.
    public var port: Int
    /// The step that failed.
    public var step: Step
    /// The class of failure.
    public var kind: Kind
    /// What happened, in words.
    public var reason: String
    /// What to do next, when there is something to say.
    public var hint: String?

    public init(host: String, port: Int, step: Step, kind: Kind, reason: String, hint: String? = nil) {
        self.host = host
        self.port = port
        self.step = step
        self.kind = kind
        self.reason = reason
        self.hint = hint
    }

    init(_ target: SSHTarget, _ step: Step, _ kind: Kind, _ reason: String, hint: String? = nil) {
        self.init(host: target.host, port: target.port, step: step, kind: kind, reason: reason, hint: hint)
    }

    public var description: String {
        let place = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var text = "ssh \(place): \(step.rawValue) failed: \(reason)"
        if let hint { text += "\nhint: \(hint)" }
        return text
    }
}
