import BoKSystem
import BoKTesting
import DockerEngine
import Fleet
import Foundation
import XCTest

/// "Connecting to a wedged docker.sock has no timeout" and "recovery at start can run longer than the unit's
/// TimeoutStartSec".
final class StartAndDockerTimeoutTests: XCTestCase {
    /// A unix socket whose accept backlog is full (the listener never accepts): the SO_PEERCRED probe gives up.
    func testConnectingToAWedgedDockerSocketTimesOut() throws {
        let path = NSTemporaryDirectory() + "bok-wedged-\(getpid()).sock"
        unlink(path)
        defer { unlink(path) }
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        XCTAssertEqual(
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }, 0)
        XCTAssertEqual(listen(listener, 0), 0)
        // Fill the backlog with non-blocking connects nobody accepts.
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<8 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            fillers.append(fd)
        }
        let started = Date()
        XCTAssertNil(DockerdProcess.peerPID(socketPath: path, timeout: 1))
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 0.5, "it waited for the backlog")
        XCTAssertLessThan(elapsed, 3, "and gave up after its timeout")
    }

    /// The agent tells systemd to extend the start timeout before it recovers an interrupted apply, then READY=1.
    func testTheAgentExtendsTheStartTimeoutBeforeRecoveryThenSaysReady() throws {
        let binary = BuildProducts.agent
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary), "build the agent first: swift build --product agent")
        let fx = try SecurityFixture()
        defer { try? FileManager.default.removeItem(atPath: fx.dir) }
        let files = try fx.trust.issueAgent(node: "n1", addresses: ["127.0.0.1"], outDir: fx.dir + "/n1-tls")
        let config = try fx.agentConfig(node: "n1", tls: files)
        let notify = fx.dir + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(notify.utf8) + [0]) }
        XCTAssertEqual(
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }, 0)
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notify
        let pid = try CommandRunner.spawnDetached(
            [
                binary, "--listen", "127.0.0.1:\(FloodTests.freePort())", "--node-name", "n1", "--tls-cert", files.cert, "--tls-key", files.key,
                "--tls-ca", files.ca, "--restart", "command", "--restart-command", "/bin/true", "--docker-socket", config.dockerSocket,
                "--docker-defaults", config.dockerDefaults, "--state-dir", config.stateDir,
            ], logPath: fx.dir + "/agent.log", environment: env
        ).get()
        defer {
            kill(pid, SIGTERM)
            for _ in 0..<100 where !CommandRunner.reapIfExited(pid) { usleep(20_000) }
            if kill(pid, 0) == 0 {
                kill(pid, SIGKILL)
                _ = CommandRunner.reapIfExited(pid)
            }
        }
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !messages.contains(where: { $0.contains("READY=1") }) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 { messages.append(String(decoding: buf[0..<n], as: UTF8.self)) }
        }
        let extend = messages.firstIndex { $0.contains("EXTEND_TIMEOUT_USEC=") }
        let ready = messages.firstIndex { $0.contains("READY=1") }
        XCTAssertNotNil(extend, "\(messages)")
        XCTAssertNotNil(ready, "\(messages)")
        if let extend, let ready { XCTAssertLessThan(extend, ready, "the extension comes before recovery and readiness") }
    }
}
