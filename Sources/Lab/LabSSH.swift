import BoKSystem
import DockerEngine
import Fleet
import Foundation

/// A real OpenSSH `sshd` per lab node (`lab up --ssh`), for `coordinator agents install`: host keys
/// made once per node, one ed25519 client key for the coordinator, one known_hosts for the lab.
public struct LabSSH: Codable, Sendable, Equatable {
    /// `<root>/ssh`: the client key, authorized_keys and known_hosts.
    public var dir: String
    public var user: String
    public var port: Int

    public var identity: String { dir + "/id_ed25519" }
    public var authorizedKeys: String { dir + "/authorized_keys" }
    public var knownHosts: String { dir + "/known_hosts" }

    public init(dir: String, user: String = "root", port: Int = 22) {
        self.dir = dir
        self.user = user
        self.port = port
    }

    /// Where a node's sshd keeps its host key, config, PID file and log (host-side paths).
    public static func nodeDir(_ node: LabNode) -> String { node.dir + "/ssh" }
    public static func hostKey(_ node: LabNode) -> String { nodeDir(node) + "/ssh_host_ed25519_key" }
    public static func config(_ node: LabNode) -> String { nodeDir(node) + "/sshd_config" }
    public static func pidFile(_ node: LabNode) -> String { nodeDir(node) + "/sshd.pid" }
    public static func log(_ node: LabNode) -> String { node.logDir + "/sshd.log" }

    /// Makes an ed25519 key pair (no passphrase) at `path` unless one is there.
    static func ensureKey(_ path: String, comment: String, step: String) throws(LabError) {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        try Host.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], step: step)
    }

    /// The directories `agents install` writes, bind-mounted privately in each node's mount namespace.
    static let installDirs: [(inside: String, name: String)] = [
        ("/etc/bok", "etc-bok"), ("/usr/local/bin", "usr-local-bin"), ("/usr/local/lib/bok", "usr-local-lib-bok"),
        ("/var/lib/bok-agent", "var-lib-bok-agent"), ("/etc/systemd/system", "etc-systemd-system"),
    ]

    /// The node's own copy of an install directory (host-side path).
    public static func installDir(_ node: LabNode, _ inside: String) -> String? {
        installDirs.first { $0.inside == inside }.map { node.dir + "/" + $0.name }
    }
}

extension LabEnvironment {
    /// Host-side dirs and mount lines for the install directories of a node (with `--ssh`).
    static func installMounts(_ node: LabNode) throws(LabError) -> [String] {
        var lines: [String] = []
        for d in LabSSH.installDirs {
            try Host.mkdir(node.dir + "/" + d.name)
            try Host.mkdir(d.inside)
            lines.append("mount --bind '\(node.dir)/\(d.name)' \(d.inside)")
        }
        return lines
    }

    /// Keys, known_hosts, one sshd per node, the CA and an inventory with SSH addresses. No agents.
    static func startSSH(_ state: LabState, ssh: LabSSH, agentPort: Int, progress: (String) -> Void) throws(LabError) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") else {
            throw LabError(step: "starting sshd", detail: "/usr/sbin/sshd is missing; run scripts/install-deps.sh (openssh-server)")
        }
        try Host.mkdir(ssh.dir)
        try LabSSH.ensureKey(ssh.identity, comment: "bok-lab-coordinator", step: "creating the lab's client key")
        let clientKey = try Host.read(ssh.identity + ".pub", step: "reading the lab's client key")
        try Host.write(clientKey, to: ssh.authorizedKeys, mode: 0o600)

        var knownHosts = ""
        for node in state.nodes {
            progress("node \(node.name): sshd on \(node.address):\(ssh.port)")
            try Host.mkdir(LabSSH.nodeDir(node))
            // Host keys are made once per node, here, before anything connects: nothing can race them.
            try LabSSH.ensureKey(LabSSH.hostKey(node), comment: "bok-lab-\(node.name)", step: "creating the host key of \(node.name)")
            let pub = try Host.read(LabSSH.hostKey(node) + ".pub", step: "reading the host key of \(node.name)")
            let fields = pub.split(separator: " ")
            guard fields.count >= 2 else { throw LabError(step: "reading the host key of \(node.name)", detail: "unexpected format: \(pub)") }
            let name = ssh.port == 22 ? node.address : "[\(node.address)]:\(ssh.port)"
            knownHosts += "\(name) \(fields[0]) \(fields[1])\n"
            if node.machine != nil {
                // A systemd node runs its own ssh.service with this host key (LabMachine): wait for it.
                try waitForSSH(node, port: ssh.port)
                continue
            }
            try Host.write(
                """
                # sshd of lab node \(node.name) (written by `coordinator lab up --ssh`)
                Port \(ssh.port)
                ListenAddress \(node.address)
                HostKey \(LabSSH.hostKey(node))
                PidFile \(LabSSH.pidFile(node))
                AuthorizedKeysFile \(ssh.authorizedKeys)
                UsePAM no
                StrictModes no
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                Subsystem sftp internal-sftp
                LogLevel VERBOSE

                """, to: LabSSH.config(node))
            try startSSHD(node)
        }
        try Host.write(knownHosts, to: ssh.knownHosts, mode: 0o644)

        // The CA install issues agent certificates from, and the inventory it reads.
        let trust = trust(state)
        do {
            if !trust.exists { try trust.initialize(commonName: "BoK lab CA (\(state.name))") }
        } catch { throw LabError(step: "creating the lab CA", detail: "\(error)") }
        let inventory = Inventory(
            path: state.inventory,
            nodes: state.nodes.map {
                Inventory.Node(
                    name: $0.name, agent: "\($0.address):\(agentPort)",
                    ssh: "\(ssh.user)@\($0.address):\(ssh.port)")
            },
            caDir: trust.dir, kubeDNS: state.kubeDNS)
        try Host.write(inventory.yaml(), to: state.inventory)
    }

    /// Starts one node's sshd inside its network + mount namespace and waits for its banner.
    public static func startSSHD(_ node: LabNode) throws(LabError) {
        try? FileManager.default.removeItem(atPath: LabSSH.pidFile(node))
        let mk = node.run(["mkdir", "-p", "/run/sshd"])
        guard mk.succeeded else { throw LabError(step: "creating /run/sshd in \(node.name)", detail: mk.tail(3).joined(separator: " | ")) }
        let r = node.run(["/usr/sbin/sshd", "-f", LabSSH.config(node), "-E", LabSSH.log(node)], timeout: 30)
        guard r.succeeded else {
            throw LabError(step: "starting sshd on \(node.name)", detail: (r.tail(5) + tail(LabSSH.log(node))).joined(separator: " | "))
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if sshdPID(node) != nil, answersSSH(node.address, port: 22) { return }
            usleep(50_000)
        }
        throw LabError(
            step: "starting sshd on \(node.name)",
            detail: "no SSH banner on \(node.address):22 within 10s; log: \(tail(LabSSH.log(node)).joined(separator: " | "))")
    }

    /// Until a systemd node's own sshd shows its banner.
    static func waitForSSH(_ node: LabNode, port: Int, timeout: Double = 30) throws(LabError) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if answersSSH(node.address, port: port) { return }
            usleep(100_000)
        }
        let log = node.run(["journalctl", "-u", "ssh", "-n", "5", "--no-pager", "-o", "cat"], timeout: 15).stdout
        throw LabError(
            step: "waiting for sshd on \(node.name)",
            detail:
                "no SSH banner on \(node.address):\(port) within \(Int(timeout))s; ssh.service log: \(log.split(separator: "\n").joined(separator: " | "))"
        )
    }

    /// The PID of a node's sshd, when it runs.
    public static func sshdPID(_ node: LabNode) -> Int32? {
        guard let text = try? String(contentsOfFile: LabSSH.pidFile(node), encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), Host.isAlive(pid, expecting: "sshd")
        else { return nil }
        return pid
    }

    /// Stops a node's sshd (its listener; per-connection children go with the namespace sweep).
    public static func stopSSHD(_ node: LabNode) -> Int32? {
        guard let pid = sshdPID(node) else { return nil }
        Host.stop(pid: pid, expecting: "sshd", grace: 5)
        _ = CommandRunner.reapIfExited(pid)
        try? FileManager.default.removeItem(atPath: LabSSH.pidFile(node))
        return pid
    }

    /// The PID of the agent `agents install` started in a node (its pidfile in the node's /run).
    public static func installedAgentPID(_ node: LabNode) -> Int32? {
        let r = node.run(["cat", "/run/bok-agent.pid"], timeout: 10)
        guard r.succeeded, let pid = Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            kill(pid, 0) == 0
        else { return nil }
        return pid
    }

    static func answersSSH(_ address: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = UInt16(port).bigEndian
        guard let octets = IPAddressLiteral.parse(address), octets.count == 4 else { return false }
        withUnsafeMutableBytes(of: &sa.sin_addr) { $0.copyBytes(from: octets) }
        let connected = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, buffer.count)
        return n > 0 && String(decoding: buffer.prefix(n), as: UTF8.self).hasPrefix("SSH-2.0-")
    }

    static func tail(_ path: String, _ n: Int = 5) -> [String] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(n).map(String.init)
    }
}

extension Host {
    static func read(_ path: String, step: String) throws(LabError) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw LabError(step: step, detail: "cannot read \(path)") }
        return text
    }
}
