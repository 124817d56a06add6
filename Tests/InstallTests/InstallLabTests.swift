import AgentInstaller
import AgentProtocol
import BoKSystem
import BoKTesting
import DockerEngine
import Fleet
import Foundation
import Lab
import SSHClient
import XCTest

/// `agents install|uninstall` against a real sshd (Debian's openssh-server) in each of 3 lab nodes:
/// install, unchanged re-run, upgrade, rollback, uninstall, host-key, authentication and timeout errors.
final class InstallLabTests: XCTestCase {
    static let shared: SharedLab = {
        var spec = LabSpec(name: "install-tests", subnet: 205, nodeCount: 3, root: "/tmp/bok-test-lab-205")
        spec.ssh = true
        return SharedLab(spec, requiring: ["/usr/sbin/sshd"])
    }()

    override class func setUp() {
        super.setUp()
        shared.up()
    }

    override class func tearDown() {
        print("lab down: \(shared.down().joined(separator: "; "))")
        super.tearDown()
    }

    var lab: LabState { Self.shared.state! }
    var ssh: LabSSH { lab.ssh! }
    private var scratch: [String] = []

    override func setUp() async throws {
        if let reason = Self.shared.unavailable { throw XCTSkip(reason) }
    }

    override func tearDown() async throws {
        for path in scratch { try? FileManager.default.removeItem(atPath: path) }
        scratch = []
    }

    // MARK: helpers

    func nodes() throws -> [Inventory.Node] { try Inventory.load(path: lab.inventory).nodes }

    func options(
        binary: String = BuildProducts.agent, knownHosts: String? = nil, identity: String? = nil,
        policy: HostKeyPolicy = .strict, connectTimeout: Double = 10
    ) -> AgentInstallOptions {
        AgentInstallOptions(
            agentBinary: binary, trust: LabEnvironment.trust(lab), auth: .key(privateKeyPath: identity ?? ssh.identity, passphrase: nil),
            knownHostsPath: knownHosts ?? ssh.knownHosts, hostKeyPolicy: policy, connectTimeout: connectTimeout,
            operationTimeout: 60, parallel: 3, helloTimeout: 20,
            dockerRestartCommand: "\(lab.dockerdScript) restart", dockerLogFile: LabNode.dockerdLog)
    }

    func installer(_ options: AgentInstallOptions) -> AgentInstaller {
        AgentInstaller(options: options) { node, message in
            print("  \(String(format: "%.3f", Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1000))) [\(node)] \(message)")
        }
    }

    func temporaryPath(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bok-install-\(UUID().uuidString.prefix(8))-\(name)").path
        scratch.append(path)
        return path
    }

    /// The build's agent with `tag` appended: another sha256, the same program.
    func taggedAgent(_ tag: String) throws -> String {
        let path = temporaryPath("agent-\(tag)")
        var data = try Data(contentsOf: URL(fileURLWithPath: BuildProducts.agent))
        data.append(Data("\n# bok install test build \(tag) \(UUID().uuidString)\n".utf8))
        try data.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        return path
    }

    func hello(_ node: Inventory.Node) async throws -> HelloResult {
        let tls = try LabEnvironment.trust(lab).clientTLS()
        let client = try await AgentClient.connect(node: node.name, host: node.agentHost, port: node.agentPort, tls: tls, timeout: 3)
        defer { Task { await client.close() } }
        return try await client.hello()
    }

    func agentPIDs() -> [Int32?] { lab.nodes.map { LabEnvironment.installedAgentPID($0) } }

    func remoteSHA(_ node: LabNode, _ name: String = "bok-agent") throws -> String? {
        let path = LabSSH.installDir(node, "/usr/local/bin")! + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return CommandRunner.run(["sha256sum", path]).stdout.split(separator: " ").first.map(String.init) ?? "\(data.count)"
    }

    func localSHA(_ path: String) -> String {
        CommandRunner.run(["sha256sum", path]).stdout.split(separator: " ").first.map(String.init) ?? ""
    }

    @discardableResult
    func ensureInstalled() async throws -> [NodeInstallReport] {
        let reports = await installer(options()).install(nodes: try nodes())
        for r in reports { XCTAssertTrue(r.ok, "\(r.node): \(r.error ?? "")") }
        return reports
    }

    // MARK: install, re-run, upgrade, rollback, uninstall

    func testInstallOnThreeNodesAllAnswerAndAnUnchangedRerunRestartsNothing() async throws {
        _ = await installer(options()).uninstall(nodes: try nodes())
        let first = await installer(options()).install(nodes: try nodes())
        XCTAssertEqual(first.map(\.action), [.installed, .installed, .installed], first.compactMap(\.error).joined(separator: "\n"))
        for r in first {
            XCTAssertEqual(r.initSystem, "command")
            XCTAssertEqual(r.agentVersion, BoKVersion.string)
            XCTAssertTrue(r.files.contains(InstallLayout.binary) && r.files.contains(InstallLayout.agentKey), "\(r.files)")
        }
        for node in try nodes() {
            let hello = try await hello(node)
            XCTAssertEqual(hello.node, node.name)
        }
        for node in lab.nodes {
            let key = LabSSH.installDir(node, "/etc/bok")! + "/tls/agent.key"
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            XCTAssertEqual(mode, 0o600, "mode of \(key)")
            let config = try String(contentsOfFile: LabSSH.installDir(node, "/etc/bok")! + "/agent.yaml", encoding: .utf8)
            XCTAssertTrue(config.contains("listen: \"\(node.address):7443\""), config)
            XCTAssertTrue(config.contains("restart: command"), config)
        }
        let pids = agentPIDs()
        XCTAssertFalse(pids.contains(nil), "an agent has no pidfile: \(pids)")

        let again = await installer(options()).install(nodes: try nodes())
        XCTAssertEqual(again.map(\.action), [.unchanged, .unchanged, .unchanged], again.compactMap(\.error).joined(separator: "\n"))
        XCTAssertEqual(again.map(\.restarted), [false, false, false])
        XCTAssertEqual(again.flatMap(\.files), [])
        XCTAssertEqual(agentPIDs(), pids, "an unchanged re-run restarted an agent")

        // Install-missing leaves answering agents alone.
        let missing = await installer(options()).installMissing(nodes: try nodes())
        XCTAssertEqual(missing.map(\.action), [.present, .present, .present])
        XCTAssertEqual(agentPIDs(), pids)
    }

    func testUpgradeWithANewBinaryThenRollbackOfOneThatCannotStart() async throws {
        try await ensureInstalled()
        let before = agentPIDs()
        let upgraded = try taggedAgent("upgrade")
        let reports = await installer(options(binary: upgraded)).install(nodes: try nodes())
        XCTAssertEqual(reports.map(\.action), [.upgraded, .upgraded, .upgraded], reports.compactMap(\.error).joined(separator: "\n"))
        for r in reports {
            XCTAssertTrue(r.restarted)
            print(
                "upgrade gap on \(r.node): \(String(format: "%.3f", r.gapSeconds ?? -1)) s from the restart until agent.hello answered (total \(String(format: "%.1f", r.seconds)) s)"
            )
        }
        let after = agentPIDs()
        for (b, a) in zip(before, after) { XCTAssertNotEqual(b, a, "the agent was not restarted") }
        for node in lab.nodes {
            XCTAssertEqual(try remoteSHA(node), localSHA(upgraded))
            XCTAssertNotNil(try remoteSHA(node, "bok-agent.prev"), "the old binary was not kept as bok-agent.prev")
        }
        for node in try nodes() { _ = try await hello(node) }

        // A binary that answers --version (so it passes the check before the swap) but cannot start as
        // the agent: rolled back to the one just installed, which answers again.
        let broken = temporaryPath("agent-broken")
        try
            "#!/bin/sh\nif [ \"${1:-}\" = --version ]; then echo \(BoKVersion.string); exit 0; fi\necho 'bok install test: this agent cannot start' >&2\nexit 1\n"
            .write(toFile: broken, atomically: true, encoding: .utf8)
        chmod(broken, 0o755)
        let failed = await installer(options(binary: broken)).install(nodes: try nodes())
        XCTAssertEqual(failed.map(\.action), [.rolledBack, .rolledBack, .rolledBack], failed.compactMap(\.error).joined(separator: "\n"))
        for r in failed {
            XCTAssertFalse(r.ok)
            XCTAssertTrue(r.error?.contains("rolled back") == true, r.error ?? "")
            XCTAssertTrue(r.error?.contains("node \(r.node)") == true, r.error ?? "")
            print("rollback on \(r.node): \(r.error ?? "")")
        }
        for node in lab.nodes { XCTAssertEqual(try remoteSHA(node), localSHA(upgraded), "\(node.name) does not run the previous binary again") }
        for node in try nodes() {
            let hello = try await hello(node)
            XCTAssertEqual(hello.version, BoKVersion.string)
        }
    }

    /// A binary that does not run on the node (`--version` fails there) never replaces the installed one.
    func testBinaryThatDoesNotRunOnTheNodeIsRefusedBeforeTheSwap() async throws {
        try await ensureInstalled()
        let before = agentPIDs()
        let shas = try lab.nodes.map { try remoteSHA($0) }
        let broken = temporaryPath("agent-no-version")
        try "#!/bin/sh\necho 'bok install test: cannot even print a version' >&2\nexit 3\n".write(toFile: broken, atomically: true, encoding: .utf8)
        chmod(broken, 0o755)
        let reports = await installer(options(binary: broken)).install(nodes: try nodes())
        XCTAssertEqual(reports.map(\.action), [.failed, .failed, .failed], reports.compactMap(\.error).joined(separator: "\n"))
        for r in reports {
            let error = r.error ?? ""
            XCTAssertEqual(r.step, "running `/usr/local/bin/bok-agent.new --version` on the node", error)
            XCTAssertTrue(error.contains("exited with status 3") && error.contains("cannot even print a version"), error)
            XCTAssertTrue(error.contains("nothing was replaced"), error)
        }
        XCTAssertEqual(try lab.nodes.map { try remoteSHA($0) }, shas, "an installed binary changed")
        XCTAssertEqual(try lab.nodes.map { try remoteSHA($0, "bok-agent.new") }, [nil, nil, nil], "bok-agent.new was left behind")
        XCTAssertEqual(agentPIDs(), before, "a running agent was restarted")
    }

    func testUninstallLeavesNoFilesAndNoProcesses() async throws {
        try await ensureInstalled()
        let reports = await installer(options()).uninstall(nodes: try nodes())
        XCTAssertEqual(reports.map(\.action), [.uninstalled, .uninstalled, .uninstalled], reports.compactMap(\.error).joined(separator: "\n"))
        for r in reports { XCTAssertTrue(r.files.contains(InstallLayout.binary), "\(r.files)") }
        for node in lab.nodes {
            for inside in ["/etc/bok", "/usr/local/bin", "/usr/local/lib/bok", "/var/lib/bok-agent"] {
                let dir = LabSSH.installDir(node, inside)!
                XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "\(node.name): \(inside) is not empty")
            }
            XCTAssertNil(LabEnvironment.installedAgentPID(node))
            let pids = CommandRunner.run(["ip", "netns", "pids", node.netns]).stdout.split(separator: "\n").compactMap { Int32($0) }
            let comms = pids.compactMap { DockerdProcess.command(pid: $0) }
            XCTAssertFalse(comms.contains("bok-agent"), "\(node.name) still runs an agent: \(comms)")
        }
        for node in try nodes() {
            do {
                _ = try await hello(node)
                XCTFail("\(node.name)'s agent still answers after uninstall")
            } catch {}
        }
        let again = await installer(options()).uninstall(nodes: try nodes())
        XCTAssertEqual(again.map(\.action), [.absent, .absent, .absent])
    }

    /// The systemd path, on a node that looks like a systemd host: `/run/systemd/system` exists in the
    /// node's own /run and a recording `systemctl` stand-in (in the node's private /usr/local/bin)
    /// runs the agent the way the unit's ExecStart does.
    func testSystemdNodeGetsTheUnitDaemonReloadAndEnableNow() async throws {
        let labNode = lab.nodes[0]
        let node = try nodes()[0]
        _ = await installer(options()).uninstall(nodes: [node])
        let service = lab.root + "/fake-bok-agent-service"
        try InstallLayout.serviceScriptText.write(toFile: service, atomically: true, encoding: .utf8)
        chmod(service, 0o755)
        let systemctl = LabSSH.installDir(labNode, "/usr/local/bin")! + "/systemctl"
        try """
        #!/bin/sh
        # systemctl stand-in for InstallLabTests: records each call, runs the agent like ExecStart would.
        echo "$*" >>/run/fake-systemctl.log
        case "$1" in
          daemon-reload|reset-failed) exit 0 ;;
          enable) [ "${2:-}" = "--now" ] && exec \(service) start; exit 0 ;;
          disable) [ "${2:-}" = "--now" ] && exec \(service) stop; exit 0 ;;
          start|restart|stop) exec \(service) "$1" ;;
          is-active) \(service) status >/dev/null ;;
          show) exit 1 ;;
          *) exit 0 ;;
        esac

        """.write(toFile: systemctl, atomically: true, encoding: .utf8)
        chmod(systemctl, 0o755)
        XCTAssertTrue(labNode.run(["mkdir", "-p", "/run/systemd/system"]).succeeded)
        defer {
            try? FileManager.default.removeItem(atPath: systemctl)
            labNode.run(["rm", "-rf", "/run/systemd", "/run/fake-systemctl.log"])
        }

        let reports = await installer(options()).install(nodes: [node])
        XCTAssertEqual(reports.first?.action, .installed, reports.first?.error ?? "")
        XCTAssertEqual(reports.first?.initSystem, "systemd")
        XCTAssertTrue(reports.first?.files.contains(InstallLayout.unit) == true, "\(reports.first?.files ?? [])")
        let unit = try String(contentsOfFile: LabSSH.installDir(labNode, "/etc/systemd/system")! + "/bok-agent.service", encoding: .utf8)
        XCTAssertEqual(unit, InstallLayout.systemdUnit)
        let config = try String(contentsOfFile: LabSSH.installDir(labNode, "/etc/bok")! + "/agent.yaml", encoding: .utf8)
        XCTAssertTrue(config.contains("restart: systemd"), config)
        XCTAssertFalse(FileManager.default.fileExists(atPath: LabSSH.installDir(labNode, "/usr/local/lib/bok")! + "/bok-agent-service"))
        _ = try await hello(node)
        var calls = labNode.run(["cat", "/run/fake-systemctl.log"]).stdout
        XCTAssertTrue(calls.contains("daemon-reload\n"), calls)
        XCTAssertTrue(calls.contains("enable --now bok-agent\n"), calls)

        let again = await installer(options()).install(nodes: [node])
        XCTAssertEqual(again.first?.action, .unchanged, again.first?.error ?? "")

        let removed = await installer(options()).uninstall(nodes: [node])
        XCTAssertEqual(removed.first?.action, .uninstalled, removed.first?.error ?? "")
        XCTAssertTrue(removed.first?.files.contains(InstallLayout.unit) == true, "\(removed.first?.files ?? [])")
        calls = labNode.run(["cat", "/run/fake-systemctl.log"]).stdout
        XCTAssertTrue(calls.contains("disable --now bok-agent\n"), calls)
        XCTAssertTrue(calls.hasSuffix("daemon-reload\n"), calls)
        XCTAssertNil(LabEnvironment.installedAgentPID(labNode))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: LabSSH.installDir(labNode, "/etc/systemd/system")!), [])
    }

    // MARK: SSH faults

    func testUnknownHostKeyIsRefusedInStrictModeAndAcceptNewRecordsIt() async throws {
        let empty = temporaryPath("known_hosts")
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        let node = try nodes()[2]
        let refused = await installer(options(knownHosts: empty)).install(nodes: [node])
        XCTAssertEqual(refused.first?.action, .failed)
        let error = refused.first?.error ?? ""
        XCTAssertTrue(error.contains("host key"), error)
        XCTAssertTrue(error.contains("not in \(empty)"), error)
        XCTAssertTrue(error.contains(lab.nodes[2].address), error)
        XCTAssertTrue(error.contains("--accept-new-host-keys"), error)
        XCTAssertEqual(try String(contentsOfFile: empty, encoding: .utf8), "", "strict mode wrote to known_hosts")

        // Trust on first use writes the key back; it is the lab's own key for that node.
        let accepted = await installer(options(knownHosts: empty, policy: .acceptNew)).install(nodes: [node])
        XCTAssertTrue(accepted.first?.ok == true, accepted.first?.error ?? "")
        let recorded = try String(contentsOfFile: empty, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = try String(contentsOfFile: ssh.knownHosts, encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix(lab.nodes[2].address + " ") }.map(String.init)
        XCTAssertEqual(recorded, expected)
    }

    func testWrongClientKeyIsAClearAuthenticationError() async throws {
        let key = temporaryPath("id_ed25519")
        scratch.append(key + ".pub")
        XCTAssertTrue(CommandRunner.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]).succeeded)
        let reports = await installer(options(identity: key)).install(nodes: try nodes())
        XCTAssertEqual(reports.map(\.action), [.failed, .failed, .failed])
        for r in reports {
            let error = r.error ?? ""
            XCTAssertTrue(r.step?.contains("authentication") == true, "step: \(r.step ?? "-")")
            XCTAssertTrue(error.contains("refused the ed25519 key \(key)"), error)
            XCTAssertTrue(error.contains("node \(r.node) (root@"), error)
            print("wrong key on \(r.node): \(error)")
        }
    }

    func testHostThatHangsTimesOutNamingIt() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let node = Inventory.Node(name: "hanging", agent: "127.0.0.1:7443", ssh: "root@127.0.0.1:\(listener.port)")
        let start = Date()
        let reports = await installer(options(connectTimeout: 2)).install(nodes: [node])
        let elapsed = Date().timeIntervalSince(start)
        let error = reports.first?.error ?? ""
        XCTAssertEqual(reports.first?.action, .failed)
        XCTAssertTrue(error.contains("node hanging (root@127.0.0.1:\(listener.port))"), error)
        XCTAssertTrue(error.lowercased().contains("timed out") || error.lowercased().contains("timeout"), error)
        XCTAssertLessThan(elapsed, 30, "the connect timeout did not bound the wait")
        print("hanging host: failed after \(String(format: "%.1f", elapsed)) s: \(error)")
    }

    // MARK: the command

    func testCoordinatorAgentsInstallAndUninstallCommands() async throws {
        let common = ["--inventory", lab.inventory, "--nodes", "node2", "--identity", ssh.identity, "--known-hosts", ssh.knownHosts, "--json"]
        // --agent-binary: the debug build runs on these nodes (they share this machine's Swift runtime);
        // the default (the shipped build of scripts/build-agent.sh) is tested on systemd nodes (SystemdTests).
        let install = CommandRunner.run(
            [BuildProducts.coordinator, "agents", "install", "--agent-binary", BuildProducts.agent] + common
                + ["--docker-restart-command", "\(lab.dockerdScript) restart", "--docker-log-file", LabNode.dockerdLog],
            timeout: 180)
        XCTAssertEqual(install.exitCode, 0, install.stderr)
        let reports = try JSONDecoder().decode([NodeInstallReport].self, from: Data(install.stdout.utf8))
        XCTAssertEqual(reports.map(\.node), ["node2"])
        XCTAssertTrue(reports.first?.ok == true, install.stdout)
        XCTAssertTrue(install.stderr.contains("node2: "), "no progress lines: \(install.stderr)")

        let uninstall = CommandRunner.run([BuildProducts.coordinator, "agents", "uninstall"] + common, timeout: 120)
        XCTAssertEqual(uninstall.exitCode, 0, uninstall.stderr)
        let removed = try JSONDecoder().decode([NodeInstallReport].self, from: Data(uninstall.stdout.utf8))
        XCTAssertEqual(removed.map(\.action), [.uninstalled])

        let usage = CommandRunner.run([BuildProducts.coordinator, "agents", "install", "--parallel", "0"], timeout: 30)
        XCTAssertEqual(usage.exitCode, 2, usage.stderr)
        let unknown = CommandRunner.run(
            [BuildProducts.coordinator, "agents", "install", "--inventory", lab.inventory, "--nodes", "nope"], timeout: 30)
        XCTAssertEqual(unknown.exitCode, 2, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("unknown node(s) nope"), unknown.stderr)

        // A failing node makes the command exit 1 (strict host keys against an empty known_hosts).
        let empty = temporaryPath("known_hosts")
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        let refused = CommandRunner.run(
            [
                BuildProducts.coordinator, "agents", "uninstall", "--inventory", lab.inventory, "--nodes", "node2",
                "--identity", ssh.identity, "--known-hosts", empty,
            ], timeout: 60)
        XCTAssertEqual(refused.exitCode, 1, refused.stdout + refused.stderr)
        XCTAssertTrue(refused.stdout.contains("FAILED: node2"), refused.stdout)
    }

    func testLabStatusReportsSSH() throws {
        let r = CommandRunner.run([BuildProducts.coordinator, "lab", "status", "--dir", lab.root, "--json"], timeout: 30)
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let sshInfo = json?["ssh"] as? [String: Any]
        XCTAssertEqual(sshInfo?["knownHosts"] as? String, ssh.knownHosts)
        XCTAssertEqual(sshInfo?["identity"] as? String, ssh.identity)
        XCTAssertEqual((sshInfo?["nodes"] as? [[String: Any]])?.count, 3)
        for node in lab.nodes { XCTAssertNotNil(LabEnvironment.sshdPID(node), "\(node.name) has no sshd") }
    }
}

/// A TCP listener on 127.0.0.1 that completes the handshake (kernel backlog) and never says a word.
final class SilentListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            Glibc.close(fd)
            throw NSError(domain: "SilentListener", code: Int(errno))
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(fd) }
}
