import AgentInstaller
import AgentProtocol
import BoKSystem
import BoKTesting
import DockerEngine
import Fleet
import Foundation
import Lab
import XCTest

/// The shipped agent (scripts/build-agent.sh) on real systemd workers (`lab up --systemd`: each
/// node a systemd-nspawn machine booting Debian 12 with its own systemd, sshd and Debian's
/// docker.service): install through `coordinator agents install`, the unmodified hardened unit,
/// DNS rollout through `systemctl restart docker`, rollback of a Docker that refuses to start,
/// reboot, SIGKILL, upgrade, uninstall, and refusal of a binary the node cannot load.
final class SystemdLabTests: XCTestCase {
    static let shared: SharedLab = {
        var spec = LabSpec(
            name: "systemd-tests", subnet: 210, nodeCount: 2, root: "/tmp/bok-test-lab-210")
        spec.systemd = true
        return SharedLab(spec, requiring: ["/usr/bin/systemd-nspawn", "/usr/sbin/debootstrap"])
    }()

    override class func setUp() {
        super.setUp()
        _ = ShippedBuild.binary
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

    func shipped() throws -> String {
        switch ShippedBuild.binary {
        case .success(let path): return path
        case .failure(let error): throw error
        }
    }

    func nodes() throws -> [Inventory.Node] { try Inventory.load(path: lab.inventory).nodes }

    func options(binary: String) -> AgentInstallOptions {
        AgentInstallOptions(
            agentBinary: binary, trust: LabEnvironment.trust(lab),
            auth: .key(privateKeyPath: ssh.identity, passphrase: nil),
            knownHostsPath: ssh.knownHosts, connectTimeout: 10, operationTimeout: 120, parallel: 2,
            helloTimeout: 40)
    }

    func installer(_ options: AgentInstallOptions) -> AgentInstaller {
        AgentInstaller(options: options) { node, message in print("  [\(node)] \(message)") }
    }

    func temporaryPath(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bok-systemd-\(UUID().uuidString.prefix(8))-\(name)"
        ).path
        scratch.append(path)
        return path
    }

    /// The coordinator CLI against the systemd lab's inventory (no --agent-binary: the shipped build).
    func coordinator(_ arguments: [String], timeout: Double = 300) -> CommandResult {
        CommandRunner.run([BuildProducts.coordinator] + arguments, timeout: timeout)
    }

    var sshFlags: [String] {
        ["--inventory", lab.inventory, "--identity", ssh.identity, "--known-hosts", ssh.knownHosts]
    }

    /// Runs a command inside a node; fails the test (naming it) when it does not succeed.
    @discardableResult
    func onNode(
        _ node: LabNode, _ command: [String], timeout: Double = 60, file: StaticString = #filePath,
        line: UInt = #line
    ) -> String {
        let r = node.run(command, timeout: timeout)
        XCTAssertTrue(
            r.succeeded,
            "\(node.name): `\(command.joined(separator: " "))` exited \(r.exitCode): \(r.stderr)\(r.stdout)",
            file: file, line: line)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `systemctl show UNIT -p P…` as a dictionary.
    func show(_ node: LabNode, _ unit: String, _ properties: [String]) -> [String: String] {
        let out = node.run(
            ["systemctl", "show", unit, "--no-pager"] + properties.flatMap { ["-p", $0] }, timeout: 30
        ).stdout
        var values: [String: String] = [:]
        for line in out.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }

    func hello(_ node: Inventory.Node, timeout: Double = 3) async throws -> HelloResult {
        let tls = try LabEnvironment.trust(lab).clientTLS()
        let client = try await AgentClient.connect(
            node: node.name, host: node.agentHost, port: node.agentPort, tls: tls, timeout: timeout)
        defer { Task { await client.close() } }
        return try await client.hello()
    }

    /// Until the node's agent answers agent.hello over mutual TLS.
    func waitForHello(_ node: Inventory.Node, timeout: Double = 60) async throws -> HelloResult {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Error?
        while Date() < deadline {
            do { return try await hello(node, timeout: 2) } catch { last = error }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        throw TestFailure(
            "\(node.name)'s agent did not answer agent.hello within \(Int(timeout))s: \(last.map { "\($0)" } ?? "no attempt")"
        )
    }

    /// Until `condition` holds (checked every 200 ms), or fails naming `what`.
    func eventually(
        _ what: String, timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line,
        _ condition: () -> Bool
    ) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return }
            usleep(200_000)
        }
        XCTFail("\(what): not within \(Int(timeout))s", file: file, line: line)
    }

    /// The shipped agent installed and active on every node (the path the CLI takes is tested on its own).
    func ensureInstalled() async throws {
        let reports = await installer(options(binary: try shipped())).install(nodes: try nodes())
        for r in reports { XCTAssertTrue(r.ok, "\(r.node): \(r.error ?? "")") }
    }

    func sha256(_ path: String) -> String {
        CommandRunner.run(["sha256sum", path]).stdout.split(separator: " ").first.map(String.init) ?? ""
    }

    // MARK: the shipped binary

    func testShippedAgentNeedsNoSwiftRuntime() throws {
        let path = try shipped()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let elf = try XCTUnwrap(try ELFDependencies.parse(data))
        XCTAssertFalse(elf.needsSwiftRuntime, "\(path) needs \(elf.needed)")
        XCTAssertEqual(
            CommandRunner.run([path, "--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines),
            BoKVersion.string)
        if CommandRunner.which("file") != nil {
            XCTAssertFalse(
                CommandRunner.run(["file", path]).stdout.contains("not stripped"), "\(path) is not stripped"
            )
        }
        print("shipped agent \(path): \(data.count) bytes; needs \(elf.needed.joined(separator: ", "))")
    }

    // MARK: install under a real systemd

    func testCoordinatorInstallsTheShippedAgentAndTheHardenedUnitStarts() async throws {
        _ = await installer(options(binary: try shipped())).uninstall(nodes: try nodes())
        let r = coordinator(["agents", "install"] + sshFlags + ["--json"])
        XCTAssertEqual(r.exitCode, 0, r.stderr + r.stdout)
        XCTAssertTrue(
            r.stderr.contains("agent binary \(try shipped())"),
            "the CLI does not say which binary it installs: \(r.stderr)")
        let reports = try JSONDecoder().decode([NodeInstallReport].self, from: Data(r.stdout.utf8))
        XCTAssertEqual(reports.map(\.action), [.installed, .installed], r.stdout)
        for report in reports {
            XCTAssertEqual(report.initSystem, "systemd")
            XCTAssertEqual(report.agentVersion, BoKVersion.string)
            XCTAssertTrue(report.os?.contains("Debian GNU/Linux 12") == true, report.os ?? "-")
        }
        XCTAssertTrue(
            r.stderr.contains("bok-agent.new --version: \(BoKVersion.string) (runs on the node)"),
            r.stderr)

        let repoUnit = try String(
            contentsOf: ShippedBuild.sourceTree.appendingPathComponent("systemd/bok-agent.service"),
            encoding: .utf8)
        for node in lab.nodes {
            XCTAssertEqual(onNode(node, ["systemctl", "is-active", "bok-agent"]), "active")
            XCTAssertEqual(onNode(node, ["systemctl", "is-enabled", "bok-agent"]), "enabled")
            // The unit running is the repository's file, byte for byte: no directive dropped.
            XCTAssertEqual(
                onNode(node, ["cat", "/etc/systemd/system/bok-agent.service"]) + "\n", repoUnit)
            XCTAssertEqual(
                sha256(node.machine!.rootfs + "/usr/local/bin/bok-agent"), sha256(try shipped()))
            let unit = show(
                node, "bok-agent",
                [
                    "Type", "NotifyAccess", "ActiveState", "SubState", "MainPID", "NoNewPrivileges",
                    "ProtectSystem",
                    "MemoryDenyWriteExecute", "RestrictAddressFamilies", "SystemCallFilter", "PrivateTmp",
                    "ProtectControlGroups", "RestrictNamespaces", "LockPersonality", "Restart",
                ])
            XCTAssertEqual(unit["Type"], "notify")
            XCTAssertEqual(unit["ActiveState"], "active")
            XCTAssertEqual(unit["SubState"], "running")
            XCTAssertEqual(unit["NoNewPrivileges"], "yes")
            XCTAssertEqual(unit["ProtectSystem"], "strict")
            XCTAssertEqual(unit["MemoryDenyWriteExecute"], "yes")
            XCTAssertEqual(Set((unit["RestrictAddressFamilies"] ?? "").split(separator: " ")), ["AF_UNIX", "AF_INET", "AF_INET6"])
            XCTAssertEqual(unit["Restart"], "on-failure")
            XCTAssertFalse((unit["SystemCallFilter"] ?? "").isEmpty)
            // The kernel's view of the running agent: no new privileges, a seccomp filter.
            let pid = try XCTUnwrap(unit["MainPID"])
            let status = onNode(node, ["cat", "/proc/\(pid)/status"])
            XCTAssertTrue(status.contains("NoNewPrivs:\t1"), status)
            XCTAssertTrue(status.contains("Seccomp:\t2"), status)
            // READY=1 reached systemd through Type=notify (a notify unit is active only after it).
            let journal = onNode(node, ["journalctl", "-u", "bok-agent", "--no-pager", "-o", "cat"])
            XCTAssertTrue(journal.contains("ready"), journal)
            XCTAssertFalse(
                journal.contains("Permission denied") || journal.contains("Operation not permitted"),
                journal)
        }
        for node in try nodes() {
            let hello = try await hello(node)
            XCTAssertEqual(hello.node, node.name)
            XCTAssertEqual(
                hello.dnsSource, "defaults-file",
                "the agent should find that docker.io's unit reads /etc/default/docker: \(hello.dnsSourceDetail ?? "-")"
            )
        }
    }

    func testDebugBuildIsRefusedNamingTheSwiftRuntimeItLacks() async throws {
        try await ensureInstalled()
        let node = lab.nodes[0]
        let before = sha256(node.machine!.rootfs + "/usr/local/bin/bok-agent")
        let pidBefore = show(node, "bok-agent", ["MainPID"])["MainPID"]
        let reports = await installer(options(binary: BuildProducts.agent)).install(nodes: [
            try nodes()[0]
        ])
        let report = try XCTUnwrap(reports.first)
        XCTAssertEqual(report.action, .failed, report.error ?? "")
        let error = report.error ?? ""
        XCTAssertTrue(error.contains("libswiftCore.so"), error)
        XCTAssertTrue(error.contains("scripts/build-agent.sh"), error)
        XCTAssertTrue(error.contains("nothing was replaced"), error)
        XCTAssertTrue(
            report.warnings.contains { $0.contains("linked to the Swift runtime dynamically") },
            "\(report.warnings)")
        print("debug build on \(node.name): \(error)")
        XCTAssertEqual(
            sha256(node.machine!.rootfs + "/usr/local/bin/bok-agent"), before,
            "the installed binary changed")
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: node.machine!.rootfs + "/usr/local/bin/bok-agent.new"),
            "bok-agent.new was left behind")
        XCTAssertEqual(
            show(node, "bok-agent", ["MainPID"])["MainPID"], pidBefore, "the running agent was restarted")
    }

    // MARK: DNS through systemctl restart docker

    func testDNSApplyRestartsDockerThroughItsUnitAndARerunChangesNothing() async throws {
        try await ensureInstalled()
        let kubeDNS = lab.kubeDNS
        let before = lab.nodes.map { show($0, "docker", ["MainPID"])["MainPID"] ?? "" }
        let r = coordinator([
            "dns", "apply", "--inventory", lab.inventory, "--kube-dns", kubeDNS, "--max-unavailable", "2",
            "--json",
        ])
        XCTAssertEqual(r.exitCode, 0, r.stderr + r.stdout)
        let reports = try JSONDecoder().decode([NodeDNSReport].self, from: Data(r.stdout.utf8))
        XCTAssertTrue(
            reports.allSatisfy { $0.outcome == .applied || $0.outcome == .unchanged }, r.stdout)
        for (node, oldPID) in zip(lab.nodes, before) {
            let docker = show(node, "docker", ["MainPID", "ActiveState", "NRestarts"])
            XCTAssertEqual(docker["ActiveState"], "active")
            let pid = try XCTUnwrap(docker["MainPID"])
            if reports.first(where: { $0.node == node.name })?.outcome == .applied {
                XCTAssertNotEqual(pid, oldPID, "docker was not restarted on \(node.name)")
            }
            let argv = onNode(node, ["cat", "/proc/\(pid)/cmdline"]).replacingOccurrences(
                of: "\0", with: " ")
            XCTAssertTrue(
                argv.contains("--dns=\(kubeDNS)"), "the running dockerd lacks --dns=\(kubeDNS): \(argv)")
            XCTAssertTrue(argv.contains("--dns=\(lab.upstreamDNS)"), argv)
            XCTAssertTrue(
                argv.contains("--storage-driver=overlay2"), "another DOCKER_OPTS flag was lost: \(argv)")
            let defaults = onNode(node, ["cat", "/etc/default/docker"])
            XCTAssertTrue(defaults.contains("--dns-search=default.svc.cluster.local"), defaults)
            XCTAssertTrue(
                defaults.contains("# If you need Docker to use an HTTP proxy"),
                "a comment line was lost: \(defaults)")
        }
        let pids = lab.nodes.map { show($0, "docker", ["MainPID"])["MainPID"] ?? "" }
        let again = coordinator([
            "dns", "apply", "--inventory", lab.inventory, "--kube-dns", kubeDNS, "--json",
        ])
        XCTAssertEqual(again.exitCode, 0, again.stderr + again.stdout)
        let second = try JSONDecoder().decode([NodeDNSReport].self, from: Data(again.stdout.utf8))
        XCTAssertEqual(second.map(\.outcome), [.unchanged, .unchanged], again.stdout)
        XCTAssertEqual(
            lab.nodes.map { show($0, "docker", ["MainPID"])["MainPID"] ?? "" }, pids,
            "an unchanged re-run restarted Docker")
    }

    /// dockerd refuses to start after the change: a drop-in makes docker.service read a second config
    /// file that sets dns-search, and a flag may not repeat what a config file sets. The agent restores
    /// /etc/default/docker, runs `systemctl reset-failed docker` and restarts it: the node ends with
    /// the old file and a running Docker. The drop-in allows 2 starts per minute: the test's own start
    /// and the agent's failing one; any third start (systemd's Restart=on-failure or the agent's
    /// rollback) is refused ("Start request repeated too quickly") unless reset-failed ran first.
    func testDockerThatRefusesToStartIsRolledBackWithResetFailed() async throws {
        try await ensureInstalled()
        let node = lab.nodes[1]
        let inventoryNode = try nodes()[1]
        let root = node.machine!.rootfs
        // Start from a node without BoK's DNS (an earlier test may have applied it).
        let pristine = """
            # Docker Upstart and SysVinit configuration file (BoK systemd lab node \(node.name))

            # Use DOCKER_OPTS to modify the daemon startup options.
            DOCKER_OPTS="--bip=172.31.\(node.index).1/24 --mtu=1500 --storage-driver=overlay2 --shutdown-timeout=3"

            """
        try pristine.write(toFile: root + "/etc/default/docker", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            atPath: root + "/etc/bok-test", withIntermediateDirectories: true)
        try #"{"dns-search": ["conflict.example"]}"#.write(
            toFile: root + "/etc/bok-test/daemon.json", atomically: true, encoding: .utf8)
        let dropIn = root + "/etc/systemd/system/docker.service.d/bok-test-conflict.conf"
        try FileManager.default.createDirectory(
            atPath: (dropIn as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try """
        [Unit]
        StartLimitBurst=2
        StartLimitIntervalSec=60
        [Service]
        ExecStart=
        ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --config-file=/etc/bok-test/daemon.json $DOCKER_OPTS

        """.write(toFile: dropIn, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(atPath: dropIn)
            try? FileManager.default.removeItem(atPath: root + "/etc/bok-test")
            node.run(
                [
                    "sh", "-c",
                    "systemctl daemon-reload && systemctl reset-failed docker; systemctl restart docker",
                ], timeout: 120)
        }
        onNode(node, ["sh", "-c", "systemctl daemon-reload && systemctl reset-failed docker; systemctl restart docker"], timeout: 120)
        XCTAssertEqual(
            onNode(node, ["systemctl", "is-active", "docker"]), "active",
            "docker must run with the drop-in before the change")
        let original = try String(contentsOfFile: root + "/etc/default/docker", encoding: .utf8)

        let r = coordinator([
            "dns", "apply", "--inventory", lab.inventory, "--nodes", node.name, "--kube-dns", lab.kubeDNS,
            "--json",
        ])
        XCTAssertEqual(r.exitCode, 1, r.stderr + r.stdout)
        let report = try XCTUnwrap(
            try JSONDecoder().decode([NodeDNSReport].self, from: Data(r.stdout.utf8)).first)
        XCTAssertEqual(report.outcome, .failed)
        XCTAssertEqual(report.rolledBack, true, report.message)
        XCTAssertTrue(
            report.message.contains("dns-search"),
            "Docker's own reason is not in the report: \(report.message)")
        print("rollback on \(node.name): \(report.message)")

        XCTAssertEqual(
            try String(contentsOfFile: root + "/etc/default/docker", encoding: .utf8), original,
            "/etc/default/docker was not restored")
        XCTAssertEqual(
            onNode(node, ["systemctl", "is-active", "docker"]), "active",
            "Docker does not run after the rollback")
        XCTAssertEqual(onNode(node, ["systemctl", "is-active", "bok-agent"]), "active")
        let hello = try await hello(inventoryNode)
        XCTAssertEqual(hello.node, node.name)
    }

    // MARK: the agent comes back

    func testAgentComesBackAfterTheNodeReboots() async throws {
        try await ensureInstalled()
        let node = lab.nodes[0]
        let machine = node.machine!
        let boots = machine.boots
        let oldLeader = machine.leaderPID
        _ = node.run(["systemctl", "reboot"], timeout: 30)
        eventually("\(node.name) boots again", timeout: 90) {
            machine.boots > boots && machine.leaderPID != nil && machine.leaderPID != oldLeader
        }
        try machine.waitUntilBooted(node, after: boots)
        let hello = try await waitForHello(try nodes()[0])
        XCTAssertEqual(hello.version, BoKVersion.string)
        XCTAssertEqual(onNode(node, ["systemctl", "is-active", "bok-agent"]), "active")
        let status = CommandRunner.run(
            [BuildProducts.coordinator, "lab", "status", "--dir", lab.root, "--json"], timeout: 30)
        XCTAssertTrue(status.stdout.contains("\"boots\" : \(boots + 1)"), status.stdout)
    }

    func testAgentRestartsAfterSIGKILL() async throws {
        try await ensureInstalled()
        let node = lab.nodes[1]
        let before = show(node, "bok-agent", ["MainPID", "NRestarts"])
        onNode(node, ["systemctl", "kill", "-s", "KILL", "bok-agent"])
        eventually("systemd restarts bok-agent (Restart=on-failure)", timeout: 30) {
            let now = show(node, "bok-agent", ["MainPID", "ActiveState", "NRestarts"])
            return now["ActiveState"] == "active" && now["MainPID"] != before["MainPID"]
                && now["MainPID"] != "0"
        }
        let after = show(node, "bok-agent", ["NRestarts"])
        XCTAssertEqual(Int(after["NRestarts"] ?? "") ?? 0, (Int(before["NRestarts"] ?? "") ?? 0) + 1)
        _ = try await waitForHello(try nodes()[1])
    }

    // MARK: upgrade, rollback, uninstall

    func testUpgradeRollbackAndUninstallUnderSystemd() async throws {
        try await ensureInstalled()
        let upgraded = temporaryPath("agent-upgrade")
        var data = try Data(contentsOf: URL(fileURLWithPath: try shipped()))
        data.append(Data("\n# bok systemd test build \(UUID().uuidString)\n".utf8))
        try data.write(to: URL(fileURLWithPath: upgraded))
        chmod(upgraded, 0o755)
        let up = await installer(options(binary: upgraded)).install(nodes: try nodes())
        XCTAssertEqual(
            up.map(\.action), [.upgraded, .upgraded], up.compactMap(\.error).joined(separator: "\n"))
        for node in lab.nodes {
            XCTAssertEqual(sha256(node.machine!.rootfs + "/usr/local/bin/bok-agent"), sha256(upgraded))
            XCTAssertTrue(
                FileManager.default.fileExists(
                    atPath: node.machine!.rootfs + "/usr/local/bin/bok-agent.prev"))
            XCTAssertEqual(onNode(node, ["systemctl", "is-active", "bok-agent"]), "active")
        }

        // Runs (`--version` answers, so it passes the check before the swap) but cannot start as a service.
        let broken = temporaryPath("agent-broken")
        try """
        #!/bin/sh
        if [ "${1:-}" = --version ]; then echo \(BoKVersion.string); exit 0; fi
        echo 'bok systemd test: this agent cannot start' >&2
        exit 1

        """.write(toFile: broken, atomically: true, encoding: .utf8)
        chmod(broken, 0o755)
        let failed = await installer(options(binary: broken)).install(nodes: try nodes())
        XCTAssertEqual(
            failed.map(\.action), [.rolledBack, .rolledBack],
            failed.compactMap(\.error).joined(separator: "\n"))
        for node in lab.nodes {
            XCTAssertEqual(
                sha256(node.machine!.rootfs + "/usr/local/bin/bok-agent"), sha256(upgraded),
                "\(node.name) does not run the previous binary")
            XCTAssertEqual(onNode(node, ["systemctl", "is-active", "bok-agent"]), "active")
        }
        for node in try nodes() { _ = try await waitForHello(node) }

        let removed = await installer(options(binary: upgraded)).uninstall(nodes: try nodes())
        XCTAssertEqual(
            removed.map(\.action), [.uninstalled, .uninstalled],
            removed.compactMap(\.error).joined(separator: "\n"))
        for node in lab.nodes {
            let state = node.run(["systemctl", "is-active", "bok-agent"]).stdout.trimmingCharacters(
                in: .whitespacesAndNewlines)
            XCTAssertNotEqual(state, "active")
            XCTAssertFalse(
                node.run(["systemctl", "cat", "bok-agent"]).succeeded, "\(node.name) still knows the unit")
            for path in InstallLayout.files + InstallLayout.directories {
                XCTAssertFalse(
                    FileManager.default.fileExists(atPath: node.machine!.rootfs + path),
                    "\(node.name): \(path) is left")
            }
            XCTAssertFalse(
                node.run(["pgrep", "-x", "bok-agent"]).succeeded, "\(node.name) still runs an agent")
        }
    }

    // MARK: the lab itself

    func testLabExecAndStatusReachTheMachines() throws {
        for node in lab.nodes {
            XCTAssertEqual(onNode(node, ["cat", "/proc/1/comm"]), "systemd")
            XCTAssertEqual(onNode(node, ["hostname"]), node.name)
            XCTAssertTrue(
                onNode(node, ["cat", "/etc/resolv.conf"]).contains("nameserver \(lab.upstreamDNS)"))
            XCTAssertEqual(onNode(node, ["systemctl", "is-active", "docker", "ssh"]), "active\nactive")
            XCTAssertTrue(
                onNode(node, ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"]).contains(
                    lab.chaincodeImage))
            let info = onNode(node, ["docker", "info", "--format", "{{.Driver}} {{.CgroupVersion}}"])
            XCTAssertEqual(info, "overlay2 1")
        }
        let exec = CommandRunner.run(
            [
                BuildProducts.coordinator, "lab", "exec", "--dir", lab.root, "node2", "--", "systemctl",
                "is-system-running",
            ], timeout: 30)
        XCTAssertTrue(
            ["running", "degraded"].contains(exec.stdout.trimmingCharacters(in: .whitespacesAndNewlines)),
            exec.stdout + exec.stderr)
        // A chaincode-like container runs in a node's Docker (cgroups writable inside the machine).
        let run = lab.nodes[0].run(
            ["docker", "run", "--rm", lab.chaincodeImage, "echo", "hello from a container"], timeout: 120)
        XCTAssertEqual(
            run.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "hello from a container",
            run.stderr)
        let status = CommandRunner.run(
            [BuildProducts.coordinator, "lab", "status", "--dir", lab.root], timeout: 30)
        XCTAssertEqual(status.exitCode, 0, status.stderr)
        XCTAssertTrue(
            status.stdout.contains("machine bok210-node1 (systemd-nspawn, PID 1 = host pid"),
            status.stdout)
    }
}

/// The shipped agent, built once per test run by the project's own script.
enum ShippedBuild {
    static let sourceTree = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static let binary: Result<String, Error> = {
        let started = Date()
        do {
            let path = try ShippedAgent.build(sourceTree: sourceTree.path)
            print(
                String(
                    format: "scripts/build-agent.sh: %@ in %.0f s", path, Date().timeIntervalSince(started)))
            return .success(path)
        } catch {
            return .failure(error)
        }
    }()
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
