import AgentCore
import BoKSystem
import DockerEngine
import Fleet
import Foundation
import SSHClient
import XCTest

@testable import AgentInstaller

/// The pure parts of the installer: SSH addresses, the embedded unit, the generated agent config.
final class InstallUnitTests: XCTestCase {
    func testParsesSSHAddresses() {
        XCTAssertEqual(InstallTarget.parseSSH("root@10.0.0.5:2222", defaultUser: "x"), SSHTarget(host: "10.0.0.5", port: 2222, user: "root"))
        XCTAssertEqual(InstallTarget.parseSSH("10.0.0.5", defaultUser: "admin"), SSHTarget(host: "10.0.0.5", port: 22, user: "admin"))
        XCTAssertEqual(InstallTarget.parseSSH("ops@[fd00::5]:22", defaultUser: "x"), SSHTarget(host: "fd00::5", port: 22, user: "ops"))
        XCTAssertEqual(InstallTarget.parseSSH("fd00::5", defaultUser: "x"), SSHTarget(host: "fd00::5", port: 22, user: "x"))
        XCTAssertNil(InstallTarget.parseSSH("root@host:0", defaultUser: "x"))
        XCTAssertNil(InstallTarget.parseSSH("@host", defaultUser: "x"))
        XCTAssertNil(InstallTarget.parseSSH("", defaultUser: "x"))
    }

    func testTargetFallsBackToTheAgentHost() throws {
        let t = try InstallTarget(node: Inventory.Node(name: "n1", agent: "10.1.2.3:7443"), defaultUser: "ops")
        XCTAssertEqual(t.ssh, SSHTarget(host: "10.1.2.3", port: 22, user: "ops"))
        XCTAssertEqual(t.agentPort, 7443)
    }

    /// The unit install uploads is the repository's systemd/bok-agent.service, byte for byte.
    func testEmbeddedUnitMatchesTheRepositoryFile() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: repo.appendingPathComponent("systemd/bok-agent.service"), encoding: .utf8)
        XCTAssertEqual(InstallLayout.systemdUnit, file)
    }

    func testServiceScriptIsValidPOSIXShell() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bok-agent-service-\(UUID().uuidString)").path
        try InstallLayout.serviceScriptText.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for shell in ["/bin/sh", "/bin/dash"] where FileManager.default.isExecutableFile(atPath: shell) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: shell)
            p.arguments = ["-n", path]
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "\(shell) -n rejects the service script")
        }
    }

    /// The generated agent.yaml is read by the agent's own parser as intended.
    func testGeneratedAgentConfigLoadsInTheAgent() throws {
        let trust = TrustStore(dir: "/nonexistent")
        var options = AgentInstallOptions(
            agentBinary: "/x", trust: trust, auth: .password("x"), knownHostsPath: "/x",
            dockerRestartCommand: "/lab/bin/lab-dockerd restart", dockerLogFile: "/run/d.log")
        let node = Inventory.Node(name: "node-1", agent: "198.18.9.21:7443", ssh: "root@198.18.9.21")
        let target = try InstallTarget(node: node, defaultUser: "root")
        let job = NodeJob(installer: AgentInstaller(options: options), node: node)
        var config = AgentConfig()
        try config.merge(yaml: job.agentConfig(target, systemd: false, hasInitDocker: false).text, source: "generated")
        XCTAssertEqual(config.listenHost, "198.18.9.21")
        XCTAssertEqual(config.listenPort, 7443)
        XCTAssertEqual(config.nodeName, "node-1")
        XCTAssertEqual(config.restart, "command")
        XCTAssertEqual(config.restartCommand, ["/lab/bin/lab-dockerd", "restart"])
        XCTAssertEqual(config.dockerLogFile, "/run/d.log")
        XCTAssertEqual(config.tlsKey, InstallLayout.agentKey)
        XCTAssertEqual(config.stateDir, InstallLayout.stateDir)

        options.dockerRestartCommand = nil
        let systemd = NodeJob(installer: AgentInstaller(options: options), node: node)
        var config2 = AgentConfig()
        try config2.merge(yaml: systemd.agentConfig(target, systemd: true, hasInitDocker: false).text, source: "generated")
        XCTAssertEqual(config2.restart, "systemd")
        XCTAssertNil(config2.dockerLogFile)
    }

    func testYAMLStringsAreQuoted() {
        XCTAssertEqual(yamlString("/x/lab-dockerd restart"), "\"/x/lab-dockerd restart\"")
        XCTAssertEqual(yamlString("a\"b"), "\"a\\\"b\"")
    }

    func testNormalizesIPNames() {
        XCTAssertEqual(normalizedName("FD00:0::5"), "fd00::5")
        XCTAssertEqual(normalizedName("198.18.205.21"), "198.18.205.21")
        XCTAssertEqual(normalizedName("Node1"), "node1")
    }

    // MARK: ELF dependencies (what the installer checks on the node before a swap)

    /// The parser agrees with binutils' `readelf -d` on real executables of this machine.
    func testELFNeededMatchesReadelf() throws {
        guard CommandRunner.which("readelf") != nil else { throw XCTSkip("readelf (binutils) is not installed") }
        for path in ["/bin/ls", "/usr/bin/ssh", "/usr/sbin/sshd", "/bin/busybox"] where FileManager.default.isReadableFile(atPath: path) {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let parsed = try XCTUnwrap(try ELFDependencies.parse(data), path)
            let dump = CommandRunner.run(["readelf", "-d", "-W", path]).stdout
            let expected = dump.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap { line -> String? in
                guard let open = line.lastIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
                return String(line[line.index(after: open)..<close])
            }
            XCTAssertEqual(parsed.needed, expected, path)
            XCTAssertEqual(parsed.machine, "x86_64", path)
            if expected.isEmpty { XCTAssertNil(parsed.interpreter, "\(path) is static") } else { XCTAssertNotNil(parsed.interpreter, path) }
        }
    }

    func testELFParserRejectsTruncatedFilesAndIgnoresScripts() throws {
        XCTAssertNil(try ELFDependencies.parse(Data("#!/bin/sh\nexit 0\n".utf8)))
        XCTAssertNil(try ELFDependencies.parse(Data()))
        let ls = try Data(contentsOf: URL(fileURLWithPath: "/bin/ls"))
        XCTAssertThrowsError(try ELFDependencies.parse(ls.prefix(200))) { error in
            XCTAssertTrue("\(error)".contains("malformed ELF"), "\(error)")
        }
        let swiftLinked = ELFDependencies(
            needed: ["libswiftCore.so", "libc.so.6"], runpath: [], interpreter: "/lib64/ld-linux-x86-64.so.2", machine: "x86_64")
        XCTAssertTrue(swiftLinked.needsSwiftRuntime)
        XCTAssertEqual(NodeJob.debianPackage("libcurl.so.4"), "libcurl4")
        XCTAssertNil(NodeJob.debianPackage("libbok-nothing.so.1"))
    }
}
