import AgentProtocol
import DockerConfig
import DockerEngine
import Foundation
import Logging
import XCTest

@testable import AgentCore

/// A node's Docker played by the test (``DockerNode``): dockerd "runs" with the words of `$DOCKER_OPTS` that the
/// restart command — a real `/bin/sh` sourcing the defaults file, as Debian's init script does — last wrote to
/// `argvFile`. So apply, verify, rollback and crash recovery run for real against real files, without root or dockerd.
final class ScriptedDockerNode: DockerNode, @unchecked Sendable {
    // @unchecked: immutable paths; the state lives in files the restart script writes.
    let argvFile: String
    let downFile: String
    init(dir: String) {
        argvFile = dir + "/dockerd.argv"
        downFile = dir + "/dockerd.down"
    }
    func ping(timeout: Double) -> Bool { !FileManager.default.fileExists(atPath: downFile) }
    func info() throws(DockerEngineError) -> DockerInfo {
        DockerInfo(serverVersion: "scripted", dockerRootDir: "/var/lib/docker", liveRestoreEnabled: false, driver: "overlay2")
    }
    func containers() throws(DockerEngineError) -> [DockerContainer] { [] }
    func inspect(_ id: String) throws(DockerEngineError) -> DockerContainerDetails {
        throw DockerEngineError(socketPath: "scripted", call: "GET /containers/\(id)/json", reason: "no such container", status: 404)
    }
    func runningDockerd() -> (pid: Int32, argv: [String])? {
        guard ping(timeout: 0), let text = try? String(contentsOfFile: argvFile, encoding: .utf8) else { return nil }
        return (4242, ["dockerd"] + text.split(separator: "\n").map(String.init))
    }
}

final class DNSApplySeamTests: XCTestCase {
    var dir = ""
    var defaults: String { dir + "/default-docker" }

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "bok-dns-seam-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/state", withIntermediateDirectories: true)
        try "# Docker Upstart and SysVinit configuration file\nDOCKER_OPTS=\"--log-level=warn\"\n"
            .write(toFile: defaults, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The configurator with `restart: command` running `script` under /bin/sh (`$DEFAULTS`, `$ARGV`, `$DOWN` set).
    func configurator(_ script: String, node: ScriptedDockerNode) -> DockerDNSConfigurator {
        var config = AgentConfig()
        config.nodeName = "seam"
        config.dockerDefaults = defaults
        config.dockerDaemonJSON = dir + "/daemon.json"
        config.stateDir = dir + "/state"
        config.restart = "command"
        config.restartCommand = [
            "/usr/bin/env", "DEFAULTS=\(defaults)", "ARGV=\(node.argvFile)", "DOWN=\(node.downFile)", "/bin/sh", "-c", script,
        ]
        config.restartTimeout = 5
        return DockerDNSConfigurator(config: config, docker: node, logger: Logger(label: "dns-seam-test"))
    }

    /// What Debian's init script does: source the defaults file, start dockerd with `$DOCKER_OPTS`.
    static let honestRestart = #". "$DEFAULTS"; printf '%s\n' $DOCKER_OPTS > "$ARGV"; rm -f "$DOWN""#

    func settings() throws -> DNSSettings {
        try DNSSettings(nameservers: ["10.96.0.10"], search: ["default.svc.cluster.local"], options: ["ndots:5"])
    }

    func testApplyWritesTheFileRestartsAndVerifiesTheRunningDockerd() throws {
        let node = ScriptedDockerNode(dir: dir)
        let dns = configurator(Self.honestRestart, node: node)
        let result = try dns.apply(try settings())
        XCTAssertTrue(result.changed)
        XCTAssertTrue(result.restarted)
        let argv = try XCTUnwrap(node.runningDockerd()).argv
        XCTAssertTrue(argv.contains("--log-level=warn"), "other options are kept: \(argv)")
        XCTAssertEqual(DockerdArguments.dns(fromArgv: argv).nameservers, ["10.96.0.10"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dns.journalPath), "the journal is cleared")
        // Re-applying the same settings changes nothing and restarts nothing.
        let again = try dns.apply(try settings())
        XCTAssertFalse(again.changed)
        XCTAssertFalse(again.restarted)
    }

    func testADockerdThatIgnoresTheFileIsRolledBack() throws {
        let node = ScriptedDockerNode(dir: dir)
        let before = try String(contentsOfFile: defaults, encoding: .utf8)
        // A dockerd started without $DOCKER_OPTS (say, a unit that does not read the defaults file).
        let dns = configurator(#"printf '%s\n' --log-level=warn > "$ARGV""#, node: node)
        XCTAssertThrowsError(try dns.apply(try settings())) { error in
            let rpc = error as? RPCError
            XCTAssertEqual(rpc?.code, RPCErrorCode.applyFailedRolledBack.rawValue, "\(error)")
            XCTAssertTrue("\(error)".contains("does not carry the new DNS settings"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOfFile: defaults, encoding: .utf8), before, "the old file is back")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dns.journalPath))
    }

    func testARestartThatFailsIsRolledBackAndDockerComesBackWithTheOldFile() throws {
        let node = ScriptedDockerNode(dir: dir)
        let before = try String(contentsOfFile: defaults, encoding: .utf8)
        // The first restart fails (bad flag); the rollback's restart works with the restored file.
        let script =
            #". "$DEFAULTS"; case "$DOCKER_OPTS" in *--dns*) touch "$DOWN"; exit 1;; esac; "#
            + #"printf '%s\n' $DOCKER_OPTS > "$ARGV"; rm -f "$DOWN""#
        let dns = configurator(script, node: node)
        XCTAssertThrowsError(try dns.apply(try settings())) { error in
            XCTAssertEqual((error as? RPCError)?.code, RPCErrorCode.applyFailedRolledBack.rawValue, "\(error)")
        }
        XCTAssertEqual(try String(contentsOfFile: defaults, encoding: .utf8), before)
        XCTAssertTrue(node.ping(timeout: 0), "Docker runs again")
        XCTAssertEqual(try XCTUnwrap(node.runningDockerd()).argv, ["dockerd", "--log-level=warn"])
    }

    func testAnApplyInterruptedByACrashIsUndoneOnTheNextStart() throws {
        let node = ScriptedDockerNode(dir: dir)
        let before = try String(contentsOfFile: defaults, encoding: .utf8)
        // A restart that never returns stands for the agent being killed mid-apply: the file is written, the journal
        // says "restarting". Simulate the crash's leftovers with the configurator's own writer, then recover.
        let dns = configurator(Self.honestRestart, node: node)
        let backup = dir + "/state/backups/default-docker.bak"
        try FileManager.default.createDirectory(atPath: dir + "/state/backups", withIntermediateDirectories: true)
        try before.write(toFile: backup, atomically: true, encoding: .utf8)
        try "DOCKER_OPTS=\"--log-level=warn --dns 10.96.0.10\"\n".write(toFile: defaults, atomically: true, encoding: .utf8)
        let journal = ApplyJournal(
            id: "crash", path: defaults, backupPath: backup, fileExisted: true, phase: "restarting", startedAt: Date())
        try dns.writeJournal(journal)

        let message = try XCTUnwrap(dns.recoverInterruptedApply())
        XCTAssertTrue(message.contains("recovered interrupted apply crash"), message)
        XCTAssertTrue(message.contains("restored"), message)
        XCTAssertEqual(try String(contentsOfFile: defaults, encoding: .utf8), before)
        XCTAssertEqual(try XCTUnwrap(node.runningDockerd()).argv, ["dockerd", "--log-level=warn"], "Docker restarted from the old file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dns.journalPath))
        XCTAssertNil(dns.recoverInterruptedApply(), "nothing left to recover")
    }
}
