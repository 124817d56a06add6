import AgentCore
import BoKSystem
import DockerEngine
import XCTest

final class ChaincodeNameTests: XCTestCase {
    func testFabric1NamesSplitIntoPeerNameAndVersion() {
        let n = ChaincodeName.parse("dev-peer0.org1-f-1-mycc-1.0")
        XCTAssertEqual(n, ChaincodeName(peer: "peer0.org1-f-1", chaincode: "mycc", version: "1.0", fabricMajor: 1))
    }

    func testFabric2NamesEndInTheSha256OfThePackage() {
        let hash = String(repeating: "0f", count: 32)
        let n = ChaincodeName.parse("dev-peer0.org1-basic_1.0-\(hash)")
        XCTAssertEqual(n?.peer, "peer0.org1")
        XCTAssertEqual(n?.chaincode, "basic")
        XCTAssertEqual(n?.version, "1.0")
        XCTAssertEqual(n?.fabricMajor, 2)
    }

    func testTheNetworkIDPrefixIsConfigurable() {
        XCTAssertNil(ChaincodeName.parse("dev-peer0.org1-mycc-1.0", networkID: "prod"))
        XCTAssertNotNil(ChaincodeName.parse("prod-peer0.org1-mycc-1.0", networkID: "prod"))
    }

    func testFabricsOwnSanitisingRoundTrips() {
        let hash = String(repeating: "a1", count: 32)
        let name = ChaincodeName.containerName(peerID: "peer1.org2-f-1", ccid: "mycc_1:\(hash)")
        XCTAssertEqual(name, "dev-peer1.org2-f-1-mycc_1-\(hash)")
        XCTAssertEqual(ChaincodeName.parse(name)?.peer, "peer1.org2-f-1")
    }

    func testOrdinaryContainersAreNotChaincode() {
        for n in ["nginx", "k8s_POD_peer0", "dev-", "dev-a-b", "web-frontend-1"] { XCTAssertNil(ChaincodeName.parse(n), n) }
    }
}

final class AgentConfigTests: XCTestCase {
    func testUnknownKeysAreErrorsNamingTheKey() {
        var c = AgentConfig()
        XCTAssertThrowsError(try c.merge(yaml: "listen: 0.0.0.0:7443\ndockerSockett: /x\n", source: "agent.yaml")) { e in
            XCTAssertTrue("\(e)".contains("dockerSockett"), "\(e)")
            XCTAssertTrue("\(e)".contains("agent.yaml"), "\(e)")
        }
    }

    func testBadValuesNameTheKeyAndWhatIsExpected() {
        var c = AgentConfig()
        for (yaml, key) in [
            ("listen: nope", "listen"), ("restart: upstart", "restart"), ("stateDir: relative/dir", "stateDir"),
            ("restartTimeout: -1", "restartTimeout"), ("insecure: maybe", "insecure"),
        ] {
            XCTAssertThrowsError(try c.merge(yaml: yaml, source: "f")) { e in XCTAssertTrue("\(e)".contains("'\(key)'"), "\(e)") }
        }
    }

    func testInsecureIsRefusedOffLoopback() throws {
        var c = AgentConfig()
        try c.merge(yaml: "listen: 0.0.0.0:7443\ninsecure: true\n", source: "f")
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("loopback")) }
        try c.set(key: "listen", value: "127.0.0.1:7443", source: "flag")
        XCTAssertNoThrow(try c.validate())
        try c.set(key: "listen", value: "[::1]:7443", source: "flag")
        XCTAssertNoThrow(try c.validate())
    }

    func testMutualTLSIsTheDefaultAndNeedsItsFiles() {
        var c = AgentConfig()
        c.listenHost = "0.0.0.0"
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("tlsCert")) }
    }

    func testRestartCommandIsSplitLikeAShellButNeverRunThroughOne() throws {
        var c = AgentConfig()
        try c.set(key: "restart", value: "command", source: "f")
        try c.set(key: "restartCommand", value: "/usr/sbin/service 'docker ce' restart", source: "f")
        XCTAssertEqual(c.restartStrategy, .command(["/usr/sbin/service", "docker ce", "restart"]))
        XCTAssertThrowsError(try c.set(key: "restartCommand", value: "a 'b", source: "f"))
    }
}

final class DNSSourceDetectorTests: XCTestCase {
    func testDebianDockerIOUnitReadsTheDefaultsFile() {
        let show = """
            EnvironmentFiles=/etc/default/docker (ignore_errors=yes)
            ExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS ; ignore_errors=no }
            """
        XCTAssertEqual(DNSSourceDetector.fromSystemdShow(show, defaultsPath: "/etc/default/docker").source, .defaultsFile)
    }

    func testUpstreamDockerCEUnitDoesNotReadIt() {
        let show = "ExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock }\n"
        let d = DNSSourceDetector.fromSystemdShow(show, defaultsPath: "/etc/default/docker")
        XCTAssertEqual(d.source, .daemonJSON)
        XCTAssertTrue(d.detail.contains("does not read"))
    }

    func testSysvScriptThatSourcesTheFile() {
        let script = "DOCKER_OPTS=\n[ -f /etc/default/docker ] && . /etc/default/docker\nstart-stop-daemon ... -- $DOCKER_OPTS\n"
        XCTAssertEqual(DNSSourceDetector.fromInitScript(script, defaultsPath: "/etc/default/docker").source, .defaultsFile)
    }
}

final class CommandRunnerTests: XCTestCase {
    func testRunsWithoutAShellAndReportsExitAndOutput() {
        let r = CommandRunner.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        XCTAssertEqual(r.exitCode, 3)
        XCTAssertEqual(r.stdout, "out\n")
        XCTAssertEqual(r.stderr, "err\n")
        XCTAssertEqual(CommandRunner.run(["echo", "$(reboot)"]).stdout, "$(reboot)\n")
    }

    func testTimeoutKillsTheChild() {
        let start = Date()
        let r = CommandRunner.run(["sleep", "30"], timeout: 0.5)
        XCTAssertTrue(r.timedOut)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testADaemonHoldingThePipesDoesNotBlockTheCaller() {
        let start = Date()
        // The child exits at once but leaves a grandchild holding stdout for 3 s.
        let r = CommandRunner.run(["/bin/sh", "-c", "sleep 3 & echo started"], timeout: 10)
        XCTAssertEqual(r.exitCode, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.5)
    }
}

/// agent.yaml is read by the agent's own flat reader (no Yams): the documented file and what
/// `coordinator agents install` writes must load exactly as before.
final class AgentFlatYAMLTests: XCTestCase {
    func testTheDocumentedConfigLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs/agent.yaml").path
        let c = try AgentConfig.load(path: path)
        XCTAssertEqual(c.listenHost, "0.0.0.0")
        XCTAssertEqual(c.listenPort, 7443)
        XCTAssertEqual(c.tlsCA, "/etc/bok/tls/ca.crt")
        XCTAssertEqual(c.restartTimeout, 60)
        XCTAssertEqual(c.limits.maxInFlight, 16)
        XCTAssertEqual(c.limits.maxWatches, 64)
        XCTAssertEqual(c.chaincodeNetworkID, "dev")
    }

    func testQuotedValuesListsAndCommentsAsInstallWritesThem() throws {
        var c = AgentConfig()
        try c.merge(
            yaml: """
                # written by coordinator agents install
                listen: "[::1]:7443"
                nodeName: "node-1"   # a comment after a value
                restart: command
                restartCommand: "/usr/local/bin/restart docker --now \\"x y\\" \\u0041"
                dockerLogFile: '/var/log/it''s.log'
                insecure: false
                handshakeTimeout: 2.5
                stateDir:
                """, source: "t.yaml")
        XCTAssertEqual(c.listenHost, "::1")
        XCTAssertEqual(c.nodeName, "node-1")
        XCTAssertEqual(c.restartCommand, ["/usr/local/bin/restart", "docker", "--now", "x y", "A"])
        XCTAssertEqual(c.dockerLogFile, "/var/log/it's.log")
        XCTAssertEqual(c.limits.handshakeTimeout, 2.5)
        try c.merge(yaml: "restartCommand: [/bin/systemctl, restart, \"docker\"]\n", source: "t2.yaml")
        XCTAssertEqual(c.restartCommand, ["/bin/systemctl", "restart", "docker"])
        var d = AgentConfig()
        try d.merge(yaml: "restartCommand:\n  - /bin/sh\n  - -c\n  - 'exit 0'\n", source: "t3.yaml")
        XCTAssertEqual(d.restartCommand, ["/bin/sh", "-c", "exit 0"])
    }

    func testWhatTheAgentConfigNeverHoldsIsRefusedNamingFileAndLine() {
        for bad in [
            "a: &x 1\nb: *x\n", "listen:\n  host: x\n", "nodeName: !!str x\n", "nodeName: \"open\n", "nodeName: x\nnodeName: y\n",
            "restartCommand: |\n  x\n",
        ] {
            var c = AgentConfig()
            XCTAssertThrowsError(try c.merge(yaml: bad, source: "bad.yaml"), bad) { e in
                XCTAssertTrue("\(e)".contains("bad.yaml") && "\(e)".contains("line"), "\(e)")
            }
        }
    }
}
