import AgentProtocol
import BoKSystem
import BoKTesting
import DockerEngine
import Fleet
import Foundation
import Lab
import XCTest

/// A one-node lab (real dockerd in its own namespaces) plus agent processes started from the
/// built `agent` binary inside the node's mount namespace. Everything is stopped by PID.
final class AgentFixture: @unchecked Sendable {
    let state: LabState
    var node: LabNode { state.nodes[0] }
    private(set) var agentPIDs: [pid_t] = []

    static var agentBinary: String { BuildProducts.agent }

    init(subnet: Int) throws {
        let root = "/tmp/bok-test-lab-\(subnet)"
        _ = LabEnvironment.down(root: root, subnet: subnet)  // leftovers of a crashed run
        state = try LabEnvironment.up(LabSpec(name: "agent-tests-\(subnet)", subnet: subnet, nodeCount: 1, root: root))
    }

    func tearDown() {
        for pid in agentPIDs { stopAgent(pid) }
        _ = LabEnvironment.down(root: state.root, subnet: state.subnet)
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Starts an agent in the node's mount namespace (root network namespace, loopback port).
    func startAgent(port: Int, extraArgs: [String] = [], restartCommand: String? = nil, logName: String = "agent.log") throws -> pid_t {
        let log = node.logDir + "/" + logName
        let before = (try? String(contentsOfFile: log, encoding: .utf8))?.count ?? 0
        let args =
            [
                "nsenter", "--mount=\(node.mountNS)", "--", Self.agentBinary,
                "--insecure", "--listen", "127.0.0.1:\(port)", "--node-name", node.name,
                "--restart", "command", "--restart-command", restartCommand ?? "\(state.dockerdScript) restart",
                "--docker-log-file", LabNode.dockerdLog, "--state-dir", node.stateDir,
            ] + extraArgs
        let pid = try CommandRunner.spawnDetached(args, logPath: log).get()
        agentPIDs.append(pid)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let fresh = String(text.dropFirst(before))
            if fresh.contains("ready") { return pid }
            if CommandRunner.reapIfExited(pid) {
                throw NSError(domain: "AgentFixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "agent exited during start: \(fresh)"])
            }
            usleep(20_000)
        }
        throw NSError(domain: "AgentFixture", code: 2, userInfo: [NSLocalizedDescriptionKey: "agent did not log ready within 20s"])
    }

    func stopAgent(_ pid: pid_t, signal sig: Int32 = SIGTERM) {
        guard kill(pid, 0) == 0 else {
            _ = CommandRunner.reapIfExited(pid)
            return
        }
        kill(pid, sig)
        for _ in 0..<200 {
            if CommandRunner.reapIfExited(pid) { break }
            usleep(20_000)
        }
        if kill(pid, 0) == 0 {
            kill(pid, SIGKILL)
            _ = CommandRunner.reapIfExited(pid)
        }
        agentPIDs.removeAll { $0 == pid }
    }

    func client(port: Int) async throws -> AgentClient {
        try await AgentClient.connect(node: node.name, host: "127.0.0.1", port: port, tls: nil)
    }

    // MARK: node helpers

    @discardableResult
    func docker(_ args: [String], timeout: Double = 60) -> CommandResult {
        node.run(["docker", "-H", "unix:///run/docker.sock"] + args, timeout: timeout)
    }

    var defaultsFile: String { node.defaultsFile }

    /// Puts the node back to `baseline`: the original defaults file and a dockerd running from it.
    func restore(defaults baseline: String) throws {
        guard readDefaults() != baseline || dockerdArgv().contains(where: { $0.hasPrefix("--dns") }) else { return }
        try baseline.write(toFile: defaultsFile, atomically: true, encoding: .utf8)
        node.run([state.dockerdScript, "restart"])
    }

    func readDefaults() -> String { (try? String(contentsOfFile: defaultsFile, encoding: .utf8)) ?? "" }

    func dockerdArgv() -> [String] {
        let pidText = node.run(["cat", "/run/docker.pid"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = Int32(pidText) else { return [] }
        return DockerdProcess.argv(pid: pid) ?? []
    }

    func dockerPing() -> Bool { docker(["version", "--format", "{{.Server.Version}}"], timeout: 10).succeeded }

    var kubeDNS: String { state.kubeDNS }
    var upstreamDNS: String { state.upstreamDNS }
}

/// A raw TCP client for bad-input tests: writes bytes, reads lines.
final class RawLineClient {
    let fd: Int32
    private var buffer = [UInt8]()

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 {
            close(fd)
            throw NSError(domain: "RawLineClient", code: Int(errno))
        }
    }

    deinit { close(fd) }

    func send(_ s: String) { send(Array(s.utf8)) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// The next line, or nil on EOF/timeout.
    func readLine(timeout: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(left * 1000)) > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    /// True when the peer closed the connection within `timeout`.
    func closedByPeer(timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while deadline.timeIntervalSinceNow > 0 {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) >= 0 else { return true }
            if p.revents != 0 {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = recv(fd, &chunk, chunk.count, 0)
                if n <= 0 { return true }
            }
        }
        return false
    }
}

extension JSONValue {
    var object: [String: JSONValue] {
        if case .object(let o) = self { return o }
        return [:]
    }
}

func parseJSON(_ line: String?) -> JSONValue {
    guard let line, let v = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)) else { return .null }
    return v
}
