import AgentInstaller
import ArgumentParser
import BoKSystem
import CryptoCLI
import Fleet
import Foundation
import Logging
import SSHClient

/// `coordinator agents install|uninstall`: agents over SSH (libssh2).
struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "Install, upgrade and remove BoK agents on the inventory's nodes over SSH.",
        subcommands: [AgentsInstall.self, AgentsUninstall.self])
}

/// How to log in to the nodes over SSH: shared by `agents install|uninstall` and `rollout --install-agents`.
struct SSHLoginOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("SSH user where the inventory's `ssh:` names none.", valueName: "USER"))
    var sshUser: String = "root"
    @Option(
        name: .long,
        help: ArgumentHelp("Private key to log in with (ed25519 recommended: libssh2 1.10 cannot use RSA keys with OpenSSH 8.8+).", valueName: "FILE")
    )
    var identity: String = "~/.ssh/id_ed25519"
    @Option(name: .long, help: ArgumentHelp("Environment variable holding the identity's passphrase.", valueName: "VAR"))
    var identityPassphraseEnv: String?
    @Option(name: .long, help: ArgumentHelp("OpenSSH known_hosts file the nodes' host keys are checked against.", valueName: "FILE"))
    var knownHosts: String = "~/.ssh/known_hosts"
    @Flag(name: .long, help: "Trust unknown host keys on first use and add them to --known-hosts (a changed key is always refused).")
    var acceptNewHostKeys = false
    @Option(name: .long, help: ArgumentHelp("Log in with the password in this environment variable instead of a key.", valueName: "VAR"))
    var passwordEnv: String?
    @Option(name: .long, help: "Seconds for the TCP connect and SSH handshake.")
    var connectTimeout: Double = 10

    func validate() throws {
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be positive.") }
        for name in [passwordEnv, identityPassphraseEnv].compactMap({ $0 }) where ProcessInfo.processInfo.environment[name] == nil {
            throw ValidationError("The environment variable \(name) is not set.")
        }
    }
}

/// What to install and how the installed agent restarts Docker: shared by `agents install` and
/// `rollout --install-agents`.
struct AgentInstallFlags: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The agent executable to install (default: the build of scripts/build-agent.sh, built when missing).", valueName: "PATH"))
    var agentBinary: String?
    @Option(name: .long, help: "Seconds to wait for the started agent to answer agent.hello.")
    var helloTimeout: Double = 30
    @Option(
        name: .long,
        help: ArgumentHelp(
            "On nodes without systemd: the command the agent restarts Docker with (default: /etc/init.d/docker restart).", valueName: "CMD"))
    var dockerRestartCommand: String?
    @Option(name: .long, help: ArgumentHelp("On nodes without systemd: dockerd's log file, quoted when a DNS apply fails.", valueName: "PATH"))
    var dockerLogFile: String?

    func validate() throws {
        guard helloTimeout > 0 else { throw ValidationError("--hello-timeout must be positive.") }
    }

    /// The installer's options for these flags and this login. Without --agent-binary: the shipped
    /// build (scripts/build-agent.sh), built first when missing; says on stderr which file it installs.
    func installOptions(trust: TrustStore, login: SSHLoginOptions, parallel: Int, operationTimeout: Double) throws -> AgentInstallOptions {
        let binary: String
        if let agentBinary {
            binary = expandingTilde(agentBinary)
        } else {
            do {
                binary = try ShippedAgent.locate { StandardError.print("coordinator: \($0)") }
            } catch {
                StandardError.print("coordinator: \(error)")
                throw ExitCode(CoordinatorExit.failure)
            }
        }
        let size =
            (try? FileManager.default.attributesOfItem(atPath: binary)[.size] as? Int).map { String(format: ", %.1f MiB", Double($0) / 1_048_576) }
            ?? ""
        StandardError.print(
            "coordinator: agent binary \(binary)\(size)\(agentBinary == nil ? " (the shipped build; --agent-binary to choose another)" : "")")
        var options = login.installOptions(trust: trust, agentBinary: binary, parallel: parallel, operationTimeout: operationTimeout)
        options.helloTimeout = helloTimeout
        options.dockerRestartCommand = dockerRestartCommand
        options.dockerLogFile = dockerLogFile
        return options
    }
}

extension SSHLoginOptions {
    /// The installer's options for this login (install flags at their defaults).
    func installOptions(trust: TrustStore, agentBinary: String, parallel: Int, operationTimeout: Double) -> AgentInstallOptions {
        let environment = ProcessInfo.processInfo.environment
        let auth: SSHAuth =
            if let passwordEnv, let password = environment[passwordEnv] {
                .password(password)
            } else {
                .key(privateKeyPath: expandingTilde(identity), passphrase: identityPassphraseEnv.flatMap { environment[$0] })
            }
        return AgentInstallOptions(
            agentBinary: agentBinary, trust: trust, sshUser: sshUser, auth: auth,
            knownHostsPath: expandingTilde(knownHosts), hostKeyPolicy: acceptNewHostKeys ? .acceptNew : .strict,
            connectTimeout: connectTimeout, operationTimeout: operationTimeout, parallel: parallel)
    }
}

func expandingTilde(_ path: String) -> String { NSString(string: path).expandingTildeInPath }

/// Which nodes, how to reach them over SSH, how many at once, and the report format.
struct AgentsSSHOptions: ParsableArguments {
    @OptionGroup var selection: InventorySelection
    @OptionGroup var login: SSHLoginOptions
    @Option(name: .long, help: "How many nodes to work on at once.")
    var parallel: Int = 8
    @Option(name: .long, help: "Seconds any later SSH step may wait for the node without progress.")
    var timeout: Double = 60
    @Flag(name: .long, help: "Print the per-node report as JSON (progress lines still go to stderr).")
    var json = false

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1.") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive.") }
    }

    func loadInventory() throws -> Inventory { try selection.load() }

    /// Progress lines (`HH:MM:SS node: message`) on stderr, whatever the output format.
    static func progress() -> @Sendable (String, String) -> Void {
        let display = ProgressDisplay(enabled: true)
        return { node, message in display.say("\(node): \(message)") }
    }

    static func logger() -> Logger {
        var logger = Logger(label: "bok.coordinator.install")
        logger.logLevel = .warning
        return logger
    }

    /// The summary (table or JSON); exit 1 when any node failed.
    func finish(_ reports: [NodeInstallReport]) throws {
        if json {
            JSONOutput.print(reports)
        } else {
            let rows = reports.map { r -> [String] in
                [
                    r.node, r.ssh, r.action.rawValue.uppercased(), r.initSystem ?? "-", r.agentVersion ?? "-",
                    r.gapSeconds.map { r.restarted ? String(format: "%.2fs", $0) : "-" } ?? "-", "\(r.files.count)",
                    String(format: "%.1fs", r.seconds),
                ]
            }
            print(TextTable.render(["NODE", "SSH", "RESULT", "INIT", "AGENT", "GAP", "FILES", "TIME"], rows))
            for r in reports {
                for w in r.warnings { print("  \(r.node): warning: \(w)") }
                if let error = r.error { print("  \(r.node): \(error)") }
            }
            let failed = reports.filter { !$0.ok }.map(\.node)
            print(failed.isEmpty ? "all \(reports.count) node(s) ok" : "FAILED: \(failed.joined(separator: ", "))")
        }
        if reports.contains(where: { !$0.ok }) { throw ExitCode(CoordinatorExit.failure) }
    }
}

struct AgentsInstall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install or upgrade the agent on each node over SSH and wait until it answers agent.hello over mutual TLS.",
        discussion: """
            Per node: detect the OS and init system, upload the agent binary (/usr/local/bin/bok-agent), \
            /etc/bok/agent.yaml, the agent certificate and key (0600) issued from the coordinator's CA, the CA, and \
            the systemd unit (or, without systemd, a service script), start it, and wait for agent.hello. \
            Files are written only when their content differs; an identical re-run restarts nothing. A different binary \
            is swapped in atomically, the old one kept as bok-agent.prev and restored when the new one does not answer.
            Exit status: 0 when every node is ok, 1 when any failed (or was rolled back), 2 on a usage error.
            """)
    @OptionGroup var ssh: AgentsSSHOptions
    @OptionGroup var agent: AgentInstallFlags
    @Flag(name: .long, help: "Only nodes whose agent does not answer agent.hello; leave the others alone.")
    var missingOnly = false

    func run() async throws {
        let inventory = try ssh.loadInventory()
        let options = try agent.installOptions(trust: inventory.trust, login: ssh.login, parallel: ssh.parallel, operationTimeout: ssh.timeout)
        let installer = AgentInstaller(options: options, logger: AgentsSSHOptions.logger(), progress: AgentsSSHOptions.progress())
        let reports = missingOnly ? await installer.installMissing(nodes: inventory.nodes) : await installer.install(nodes: inventory.nodes)
        try ssh.finish(reports)
    }
}

struct AgentsUninstall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uninstall",
        abstract: "Stop and disable the agent on each node and remove every file install wrote.",
        discussion: "Exit status: 0 when every node is clean, 1 when any failed, 2 on a usage error.")
    @OptionGroup var ssh: AgentsSSHOptions

    func run() async throws {
        let inventory = try ssh.loadInventory()
        let options = ssh.login.installOptions(
            trust: inventory.trust, agentBinary: "", parallel: ssh.parallel,
            operationTimeout: ssh.timeout)
        let installer = AgentInstaller(
            options: options, logger: AgentsSSHOptions.logger(),
            progress: AgentsSSHOptions.progress())
        try ssh.finish(await installer.uninstall(nodes: inventory.nodes))
    }
}
