import Logging

extension SSHSession {
    /// Decides about the presented host key; returns true when it was trusted on first use and added
    /// to known_hosts.
    static func verify(
        _ key: PresentedHostKey, of target: SSHTarget, against knownHosts: KnownHostsFile, recorded: [KnownHostKeyType],
        policy: HostKeyPolicy, logger: Logger
    ) throws(SSHError) -> Bool {
        let name = target.knownHostsName
        let path = knownHosts.path
        let shown = "\(key.algorithm) key \(key.fingerprint)"
        guard let type = key.knownHostKeyType else {
            throw SSHError(
                target, .hostKey, .protocolFailure, "the server's \(shown) is of a type known_hosts checking does not support")
        }
        if knownHosts.revokedKeys.contains(key.base64) {
            throw SSHError(
                target, .hostKey, .hostKeyRevoked,
                "the host presented the \(shown), which \(path) marks as @revoked: refusing to connect",
                hint: "Someone may be impersonating the host with a retired key. Ask the host's administrator.")
        }
        switch knownHosts.check(name: name, key: key, type: type) {
        case .match:
            return false
        case .mismatch:
            throw SSHError(
                target, .hostKey, .hostKeyChanged,
                """

                @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
                @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
                @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
                \(name) presented the \(shown), but \(path) records a different \(key.algorithm) key for it.
                Someone could be intercepting this connection (man-in-the-middle), or the host was
                reinstalled and has new keys. The connection was refused; nothing was sent.
                """,
                hint:
                    "Only if you know the host's keys changed (reinstall, new VM), remove the old entry with "
                    + "`ssh-keygen -R '\(name)' -f \(path)` and connect again with --accept-new-host-keys. "
                    + "--accept-new-host-keys never replaces a recorded key by itself.")
        case .notFound:
            switch policy {
            case .strict:
                var reason = "the host key of \(name) is not in \(path); the host presented the \(shown)"
                if recorded == [.rsa] {
                    // OpenSSH clients may have recorded the RSA key; libssh2 1.10 cannot negotiate it.
                    reason +=
                        ". \(path) records only an RSA key for this host, which libssh2 1.10 cannot verify against "
                        + "OpenSSH 8.8 or later (it lacks rsa-sha2-256/512 host keys and the server no longer offers ssh-rsa)"
                } else if !recorded.isEmpty {
                    reason += ". \(path) records other key types for this host (\(recorded.map(\.name).joined(separator: ", ")))"
                }
                throw SSHError(
                    target, .hostKey, .unknownHostKey, reason,
                    hint:
                        "Compare this fingerprint with the host's own "
                        + "(`ssh-keygen -lf /etc/ssh/ssh_host_\(Self.keyFileStem(key.algorithm))_key.pub` on the host). "
                        + "If they match, connect once with --accept-new-host-keys to trust the key and record it in \(path)."
                )
            case .acceptNew:
                do throws(KnownHostsWriteError) {
                    try KnownHostsFile.append(name: name, key: key, to: path)
                } catch {
                    throw SSHError(
                        target, .hostKey, .localFile, "cannot record the new host key of \(name): \(error.reason)",
                        hint: "Check the permissions of \(path), or point --known-hosts at a writable file.")
                }
                logger.notice(
                    "Permanently added the host key to known_hosts",
                    metadata: ["host": "\(name)", "key": "\(shown)", "file": "\(path)"])
                return true
            }
        case .failure(let message):
            throw SSHError(target, .hostKey, .localFile, "checking \(path) failed: \(message)")
        }
    }

    /// `ed25519`, `ecdsa`, `rsa`: the stem OpenSSH uses for host key files.
    static func keyFileStem(_ algorithm: String) -> String {
        if algorithm.hasPrefix("ecdsa") { return "ecdsa" }
        if algorithm == "ssh-ed25519" { return "ed25519" }
        if algorithm.hasPrefix("rsa") || algorithm == "ssh-rsa" { return "rsa" }
        return "*"
    }
}
