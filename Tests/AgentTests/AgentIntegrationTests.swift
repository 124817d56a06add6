import AgentProtocol
import DockerConfig
import DockerEngine
import Fleet
import Foundation
import Lab
import XCTest

/// The agent against a real dockerd (Debian docker.io) in its own namespaces, started from the
/// node's DOCKER_OPTS by the lab's init-like script. Needs root (as CI runs).
final class AgentIntegrationTests: XCTestCase {
    nonisolated(unsafe) static var fixture: AgentFixture?
    nonisolated(unsafe) static var baseline = ""
    var fx: AgentFixture { Self.fixture! }
    var port = 0
    var agentPID: pid_t = 0

    override class func setUp() {
        super.setUp()
        guard geteuid() == 0 else { return }
        do {
            fixture = try AgentFixture(subnet: 201)
            baseline = fixture!.readDefaults()
        } catch {
            print("AgentIntegrationTests: lab setup failed: \(error)")
        }
    }

    override class func tearDown() {
        fixture?.tearDown()
        fixture = nil
        super.tearDown()
    }

    override func setUp() async throws {
        try XCTSkipUnless(geteuid() == 0, "needs root: creates namespaces and runs dockerd")
        guard Self.fixture != nil else { throw XCTSkip("lab could not be created (see log)") }
        // Every test starts from the node's original file and a dockerd running from it.
        try fx.restore(defaults: Self.baseline)
        try? FileManager.default.removeItem(atPath: fx.node.dockerConfigDir + "/daemon.json")
        port = AgentFixture.freePort()
        agentPID = try fx.startAgent(port: port)
    }

    override func tearDown() async throws {
        if agentPID > 0 { fx.stopAgent(agentPID) }
    }

    var desired: DNSParams {
        DNSParams(
            nameservers: [fx.kubeDNS, fx.upstreamDNS], search: ["default.svc.cluster.local", "svc.cluster.local"],
            options: ["ndots:2", "timeout:2", "attempts:2"])
    }

    func testApplyRestartsDockerAndNewContainersSeeTheClusterDNS() async throws {
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        let plan = try await client.dnsPlan(desired)
        XCTAssertTrue(plan.changed)
        XCTAssertTrue(plan.diff.contains("+DOCKER_OPTS="), plan.diff)

        let result = try await client.dnsApply(desired)
        XCTAssertTrue(result.changed)
        XCTAssertTrue(result.restarted)
        XCTAssertGreaterThan(result.restartSeconds, 0)
        // The running dockerd really carries the flags.
        let argv = fx.dockerdArgv()
        XCTAssertTrue(argv.contains("--dns=\(fx.kubeDNS)"), "\(argv)")
        XCTAssertTrue(argv.contains("--dns-search=svc.cluster.local"), "\(argv)")
        // Other flags kept, in order.
        XCTAssertTrue(fx.readDefaults().contains("--bip=172.31.1.1/24 --mtu=1500 --storage-driver=vfs"), fx.readDefaults())

        let run = fx.docker(["run", "--pull", "never", "--rm", fx.state.chaincodeImage, "cat", "/etc/resolv.conf"])
        XCTAssertTrue(run.succeeded, run.stderr)
        let conf = ResolvConf.parse(run.stdout)
        XCTAssertEqual(conf.nameservers, [fx.kubeDNS, fx.upstreamDNS])
        XCTAssertEqual(conf.search, ["default.svc.cluster.local", "svc.cluster.local"])
        XCTAssertEqual(Set(conf.options), Set(["ndots:2", "timeout:2", "attempts:2"]))

        // The fix works: a chaincode-like container resolves the peer's short service name.
        let ping = fx.docker(["run", "--pull", "never", "--rm", fx.state.chaincodeImage, "ping", "-c1", "-W1", "peer0.org1-f-1"])
        XCTAssertTrue(ping.stdout.contains("PING peer0.org1-f-1 (198.18.\(fx.state.subnet).100)"), ping.stdout + ping.stderr)

        let get = try await client.dnsGet()
        XCTAssertEqual(get.source, "defaults-file")
        XCTAssertEqual(get.nameservers, desired.nameservers)
        XCTAssertEqual(get.running?.nameservers, desired.nameservers)
    }

    func testReapplyingSameSettingsChangesNothingAndRestartsNothing() async throws {
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        _ = try await client.dnsApply(desired)
        let pidBefore = fx.node.run(["cat", "/run/docker.pid"]).stdout
        let bytesBefore = fx.readDefaults()
        let again = try await client.dnsApply(desired)
        XCTAssertFalse(again.changed)
        XCTAssertFalse(again.restarted)
        XCTAssertEqual(again.diff, "")
        XCTAssertEqual(fx.node.run(["cat", "/run/docker.pid"]).stdout, pidBefore, "dockerd must not have restarted")
        XCTAssertEqual(fx.readDefaults(), bytesBefore)
        let plan = try await client.dnsPlan(desired)
        XCTAssertFalse(plan.changed)
    }

    func testEveryOtherLineAndFlagIsKeptByteForByte() async throws {
        let original = """
            # managed by hand\r
            HTTP_PROXY=http://proxy.lab.example:3128
            HTTPS_PROXY="http://proxy.lab.example:3128"

            # Use DOCKER_OPTS to modify the daemon startup options.
            DOCKER_OPTS="--bip=172.31.1.1/24 --mtu=1500 --dns 10.9.9.9 --storage-driver=vfs --cgroup-parent=/bok-lab\(fx.state.subnet)-node1 --shutdown-timeout=3"
            # trailing comment

            """
        try original.write(toFile: fx.defaultsFile, atomically: true, encoding: .utf8)
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        let result = try await client.dnsApply(desired)
        XCTAssertTrue(result.changed)
        let after = fx.readDefaults()
        let beforeLines = original.components(separatedBy: "\n")
        let afterLines = after.components(separatedBy: "\n")
        XCTAssertEqual(beforeLines.count, afterLines.count)
        for (b, a) in zip(beforeLines, afterLines) where !b.hasPrefix("DOCKER_OPTS=") {
            XCTAssertEqual(a, b)
        }
        let opts = afterLines.first { $0.hasPrefix("DOCKER_OPTS=") } ?? ""
        XCTAssertFalse(opts.contains("10.9.9.9"))
        XCTAssertTrue(opts.hasPrefix("DOCKER_OPTS=\"--bip=172.31.1.1/24 --mtu=1500 --dns=\(fx.kubeDNS)"), opts)
        XCTAssertTrue(opts.contains("--storage-driver=vfs --cgroup-parent="), opts)
    }

    func testDockerdThatCannotStartIsRolledBackAndRunsAgain() async throws {
        // An init script whose dockerd cannot start with one particular nameserver: the real
        // dockerd is started with an unknown flag and exits.
        let marker = "198.18.\(fx.state.subnet).99"
        let script = fx.node.dir + "/flaky-restart.sh"
        try """
        #!/bin/sh
        . /etc/default/docker
        case "$DOCKER_OPTS" in
          *\(marker)*)
            printf 'DOCKER_OPTS="%s --no-such-flag"\\n' "$DOCKER_OPTS" > \(fx.node.dir)/broken-defaults
            BOK_DOCKER_DEFAULTS=\(fx.node.dir)/broken-defaults exec \(fx.state.dockerdScript) restart ;;
          *) exec \(fx.state.dockerdScript) restart ;;
        esac
        """.write(toFile: script, atomically: true, encoding: .utf8)
        fx.stopAgent(agentPID)
        agentPID = try fx.startAgent(port: port, restartCommand: "/bin/sh \(script)")
        let before = fx.readDefaults()
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        do {
            _ = try await client.dnsApply(DNSParams(nameservers: [marker], search: [], options: []))
            XCTFail("apply must fail")
        } catch {
            let e = error
            XCTAssertEqual(e.rpcError?.code, RPCErrorCode.applyFailedRolledBack.rawValue, "\(e)")
            let failure = try JSONCoding.decode(ApplyFailure.self, from: e.rpcError?.data)
            XCTAssertTrue(failure.rolledBack)
            XCTAssertTrue(failure.dockerRunning)
            XCTAssertTrue(failure.dockerLog.joined(separator: "\n").contains("no-such-flag"), "\(failure.dockerLog)")
        }
        XCTAssertEqual(fx.readDefaults(), before, "the old file must be back")
        XCTAssertTrue(fx.dockerPing(), "Docker must run again")
        XCTAssertFalse(FileManager.default.fileExists(atPath: fx.node.stateDir + "/journal.json"))
    }

    func testAgentKilledDuringApplyIsRecoveredOnNextStart() async throws {
        let before = fx.readDefaults()
        let client = try await fx.client(port: port)
        let settings = desired
        let apply = Task { try? await client.dnsApply(settings) }
        // Wait until the apply has written the file (journal present), then kill -9 the agent.
        let journal = fx.node.stateDir + "/journal.json"
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: journal), Date() < deadline { usleep(5_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: journal), "apply never started")
        let children = Self.descendants(of: agentPID)
        fx.stopAgent(agentPID, signal: SIGKILL)
        _ = await apply.value
        await client.close()
        // Let an in-flight restart finish, as a real crash would leave it: the agent's children (the restart command)
        // exit, then Docker answers.
        let settled = Date().addingTimeInterval(60)
        while children.contains(where: Self.isAlive) && Date() < settled { usleep(20_000) }
        while !fx.dockerPing() && Date() < settled { usleep(50_000) }
        agentPID = try fx.startAgent(port: port)
        let log = (try? String(contentsOfFile: fx.node.logDir + "/agent.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("recovered interrupted apply"), log)
        XCTAssertEqual(fx.readDefaults(), before, "the interrupted apply must be undone")
        XCTAssertFalse(FileManager.default.fileExists(atPath: journal))
        XCTAssertTrue(fx.dockerPing())
        XCTAssertFalse(fx.dockerdArgv().contains { $0.hasPrefix("--dns") }, "dockerd must run from the restored file")
    }

    func testTwoAppliesAtOnceAreSerialized() async throws {
        let a = try await fx.client(port: port)
        let b = try await fx.client(port: port)
        defer {
            Task {
                await a.close()
                await b.close()
            }
        }
        let other = DNSParams(nameservers: [fx.kubeDNS], search: ["svc.cluster.local"], options: ["ndots:3"])
        let started = Date()
        let mine = desired
        async let r1 = a.dnsApply(mine)
        async let r2 = b.dnsApply(other)
        let (x, y) = try await (r1, r2)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertTrue(x.restarted && y.restarted)
        // Serialized: the two restarts cannot overlap.
        XCTAssertGreaterThanOrEqual(elapsed, (x.restartSeconds + y.restartSeconds) * 0.95)
        // The file holds exactly one set of DNS flags and dockerd runs from it.
        let file = try DockerDefaultsFile.parse(Data(fx.readDefaults().utf8), path: fx.defaultsFile)
        let running = DockerdArguments.dns(fromArgv: fx.dockerdArgv())
        XCTAssertEqual(file.currentDNS, running)
        XCTAssertTrue([desired.nameservers, other.nameservers].contains(running.nameservers))
    }

    func testChaincodeListShowsFabricContainersWithTheNameserversTheySee() async throws {
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        _ = try await client.dnsApply(desired)
        let hash = String(repeating: "ab", count: 32)
        let names = ["dev-peer0.org1-f-1-mycc-1.0", "dev-peer1.org2-f-1-mycc_1-\(hash)", "not-a-chaincode"]
        for n in names {
            let r = fx.docker([
                "run", "--pull", "never", "-d", "--name", n, fx.state.chaincodeImage, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done",
            ])
            XCTAssertTrue(r.succeeded, r.stderr)
        }
        defer { fx.docker(["rm", "-f"] + names) }
        let list = try await client.chaincodeList()
        XCTAssertEqual(list.containers.map(\.name).sorted(), names.prefix(2).sorted())
        let v1 = try XCTUnwrap(list.containers.first { $0.name == names[0] })
        XCTAssertEqual(v1.peer, "peer0.org1-f-1")
        XCTAssertEqual(v1.chaincode, "mycc")
        XCTAssertEqual(v1.version, "1.0")
        XCTAssertEqual(v1.state, "running")
        XCTAssertEqual(v1.nameservers, [fx.kubeDNS, fx.upstreamDNS])
        XCTAssertEqual(v1.staleDNS, false)
        let v2 = try XCTUnwrap(list.containers.first { $0.name == names[1] })
        XCTAssertEqual(v2.peer, "peer1.org2-f-1")
        XCTAssertEqual(v2.chaincode, "mycc")
        XCTAssertEqual(v2.version, "1")
    }

    func testResolveAsksTheNameserversDockerIsConfiguredWith() async throws {
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        _ = try await client.dnsApply(desired)
        let r = try await client.resolve(ResolveParams(name: "peer0.org1-f-1.svc.cluster.local"))
        XCTAssertEqual(r.server, fx.kubeDNS)
        XCTAssertEqual(r.answers, ["198.18.\(fx.state.subnet).100"])
        let missing = try await client.resolve(ResolveParams(name: "nope.org1-f-1.svc.cluster.local"))
        XCTAssertEqual(missing.rcode, "NXDOMAIN")
        let up = try await client.upstreamDNS()
        XCTAssertEqual(up.nameservers, [fx.upstreamDNS])
    }

    func testHelloAndHealthDescribeTheNode() async throws {
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        let hello = try await client.hello()
        XCTAssertEqual(hello.node, "node1")
        XCTAssertEqual(hello.dnsSource, "defaults-file")
        XCTAssertEqual(hello.protocol, ProtocolVersion.current)
        XCTAssertTrue(hello.capabilities.contains("docker.dns.apply"))
        do {
            _ = try await client.call(.hello, HelloParams(protocolMin: 99, protocolMax: 100), as: HelloResult.self)
            XCTFail("version mismatch must fail")
        } catch {
            let e = error
            XCTAssertEqual(e.rpcError?.code, RPCErrorCode.versionMismatch.rawValue)
            XCTAssertTrue(e.message.contains("99"), e.message)
        }
        let before = try await client.health(HealthParams(desired: desired))
        XCTAssertEqual(before.checks.first { $0.name == "docker" }?.status, .ok)
        XCTAssertEqual(before.checks.first { $0.name == "dns-settings" }?.status, .warn)
        _ = try await client.dnsApply(desired)
        let after = try await client.health(HealthParams(desired: desired, probeName: "peer0.org1-f-1.svc.cluster.local"))
        XCTAssertEqual(after.checks.first { $0.name == "dns-settings" }?.status, .ok, "\(after.checks)")
        XCTAssertEqual(after.checks.first { $0.name == "cluster-dns" }?.status, .ok, "\(after.checks)")
        XCTAssertNotNil(after.checks.first { $0.name == "disk" })
    }

    func testBadInputGetsClearErrorsAndLeavesTheFileAndConnectionIntact() throws {
        let before = fx.readDefaults()
        let raw = try RawLineClient(port: port)
        raw.send("{not json\n")
        XCTAssertEqual(parseJSON(raw.readLine())["error"]?["code"], .number(-32700))
        raw.send(#"{"jsonrpc":"2.0","id":1,"method":"no.such.method"}"# + "\n")
        let unknown = parseJSON(raw.readLine())
        XCTAssertEqual(unknown["error"]?["code"], .number(-32601))
        XCTAssertEqual(unknown["id"], .number(1))
        raw.send(#"{"jsonrpc":"2.0","id":2,"method":"docker.dns.apply","params":{"nameservers":"10.0.0.10"}}"# + "\n")
        XCTAssertEqual(parseJSON(raw.readLine())["error"]?["code"], .number(-32602))
        for (i, evil) in ["1.1.1.1 --insecure-registry=evil", "$(reboot)", "10.0.0.10\"; rm -rf /", "`id`", "-H tcp://0.0.0.0"].enumerated() {
            let params = try JSONCoding.value(DNSParams(nameservers: [evil]))
            let line = String(
                decoding: try RPCLineParser.line(RPCRequest(id: .number(Int64(10 + i)), method: "docker.dns.apply", params: params)), as: UTF8.self)
            raw.send(line)
            let r = parseJSON(raw.readLine())
            XCTAssertEqual(r["error"]?["code"], .number(-32602), "\(evil)")
            XCTAssertTrue(r["error"]?["message"]?.stringValue?.contains("nameservers") == true, "\(r)")
        }
        for evil in ["evil.com --tls=false", "a;b", "x\ny"] {
            let params = try JSONCoding.value(DNSParams(nameservers: ["10.0.0.10"], search: [evil]))
            raw.send(String(decoding: try RPCLineParser.line(RPCRequest(id: .number(30), method: "docker.dns.plan", params: params)), as: UTF8.self))
            XCTAssertEqual(parseJSON(raw.readLine())["error"]?["code"], .number(-32602), evil)
        }
        // Still usable after all that.
        raw.send(#"{"jsonrpc":"2.0","id":"ok","method":"agent.hello"}"# + "\n")
        XCTAssertEqual(parseJSON(raw.readLine())["result"]?["node"], .string("node1"))
        XCTAssertEqual(fx.readDefaults(), before, "the file must be untouched")

        // Pipelined requests are answered, matched by id.
        raw.send(#"{"jsonrpc":"2.0","id":101,"method":"agent.hello"}"# + "\n" + #"{"jsonrpc":"2.0","id":102,"method":"docker.dns.get"}"# + "\n")
        let ids = [parseJSON(raw.readLine())["id"], parseJSON(raw.readLine())["id"]]
        XCTAssertEqual(Set(ids.compactMap { $0 }), [.number(101), .number(102)])

        // An oversized line closes the connection; a new one works.
        raw.send([UInt8](repeating: UInt8(ascii: "x"), count: Framing.maxLineBytes + 10))
        XCTAssertTrue(raw.closedByPeer(), "oversized line must close the connection")
        let fresh = try RawLineClient(port: port)
        fresh.send(#"{"jsonrpc":"2.0","id":1,"method":"agent.hello"}"# + "\n")
        XCTAssertNotNil(parseJSON(fresh.readLine())["result"])
    }
}

extension AgentIntegrationTests {
    func testLiveRestoreIsTurnedOnFirstSoChaincodeSurvivesTheRestart() async throws {
        let config = fx.node.dir + "/live-restore.yaml"
        try "enableLiveRestore: true\n".write(toFile: config, atomically: true, encoding: .utf8)
        fx.stopAgent(agentPID)
        agentPID = try fx.startAgent(port: port, extraArgs: ["--config", config])
        let name = "dev-peer0.org1-f-1-livecc-1.0"
        let run = fx.docker([
            "run", "--pull", "never", "-d", "--name", name, fx.state.chaincodeImage, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done",
        ])
        XCTAssertTrue(run.succeeded, run.stderr)
        defer { fx.docker(["rm", "-f", name]) }
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        let result = try await client.dnsApply(desired)
        XCTAssertTrue(result.restarted)
        XCTAssertTrue(result.warnings.contains { $0.contains("turned live-restore on") }, "\(result.warnings)")
        XCTAssertEqual(result.stoppedContainers, [], "live-restore keeps containers running across the restart")
        XCTAssertEqual(fx.docker(["inspect", "-f", "{{.State.Running}}", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "true")
        let list = try await client.chaincodeList()
        let cc = try XCTUnwrap(list.containers.first { $0.name == name })
        XCTAssertEqual(cc.staleDNS, true, "a container started before the change keeps its old resolv.conf")
        XCTAssertNotNil(cc.note)
    }

    func testWithoutLiveRestoreTheStoppedContainersAreReported() async throws {
        let name = "dev-peer1.org1-f-1-mycc-2.0"
        let run = fx.docker([
            "run", "--pull", "never", "-d", "--name", name, fx.state.chaincodeImage, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done",
        ])
        XCTAssertTrue(run.succeeded, run.stderr)
        defer { fx.docker(["rm", "-f", name]) }
        let client = try await fx.client(port: port)
        defer { Task { await client.close() } }
        let plan = try await client.dnsPlan(desired)
        XCTAssertTrue(plan.changed)
        let result = try await client.dnsApply(desired)
        XCTAssertEqual(result.stoppedContainers.map(\.name), [name])
        XCTAssertTrue(result.warnings.contains { $0.contains("live-restore is off") }, "\(result.warnings)")
    }

    /// Every process below `pid` (from /proc/PID/task/*/children), depth first.
    static func descendants(of pid: pid_t) -> [pid_t] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var out: [pid_t] = []
        for task in tasks {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            for child in text.split(separator: " ").compactMap({ pid_t($0) }) { out += [child] + descendants(of: child) }
        }
        return out
    }

    /// Running (not gone, not a zombie nobody reaped yet).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
