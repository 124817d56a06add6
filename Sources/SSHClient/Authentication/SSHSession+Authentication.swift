import CLibSSH2
import Foundation

extension SSHSession {
    func authenticate(_ auth: SSHAuth, timeout: Double) throws(SSHError) {
        let deadline = Deadline(seconds: timeout)
        let raw = session.handle
        let user = target.user

        // Ask which methods the server takes, so a refusal can say what it does take. (With "none"
        // accepted, the list call already logs us in.)
        let list = try session.retry(
            .authentication, deadline, { libssh2_userauth_list(raw, user, UInt32(user.utf8.count)) },
            wouldBlock: { $0 == nil && libssh2_session_last_errno(raw) == LIBSSH2_ERROR_EAGAIN })
        guard let list else {
            if libssh2_userauth_authenticated(raw) != 0 { return }
            let (code, message) = session.lastError()
            throw SSHError(
                target, .authentication, .protocolFailure,
                "the server did not list its authentication methods (libssh2 \(code): \(message))")
        }
        let methods = String(cString: list).split(separator: ",").map(String.init)

        switch auth {
        case .key(let path, let passphrase):
            try authenticate(keyAt: path, passphrase: passphrase, methods: methods, deadline: deadline)
        case .password(let password):
            try authenticate(password: password, methods: methods, deadline: deadline)
        }
    }

    private func authenticate(keyAt path: String, passphrase: String?, methods: [String], deadline: Deadline) throws(SSHError) {
        let user = target.user
        guard methods.contains("publickey") else {
            throw SSHError(
                target, .authentication, .authenticationFailed,
                "the server does not accept public keys for \(user) (it offers: \(methods.joined(separator: ", ")))",
                hint: "Enable PubkeyAuthentication in the host's sshd_config.")
        }
        guard let contents = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw SSHError(
                target, .authentication, .localFile,
                exists ? "cannot read the identity file \(path)" : "the identity file \(path) does not exist",
                hint: exists
                    ? "Check its permissions."
                    : "Create a key with `ssh-keygen -t ed25519` and install its .pub on the host, or pass --identity.")
        }
        let keyFile = SSHKeyFile.inspect(String(decoding: contents, as: UTF8.self))
        guard let keyFile else {
            throw SSHError(
                target, .authentication, .localFile, "\(path) is not a private key",
                hint: "Pass the private key (e.g. ~/.ssh/id_ed25519), not the .pub file.")
        }
        if keyFile.algorithm == .securityKey {
            throw SSHError(
                target, .authentication, .localFile, "\(path) is a FIDO security key (sk-…), which libssh2 1.10 cannot use",
                hint: "Use an ed25519 key file without a hardware token for the coordinator.")
        }
        if keyFile.encrypted && (passphrase ?? "").isEmpty {
            throw SSHError(
                target, .authentication, .localFile, "the private key \(path) is encrypted and no passphrase was given",
                hint: "Give the passphrase, or use a key made for automation.")
        }

        let raw = session.handle
        let rc = try session.retry(.authentication, deadline) {
            bok_ssh2_userauth_publickey_fromfile(raw, user, nil, path, passphrase)
        }
        if rc == 0 { return }
        let (code, message) = session.lastError()
        switch code {
        case LIBSSH2_ERROR_FILE:
            throw SSHError(
                target, .authentication, .localFile,
                "libssh2 cannot use the private key \(path): \(message)",
                hint: keyFile.encrypted
                    ? "Check the passphrase."
                    : "libssh2 1.10 reads OpenSSH and PEM keys of type ed25519, ECDSA and RSA; "
                        + "convert others with `ssh-keygen -p -f \(path)`.")
        case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED, LIBSSH2_ERROR_AUTHENTICATION_FAILED:
            if keyFile.algorithm == .rsa {
                throw SSHError(
                    target, .authentication, .rsaSHA1Refused,
                    "the server refused the RSA key \(path) for \(user). libssh2 1.10 can sign with RSA keys only "
                        + "as SHA-1 `ssh-rsa`, which OpenSSH 8.8 and later (e.g. Debian 12's 9.2) refuse by default; "
                        + "or the key is not in \(user)'s authorized_keys",
                    hint:
                        "Use an ed25519 key: `ssh-keygen -t ed25519`, add the .pub to the host's authorized_keys and "
                        + "pass it with --identity. (Allowing `PubkeyAcceptedAlgorithms +ssh-rsa` on the server also works, "
                        + "but weakens it.)")
            }
            throw SSHError(
                target, .authentication, .authenticationFailed,
                "the server refused the \(Self.name(of: keyFile.algorithm)) key \(path) for user \(user)",
                hint:
                    "Add \(path).pub to ~\(user)/.ssh/authorized_keys on the host (e.g. `ssh-copy-id -i \(path).pub "
                    + "-p \(target.port) \(user)@\(target.host)`), or pass the right key with --identity.")
        default:
            throw SSHError(
                target, .authentication, .protocolFailure, "public key authentication failed (libssh2 \(code): \(message))")
        }
    }

    private func authenticate(password: String, methods: [String], deadline: Deadline) throws(SSHError) {
        let user = target.user
        guard methods.contains("password") else {
            throw SSHError(
                target, .authentication, .authenticationFailed,
                "the server does not accept passwords for \(user) (it offers: \(methods.joined(separator: ", ")))",
                hint: "Use a key (--identity), or enable PasswordAuthentication on the host.")
        }
        let raw = session.handle
        let rc = try session.retry(.authentication, deadline) { bok_ssh2_userauth_password(raw, user, password) }
        if rc == 0 { return }
        let (code, message) = session.lastError()
        switch code {
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
            throw SSHError(
                target, .authentication, .authenticationFailed, "the server refused the password for user \(user)",
                hint: "Check the user (--user) and the password.")
        case LIBSSH2_ERROR_PASSWORD_EXPIRED:
            throw SSHError(
                target, .authentication, .authenticationFailed, "the password of \(user) has expired",
                hint: "Log in once interactively to change it, or use a key.")
        default:
            throw SSHError(
                target, .authentication, .protocolFailure, "password authentication failed (libssh2 \(code): \(message))")
        }
    }

    private static func name(of algorithm: SSHKeyFile.Algorithm) -> String {
        switch algorithm {
        case .ed25519: "ed25519"
        case .ecdsa: "ECDSA"
        case .rsa: "RSA"
        case .dsa: "DSA"
        case .securityKey: "security"
        case .unknown(let name): name
        }
    }
}
