import ArgumentParser
import CryptoCLI
import Foundation
import Logging
import SSHClient

/// `coordinator kubeconfig …`: the cluster's kubeconfig.
struct KubeconfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubeconfig",
        abstract: "Work with the cluster's kubeconfig.",
        subcommands: [KubeconfigFetchCommand.self]
    )
}

/// `coordinator kubeconfig fetch`: copy the kubeconfig from a master over SSH.
struct KubeconfigFetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Copy the kubeconfig from a Kubernetes master over SSH.",
        discussion: """
            Downloads BoK's /var/srv/kubernetes/kubeconfig.json (or else kubeadm's /etc/kubernetes/admin.conf, \
            or --path), points a loopback `server:` address (127.x, localhost, ::1) at the master, and writes \
            the result with mode 0600. The host key must be in --known-hosts unless --accept-new-host-keys is given.
            Exit status: 0 on success, 1 on failure, 64 on a usage error.
            """
    )

    @Option(help: "The master's host name or IP address.")
    var master: String

    @Option(help: "The kubeconfig's path on the master (default: BoK's, then kubeadm's).")
    var path: String?

    @Option(help: "Where to write the kubeconfig.")
    var output: String = "~/.kube/config"

    @Flag(
        help:
            "Replace an existing output file with different content (the old one is kept as <output>.bak)."
    )
    var force = false

    @Option(help: "The SSH user on the master.")
    var user: String = "root"

    @Option(help: "The SSH port on the master.")
    var port: Int = 22

    @Option(
        help:
            "The private key to log in with (ed25519 recommended: libssh2 1.10 cannot use RSA keys with OpenSSH 8.8+)."
    )
    var identity: String = "~/.ssh/id_ed25519"

    @Option(help: "The name of an environment variable that holds the identity's passphrase.")
    var identityPassphraseEnv: String?

    @Option(help: "An OpenSSH known_hosts file to check the master's host key against.")
    var knownHosts: String = "~/.ssh/known_hosts"

    @Flag(
        help:
            "Trust an unknown host key on first use and add it to --known-hosts (a changed key is always refused)."
    )
    var acceptNewHostKeys = false

    @Option(help: "Log in with the password in this environment variable instead of a key.")
    var passwordEnv: String?

    @Option(
        help:
            "The address to put into a loopback `server:` URL, when the API is reached under another name than SSH (default: --master)."
    )
    var serverHost: String?

    @Option(
        help:
            "Seconds to wait for the master: for the TCP connect and SSH handshake, and for each later step."
    )
    var timeout: Double = 10

    func validate() throws {
        guard (1...65535).contains(port) else {
            throw ValidationError("--port must be between 1 and 65535.")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive.") }
        guard !master.isEmpty else { throw ValidationError("--master must not be empty.") }
        for name in [passwordEnv, identityPassphraseEnv].compactMap({ $0 })
        where ProcessInfo.processInfo.environment[name] == nil {
            throw ValidationError("The environment variable \(name) is not set.")
        }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let auth: SSHAuth =
            if let passwordEnv, let password = environment[passwordEnv] {
                .password(password)
            } else {
                .key(
                    privateKeyPath: expand(identity),
                    passphrase: identityPassphraseEnv.flatMap { environment[$0] })
            }
        var logger = Logger(label: "bok.coordinator.ssh")
        logger.logLevel = .warning

        do throws(SSHError) {
            let session = try SSHSession(
                target: SSHTarget(host: master, port: port, user: user), auth: auth,
                knownHostsPath: expand(knownHosts),
                hostKeyPolicy: acceptNewHostKeys ? .acceptNew : .strict, connectTimeout: timeout,
                operationTimeout: timeout,
                logger: logger)
            if session.hostKey.addedToKnownHosts {
                printError(
                    "Added the \(session.hostKey.algorithm) host key \(session.hostKey.fingerprint) of "
                        + "\(session.target.knownHostsName) to \(expand(knownHosts)).")
            }
            let outcome = try KubeconfigFetch(
                remotePath: path, outputPath: expand(output), force: force, serverHost: serverHost
            )
            .run(over: session)
            if outcome.wrote {
                print(
                    "Copied \(outcome.remotePath) from \(session.target) to \(outcome.outputPath) (mode 0600)."
                )
                if let backup = outcome.backupPath { print("The previous file is kept as \(backup).") }
            } else {
                print("\(outcome.outputPath) already matches \(outcome.remotePath) on \(session.target).")
            }
            for change in outcome.changes { print("server: \(change)") }
            if outcome.changes.isEmpty {
                print("server: \(outcome.servers.joined(separator: ", ")) (unchanged)")
            }
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }

    private func expand(_ path: String) -> String { NSString(string: path).expandingTildeInPath }

    private func printError(_ text: String) {
        StandardError.print(text)
    }
}
