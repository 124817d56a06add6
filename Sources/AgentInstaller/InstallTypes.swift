import Fleet
import Foundation
import SSHClient

/// How `AgentInstaller` reaches nodes and what it installs.
public struct AgentInstallOptions: Sendable {
    /// The agent executable to copy (`agent` next to the coordinator by default).
    public var agentBinary: String
    /// The coordinator's CA: issues the agents' certificates and proves the coordinator to them.
    public var trust: TrustStore
    /// The SSH user when the inventory's `ssh:` names none.
    public var sshUser: String
    public var auth: SSHAuth
    public var knownHostsPath: String
    public var hostKeyPolicy: HostKeyPolicy
    /// Seconds for the TCP connect and SSH handshake together.
    public var connectTimeout: Double
    /// Seconds any later SSH step may wait for the host without progress.
    public var operationTimeout: Double
    /// Nodes worked on at once.
    public var parallel: Int
    /// Seconds to wait for the started agent to answer `agent.hello` over mutual TLS.
    public var helloTimeout: Double
    /// Where the node has no systemd: how the agent restarts Docker (`restart: command`), e.g. an init
    /// script path plus `restart`. Without it such nodes get `restart: sysv` (`/etc/init.d/docker restart`).
    public var dockerRestartCommand: String?
    /// dockerd's log file on the node, quoted by the agent when an apply fails (non-systemd nodes).
    public var dockerLogFile: String?

    public init(
        agentBinary: String, trust: TrustStore, sshUser: String = "root",
        auth: SSHAuth, knownHostsPath: String, hostKeyPolicy: HostKeyPolicy = .strict,
        connectTimeout: Double = 10, operationTimeout: Double = 60, parallel: Int = 8, helloTimeout: Double = 30,
        dockerRestartCommand: String? = nil, dockerLogFile: String? = nil
    ) {
        self.agentBinary = agentBinary
        self.trust = trust
        self.sshUser = sshUser
        self.auth = auth
        self.knownHostsPath = knownHostsPath
        self.hostKeyPolicy = hostKeyPolicy
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.parallel = max(1, parallel)
        self.helloTimeout = helloTimeout
        self.dockerRestartCommand = dockerRestartCommand
        self.dockerLogFile = dockerLogFile
    }
}

/// What happened on one node.
public enum InstallAction: String, Sendable, Codable {
    /// Fresh install: nothing of ours was there.
    case installed
    /// A different binary replaced the old one, which now answers as the new one.
    case upgraded
    /// Same binary; config, certificate or service files were rewritten and the agent restarted.
    case updated
    /// Everything already matched; nothing written, nothing restarted.
    case unchanged
    /// The new binary did not answer; the previous one was restored and answers again.
    case rolledBack = "rolled-back"
    /// Already answering `agent.hello` (install-missing only): left alone.
    case present
    /// Uninstall removed the agent.
    case uninstalled
    /// Uninstall found nothing to remove.
    case absent
    /// The step in `error` failed.
    case failed
}

/// One node's outcome: what was done, what changed, and on failure which step and why.
public struct NodeInstallReport: Sendable, Codable {
    public var node: String
    /// `user@host:port` of the SSH connection.
    public var ssh: String
    public var action: InstallAction
    /// `PRETTY_NAME` from /etc/os-release.
    public var os: String?
    /// `systemd` or `command` (the service script).
    public var initSystem: String?
    /// Remote paths written (install) or removed (uninstall).
    public var files: [String] = []
    /// Whether the agent process was (re)started.
    public var restarted = false
    /// The version the agent reported in `agent.hello`.
    public var agentVersion: String?
    /// Seconds from the stop of the old agent until the new one answered `agent.hello` (upgrades).
    public var gapSeconds: Double?
    /// Notes a person should read (e.g. the restart strategy chosen).
    public var warnings: [String] = []
    /// On failure: the step that failed (e.g. "uploading /usr/local/bin/bok-agent").
    public var step: String?
    public var error: String?
    public var seconds: Double = 0

    public var ok: Bool { action != .failed && action != .rolledBack }

    public init(node: String, ssh: String, action: InstallAction) {
        self.node = node
        self.ssh = ssh
        self.action = action
    }
}

/// A failed install step: which node and host, which step, why, and what to do.
public struct InstallError: Error, CustomStringConvertible, Sendable {
    public var node: String
    public var ssh: String
    public var step: String
    public var reason: String
    public var hint: String?

    public init(node: String, ssh: String, step: String, reason: String, hint: String? = nil) {
        self.node = node
        self.ssh = ssh
        self.step = step
        self.reason = reason
        self.hint = hint
    }

    public var description: String {
        var text = "node \(node) (\(ssh)): \(step) failed: \(reason)"
        if let hint { text += "\nhint: \(hint)" }
        return text
    }
}

/// Where to reach a node over SSH and where its agent listens.
public struct InstallTarget: Sendable, Equatable {
    public var name: String
    public var ssh: SSHTarget
    public var agentHost: String
    public var agentPort: Int

    /// From an inventory node: `ssh: [user@]HOST[:PORT]` (the agent's host when missing), `defaultUser`
    /// when the entry names no user.
    public init(node: Inventory.Node, defaultUser: String) throws(InstallError) {
        name = node.name
        agentHost = node.agentHost
        agentPort = node.agentPort
        let spec = node.ssh ?? node.agentHost
        guard let parsed = Self.parseSSH(spec, defaultUser: defaultUser) else {
            throw InstallError(
                node: node.name, ssh: spec, step: "reading the inventory",
                reason: "ssh must be [user@]HOST[:PORT], got '\(spec)'",
                hint: "Fix the node's `ssh:` entry, e.g. `ssh: root@10.0.0.5:22`.")
        }
        ssh = parsed
    }

    /// `[user@]HOST[:PORT]`, with `[v6]:port` for IPv6.
    public static func parseSSH(_ text: String, defaultUser: String) -> SSHTarget? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var user = defaultUser
        if let at = rest.lastIndex(of: "@") {
            user = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
            guard !user.isEmpty else { return nil }
        }
        guard !rest.isEmpty else { return nil }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty { return SSHTarget(host: host, port: 22, user: user) }
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else { return nil }
            return SSHTarget(host: host, port: port, user: user)
        }
        let colons = rest.filter { $0 == ":" }.count
        if colons == 1, let colon = rest.firstIndex(of: ":") {
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port), colon != rest.startIndex else { return nil }
            return SSHTarget(host: String(rest[..<colon]), port: port, user: user)
        }
        // A bare host name or an IPv6 literal without brackets.
        return SSHTarget(host: String(rest), port: 22, user: user)
    }
}
