import AgentProtocol
import BoKSystem
import DockerConfig
import DockerEngine
import Fleet
import Foundation
import NIOConcurrencyHelpers
import XCTest

/// The shipped agent's lifecycle against a real dockerd (lab subnet 212): SIGTERM during
/// `docker.dns.apply` drains (the apply finishes, new connections are refused, then the process
/// exits), and `chaincode.watch` streams Docker's `/events` once for many watchers.
final class GracefulStopAndWatchTests: XCTestCase {
    nonisolated(unsafe) static var fixture: AgentFixture?
    nonisolated(unsafe) static var baseline = ""
    var fx: AgentFixture { Self.fixture! }
    var port = 0
    var agentPID: pid_t = 0
    var logName = ""

    override class func setUp() {
        super.setUp()
        guard geteuid() == 0 else { return }
        do {
            fixture = try AgentFixture(subnet: 212)
            baseline = fixture!.readDefaults()
        } catch {
            print("GracefulStopAndWatchTests: lab setup failed: \(error)")
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
        try fx.restore(defaults: Self.baseline)
        port = AgentFixture.freePort()
        logName = "agent-\(name.filter { $0.isLetter }).log"
        agentPID = try fx.startAgent(port: port, logName: logName)
    }

    override func tearDown() async throws {
        if agentPID > 0 { fx.stopAgent(agentPID) }
    }

    var log: String { (try? String(contentsOfFile: fx.node.logDir + "/" + logName, encoding: .utf8)) ?? "" }

    func canConnect() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    func testSIGTERMDuringAnApplyFinishesItRefusesNewConnectionsThenExits() async throws {
        let desired = DNSParams(nameservers: [fx.kubeDNS, fx.upstreamDNS], search: ["svc.cluster.local"], options: ["ndots:2"])
        let client = try await fx.client(port: port)
        let finished = NIOLockedValueBox<Date?>(nil)
        let apply = Task { () throws -> DNSApplyResult in
            let r = try await client.dnsApply(desired)
            finished.withLockedValue { $0 = Date() }
            return r
        }
        // The apply has written the file and is restarting Docker once its journal exists.
        let journal = fx.node.stateDir + "/journal.json"
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: journal), Date() < deadline { usleep(2_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: journal), "the apply never started")
        XCTAssertEqual(kill(agentPID, SIGTERM), 0)

        // Draining: the process lives on, and new connections are refused.
        var refusedWhileAlive = false
        var exitedAt: Date?
        let stopDeadline = Date().addingTimeInterval(150)  // the unit's TimeoutStopSec
        while Date() < stopDeadline {
            if CommandRunner.reapIfExited(agentPID) {
                exitedAt = Date()
                break
            }
            if !refusedWhileAlive && !canConnect() && kill(agentPID, 0) == 0 { refusedWhileAlive = true }
            usleep(10_000)
        }
        let pid = agentPID
        agentPID = 0
        let exited = try XCTUnwrap(exitedAt, "the agent did not exit within 150 s of SIGTERM")
        XCTAssertTrue(refusedWhileAlive, "new connections must be refused while the agent drains")

        // The apply completed and was answered before the process exited.
        let result = try await apply.value
        XCTAssertTrue(result.changed && result.restarted, "\(result)")
        let answered = try XCTUnwrap(finished.withLockedValue { $0 })
        XCTAssertLessThanOrEqual(answered, exited.addingTimeInterval(0.05), "the answer came after the process exit")
        await client.close()

        // Docker's configuration is consistent: the whole new file, the journal cleared, dockerd running from it.
        XCTAssertFalse(FileManager.default.fileExists(atPath: journal), "journal left behind")
        let file = try DockerDefaultsFile.parse(Data(fx.readDefaults().utf8), path: fx.defaultsFile)
        XCTAssertEqual(file.currentDNS.nameservers, desired.nameservers)
        XCTAssertEqual(DockerdArguments.dns(fromArgv: fx.dockerdArgv()), file.currentDNS)
        XCTAssertTrue(fx.dockerPing())
        XCTAssertTrue(log.contains("stopping: waiting for 1 request(s) in flight"), log)
        XCTAssertTrue(log.contains("stopped"), log)
        XCTAssertFalse(log.contains("still in flight after"), log)
        _ = pid
    }

    func testTwoWatchersGetChaincodeEventsFromOneDockerEventStreamThatSurvivesADockerRestart() async throws {
        let a = try await fx.client(port: port)
        let b = try await fx.client(port: port)
        let seen = [NIOLockedValueBox<[ChaincodeEvent]>([]), NIOLockedValueBox<[ChaincodeEvent]>([])]
        for (i, c) in [a, b].enumerated() {
            let box = seen[i]
            c.onNotification { note in
                guard note.method == AgentNotification.chaincodeEvent.rawValue,
                    let e = try? JSONCoding.decode(ChaincodeEvent.self, from: note.params)
                else { return }
                box.withLockedValue { $0.append(e) }
            }
            let r = try JSONCoding.decode(WatchResult.self, from: try await c.callRaw(AgentMethod.chaincodeWatch.rawValue, params: .object([:])))
            XCTAssertTrue(r.watching)
            XCTAssertEqual(r.source, "docker-events")
        }
        func waitFor(_ what: String, _ done: @escaping ([ChaincodeEvent]) -> Bool) {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, !seen.allSatisfy({ done($0.withLockedValue { $0 }) }) { usleep(20_000) }
            for (i, s) in seen.enumerated() {
                XCTAssertTrue(done(s.withLockedValue { $0 }), "watcher \(i) did not see \(what): \(s.withLockedValue { $0 })")
            }
        }
        let cc = "dev-peer0.org1-f-1-watchcc-1.0"
        let other = "not-a-chaincode-watch"
        defer { fx.docker(["rm", "-f", cc, other]) }
        for n in [other, cc] {
            let r = fx.docker(["run", "--pull", "never", "-d", "--name", n, fx.state.chaincodeImage, "sh", "-c", "sleep 600"])
            XCTAssertTrue(r.succeeded, r.stderr)
        }
        waitFor("start") { $0.contains { $0.action == "start" && $0.container.name == cc } }
        XCTAssertTrue(fx.docker(["kill", cc]).succeeded)
        waitFor("die") { $0.contains { $0.action == "die" && $0.container.name == cc } }
        XCTAssertTrue(fx.docker(["rm", cc]).succeeded)
        waitFor("destroy") { $0.contains { $0.action == "destroy" && $0.container.name == cc } }
        for s in seen {
            let events = s.withLockedValue { $0 }
            XCTAssertFalse(events.contains { $0.container.name == other }, "a non-chaincode container was reported: \(events)")
            let start = try XCTUnwrap(events.first { $0.action == "start" })
            XCTAssertEqual(start.container.peer, "peer0.org1-f-1")
            XCTAssertEqual(start.container.chaincode, "watchcc")
            XCTAssertEqual(start.container.version, "1.0")
            XCTAssertNotNil(start.time.flatMap { ISO8601DateFormatter().date(from: $0) }, "time must be RFC 3339: \(start)")
            let die = try XCTUnwrap(events.first { $0.action == "die" })
            XCTAssertEqual(die.exitCode, 137, "docker kill → SIGKILL → 137")
            XCTAssertEqual(events.filter { $0.action == "start" }.count, 1, "each event once per watcher: \(events)")
        }
        // One Docker stream for both watchers.
        XCTAssertEqual(log.components(separatedBy: "opening Docker's event stream").count - 1, 1, log)

        // Docker restarts: the stream ends, the agent reconnects, events flow again.
        fx.node.run([fx.state.dockerdScript, "restart"])
        XCTAssertTrue(fx.dockerPing())
        let cc2 = "dev-peer1.org1-f-1-watchcc-2.0"
        defer { fx.docker(["rm", "-f", cc2]) }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, log.components(separatedBy: "opening Docker's event stream").count - 1 < 2 { usleep(50_000) }
        XCTAssertTrue(fx.docker(["run", "--pull", "never", "-d", "--name", cc2, fx.state.chaincodeImage, "sh", "-c", "sleep 600"]).succeeded)
        waitFor("start after the Docker restart") { $0.contains { $0.action == "start" && $0.container.name == cc2 } }
        await a.close()
        await b.close()
    }
}
