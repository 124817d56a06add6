import AgentCore
import AgentProtocol
import BoKTesting
import DockerEngine
import Fleet
import Foundation
import XCTest

/// `coordinator chaincode watch` against real in-process agents over mutual TLS: events pushed by agents appear as
/// lines; an agent that dies is reported (which node, why) and, once back on its port, reconnected.
final class ChaincodeWatchTests: XCTestCase {
    static let hash = String(repeating: "ab12", count: 16)

    func testEventsFromEveryNodeAppearAndADroppedNodeIsReportedAndReconnected() async throws {
        let fx = try MetricsWatchFixture()
        let a = try await fx.startAgent("node1")
        let b = try await fx.startAgent("node2")
        let inventory = try fx.inventory([("node1", a.port), ("node2", b.port)])
        let runner = FleetRunner(inventory: inventory, tls: try inventory.trust.clientTLS(), connectTimeout: 2)
        let sink = LineSink()
        let watcher = ChaincodeWatcher(runner: runner, initialBackoff: 0.2, maxBackoff: 0.5, keepalive: 1) { sink.append($0) }
        let task = Task { await watcher.run() }
        do {
            try MetricsWatchFixture.waitFor("both nodes connected") {
                sink.lines.filter { $0.event == "connected" }.count == 2 && a.seam.openSubscribers == 1 && b.seam.openSubscribers == 1
            }
            let c1 = "dev-peer0.org1-f-1-simple_1.0-\(Self.hash)"
            a.seam.push(chaincodeEvent("start", container: c1, time: "2026-12-07T17:01:02.5Z"))
            b.seam.push(chaincodeEvent("die", container: c1, exitCode: 2, time: "2026-12-07T17:01:03Z"))
            try MetricsWatchFixture.waitFor("the two events") { sink.lines.filter { !$0.isConnectionEvent }.count == 2 }
            let start = try XCTUnwrap(sink.lines.first { $0.node == "node1" && $0.event == "start" })
            XCTAssertEqual(start.container, c1)
            XCTAssertEqual(start.chaincode, "simple_1.0:\(Self.hash)")
            XCTAssertEqual(start.time, "2026-12-07T17:01:02.5Z")
            XCTAssertNil(start.exitCode)
            let die = try XCTUnwrap(sink.lines.first { $0.node == "node2" && $0.event == "die" })
            XCTAssertEqual(die.exitCode, 2)
            XCTAssertEqual(die.text, "2026-12-07T17:01:03Z  node2  die  \(c1)  simple_1.0:\(Self.hash)  exit=2")
            XCTAssertTrue(die.json.contains("\"exitCode\":2") && die.json.contains("\"node\":\"node2\""), die.json)

            // node2's agent dies: one DISCONNECTED line naming node2 and why; node1 goes on.
            await fx.killAgent("node2")
            try MetricsWatchFixture.waitFor("node2 reported as disconnected") {
                sink.lines.contains { $0.node == "node2" && $0.event == "disconnected" }
            }
            let drop = try XCTUnwrap(sink.lines.first { $0.event == "disconnected" })
            XCTAssertEqual(drop.node, "node2")
            XCTAssertTrue(drop.error?.contains("node2") == true && drop.error?.contains("127.0.0.1:\(b.port)") == true, drop.text)
            XCTAssertTrue(drop.text.contains("DISCONNECTED"), drop.text)
            // While it stays down, the retries (connection refused) report the new reason once, not once per attempt.
            try await Task.sleep(nanoseconds: 2_000_000_000)
            let drops = sink.lines.filter { $0.event == "disconnected" }
            XCTAssertLessThanOrEqual(drops.count, 2, drops.map(\.text).joined(separator: "\n"))
            a.seam.push(chaincodeEvent("oom", container: c1))
            try MetricsWatchFixture.waitFor("node1's event while node2 is down") { sink.lines.contains { $0.event == "oom" && $0.node == "node1" } }

            // node2 comes back on its port: RECONNECTED, and its events flow again.
            let b2 = try await fx.startAgent("node2", port: b.port)
            try MetricsWatchFixture.waitFor("node2 reconnected") { sink.lines.contains { $0.node == "node2" && $0.event == "reconnected" } }
            try MetricsWatchFixture.waitFor("node2 subscribed again") { b2.seam.openSubscribers == 1 }
            b2.seam.push(chaincodeEvent("destroy", container: c1))
            try MetricsWatchFixture.waitFor("node2's event after the reconnect") {
                sink.lines.contains { $0.event == "destroy" && $0.node == "node2" }
            }
            XCTAssertEqual(sink.lines.filter { $0.node == "node1" && $0.isConnectionEvent }.map(\.event), ["connected"], "node1 never dropped")
        } catch {
            task.cancel()
            await fx.tearDown()
            throw error
        }
        task.cancel()
        await task.value
        await fx.tearDown()
    }

    /// A node whose agent is not running is reported with why; the others are watched; when it starts, it is connected.
    func testAnUnreachableNodeIsReportedWithWhyAndTheOthersAreWatched() async throws {
        let fx = try MetricsWatchFixture()
        let a = try await fx.startAgent("node1")
        let deadPort = MetricsWatchFixture.freePort()
        _ = try fx.issue("node3")
        let inventory = try fx.inventory([("node1", a.port), ("node3", deadPort)])
        let runner = FleetRunner(inventory: inventory, tls: try inventory.trust.clientTLS(), connectTimeout: 1)
        let sink = LineSink()
        let task = Task { await ChaincodeWatcher(runner: runner, initialBackoff: 0.2, maxBackoff: 0.4) { sink.append($0) }.run() }
        do {
            try MetricsWatchFixture.waitFor("node3 reported") { sink.lines.contains { $0.node == "node3" && $0.event == "disconnected" } }
            let line = try XCTUnwrap(sink.lines.first { $0.node == "node3" })
            XCTAssertTrue(line.error?.contains("cannot connect") == true, line.text)
            try MetricsWatchFixture.waitFor("node1 connected") { sink.lines.contains { $0.node == "node1" && $0.event == "connected" } }
            // node3 comes up for the first time: `reconnected` is for nodes seen before, so this is `connected`.
            _ = try await fx.startAgent("node3", port: deadPort)
            try MetricsWatchFixture.waitFor("node3 connected") { sink.lines.contains { $0.node == "node3" && $0.event == "connected" } }
        } catch {
            task.cancel()
            await fx.tearDown()
            throw error
        }
        task.cancel()
        await task.value
        await fx.tearDown()
    }

    /// The real `coordinator chaincode watch` binary: lines on stdout (text and --json), a drop line, SIGINT exits 0.
    func testTheCoordinatorCommandPrintsLinesLiveAndExitsCleanlyOnSIGINT() async throws {
        let binary = BuildProducts.coordinator
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary), "build the coordinator first: swift build --product coordinator")
        let fx = try MetricsWatchFixture()
        let a = try await fx.startAgent("node1")
        let b = try await fx.startAgent("node2")
        let inventory = try fx.inventory([("node1", a.port), ("node2", b.port)])
        let c1 = "dev-peer0.org1-f-1-simple_1.0-\(Self.hash)"
        for json in [false, true] {
            let log = fx.dir + "/watch-\(json).log"
            let pid = try fx.spawn(
                [binary, "chaincode", "watch", "--inventory", inventory.path, "--max-backoff", "1"] + (json ? ["--json"] : []),
                log: log)
            func output() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
            do {
                try MetricsWatchFixture.waitFor("two subscriptions") {
                    a.seam.openSubscribers == 1 && fx.agentNamed("node2")?.seam.openSubscribers == 1
                }
                a.seam.push(chaincodeEvent("die", container: c1, exitCode: 137, time: "2026-12-07T17:05:00Z"))
                if json {
                    try MetricsWatchFixture.waitFor("the JSON event line") { output().contains("\"event\":\"die\"") }
                    let line = try XCTUnwrap(output().split(separator: "\n").first { $0.contains("\"event\":\"die\"") })
                    let decoded = try JSONDecoder().decode(ChaincodeWatchLine.self, from: Data(line.utf8))
                    XCTAssertEqual(decoded.node, "node1")
                    XCTAssertEqual(decoded.exitCode, 137)
                    XCTAssertEqual(decoded.container, c1)
                    XCTAssertEqual(decoded.chaincode, "simple_1.0:\(Self.hash)")
                    XCTAssertEqual(decoded.time, "2026-12-07T17:05:00Z")
                } else {
                    try MetricsWatchFixture.waitFor("the event line") { output().contains("node1  die") }
                    XCTAssertTrue(output().contains("2026-12-07T17:05:00Z  node1  die  \(c1)  simple_1.0:\(Self.hash)  exit=137"), output())
                    await fx.killAgent("node2")
                    try MetricsWatchFixture.waitFor("the drop line") { output().contains("node2  DISCONNECTED") }
                    _ = try await fx.startAgent("node2", port: b.port)
                    try MetricsWatchFixture.waitFor("the reconnect line") { output().contains("node2  RECONNECTED") }
                }
            } catch {
                XCTFail("coordinator chaincode watch printed:\n\(output())")
                fx.stop(pid, signal: SIGKILL)
                await fx.tearDown()
                throw error
            }
            let status = fx.stop(pid, signal: SIGINT)
            XCTAssertEqual(status, 0, "SIGINT ends the watch with exit status 0; output:\n\(output())")
            try MetricsWatchFixture.waitFor("subscriptions closed") {
                a.seam.openSubscribers == 0 && fx.agentNamed("node2").map { $0.seam.openSubscribers == 0 } ?? true
            }
        }
        await fx.tearDown()
    }
}

extension MetricsWatchFixture {
    func agentNamed(_ node: String) -> InProcessAgent? { agents[node] }
}
