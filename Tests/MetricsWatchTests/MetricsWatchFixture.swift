import AgentCore
import AgentProtocol
import BoKSystem
import DockerEngine
import Fleet
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

/// A temporary CA, in-process agents on loopback (real mutual TLS, real ``AgentService`` behind a watch seam),
/// an inventory naming them, and helpers to run the built binaries. Everything stops in ``tearDown()``.
final class MetricsWatchFixture: @unchecked Sendable {
    let dir: String
    let trust: TrustStore
    private(set) var agents: [String: InProcessAgent] = [:]
    private(set) var pids: [pid_t] = []

    init() throws {
        dir = NSTemporaryDirectory() + "bok-mw-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        trust = TrustStore(dir: dir + "/ca")
        try trust.initialize()
    }

    func tearDown() async {
        for pid in pids { stop(pid) }
        for agent in agents.values { await agent.kill() }
        agents.removeAll()
        try? FileManager.default.removeItem(atPath: dir)
    }

    static var quietLogger: Logger {
        var l = Logger(label: "mw-test")
        l.logLevel = .critical
        return l
    }

    /// An agent config that needs no Docker: every Docker call fails fast; restarting Docker runs `restartCommand`.
    func agentConfig(node: String, tls: (cert: String, key: String, ca: String), restartCommand: [String] = ["/bin/false"]) throws -> AgentConfig {
        var config = AgentConfig()
        config.nodeName = node
        config.tlsCert = tls.cert
        config.tlsKey = tls.key
        config.tlsCA = tls.ca
        config.dockerSocket = dir + "/\(node)-no-docker.sock"
        config.dockerDefaults = dir + "/\(node)-docker-defaults"
        config.dockerDaemonJSON = dir + "/\(node)-daemon.json"
        config.restart = "command"
        config.restartCommand = restartCommand
        config.restartTimeout = 5
        config.dockerTimeout = 1
        config.stateDir = dir + "/\(node)-state"
        try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: config.dockerDefaults) {
            try "DOCKER_OPTS=\"\"\n".write(toFile: config.dockerDefaults, atomically: true, encoding: .utf8)
        }
        return config
    }

    func issue(_ node: String) throws -> (cert: String, key: String, ca: String) {
        try trust.issueAgent(node: node, addresses: ["127.0.0.1"], outDir: dir + "/agents/\(node)")
    }

    /// Starts (or restarts, on the same port) an in-process agent for `node`.
    @discardableResult
    func startAgent(_ node: String, port: Int = 0) async throws -> InProcessAgent {
        let files =
            FileManager.default.fileExists(atPath: dir + "/agents/\(node)/agent.crt")
            ? (cert: dir + "/agents/\(node)/agent.crt", key: dir + "/agents/\(node)/agent.key", ca: trust.caCert) : try issue(node)
        let config = try agentConfig(node: node, tls: files)
        let agentTrust = try AgentTrust(certFile: files.cert, keyFile: files.key, caFile: files.ca, stateDir: config.stateDir)
        let service = AgentService(config: config, logger: Self.quietLogger, trust: agentTrust)
        let seam = WatchSeam(inner: service)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = AgentServer(
            handler: seam, tls: try AgentServer.tlsContext(certFile: files.cert, keyFile: files.key, caFile: files.ca),
            idleTimeout: 60, logger: Self.quietLogger, group: group, revoked: { agentTrust.revokedSerials })
        let address = try await server.start(host: "127.0.0.1", port: port)
        let agent = InProcessAgent(node: node, port: address.port!, service: service, seam: seam, server: server, group: group)
        agents[node] = agent
        return agent
    }

    /// Stops the agent's listener and closes every connection it holds (as if the process died).
    func killAgent(_ node: String) async {
        await agents.removeValue(forKey: node)?.kill()
    }

    /// An inventory of `nodes` (name → port) with this fixture's CA.
    func inventory(_ nodes: [(String, Int)]) throws -> Inventory {
        let inv = Inventory(
            path: dir + "/inventory.yaml", nodes: nodes.map { Inventory.Node(name: $0.0, agent: "127.0.0.1:\($0.1)") },
            caDir: trust.dir)
        try inv.yaml().write(toFile: inv.path, atomically: true, encoding: .utf8)
        return inv
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

    // MARK: processes (stopped by PID)

    func spawn(_ argv: [String], log: String, environment: [String: String]? = nil) throws -> pid_t {
        let pid = try CommandRunner.spawnDetached(argv, logPath: log, environment: environment).get()
        pids.append(pid)
        return pid
    }

    /// SIGTERM, then SIGKILL after 4 s; reaps. Returns the exit status (nil when killed or unknown).
    @discardableResult
    func stop(_ pid: pid_t, signal sig: Int32 = SIGTERM) -> Int32? {
        pids.removeAll { $0 == pid }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return exitStatus(status) }
        kill(pid, sig)
        for _ in 0..<200 {
            if waitpid(pid, &status, WNOHANG) == pid { return exitStatus(status) }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        return nil
    }

    private func exitStatus(_ status: Int32) -> Int32? {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
    }

    static func waitFor(_ what: String, timeout: Double = 20, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return }
            usleep(50_000)
        }
        throw NSError(
            domain: "MetricsWatchFixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "timed out after \(timeout)s waiting for \(what)"])
    }
}

/// One in-process agent: the real service and TLS server, with its own event loop (killed by shutting it down).
final class InProcessAgent: Sendable {
    let node: String
    let port: Int
    let service: AgentService
    let seam: WatchSeam
    let server: AgentServer
    let group: MultiThreadedEventLoopGroup

    init(node: String, port: Int, service: AgentService, seam: WatchSeam, server: AgentServer, group: MultiThreadedEventLoopGroup) {
        self.node = node
        self.port = port
        self.service = service
        self.seam = seam
        self.server = server
        self.group = group
    }

    func kill() async {
        await server.stop()
        try? await group.shutdownGracefully()
    }
}

/// The test seam for the agent's watch fan-out (until the Docker `/events` watch lands): `chaincode.watch` is
/// answered here and the test pushes `chaincode.event` notifications to every open subscription, over the agent's
/// real connection code. Every other method goes to the real ``AgentService``.
final class WatchSeam: RPCHandling, Sendable {
    let inner: AgentService
    private let subscribers = NIOLockedValueBox<[ConnectionContext]>([])

    init(inner: AgentService) { self.inner = inner }

    func handle(_ request: RPCRequest, connection: ConnectionContext) async -> RPCResponse? {
        guard request.method == AgentMethod.chaincodeWatch.rawValue else { return await inner.handle(request, connection: connection) }
        subscribers.withLockedValue { $0.append(connection) }
        let result = try? JSONCoding.value(WatchResult(watching: true, intervalSeconds: 0, source: "test-seam"))
        return RPCResponse(id: request.id, result: result ?? .null)
    }

    var openSubscribers: Int { subscribers.withLockedValue { $0.filter { $0.isOpen() }.count } }

    func push(_ event: ChaincodeEvent) {
        guard let params = try? JSONCoding.value(event) else { return }
        for c in subscribers.withLockedValue({ $0 }) where c.isOpen() {
            c.push(RPCRequest(id: nil, method: AgentNotification.chaincodeEvent.rawValue, params: params))
        }
    }
}

/// Collects output lines from any thread.
final class LineSink: Sendable {
    private let box = NIOLockedValueBox<[ChaincodeWatchLine]>([])
    func append(_ line: ChaincodeWatchLine) { box.withLockedValue { $0.append(line) } }
    var lines: [ChaincodeWatchLine] { box.withLockedValue { $0 } }
}

func chaincodeEvent(_ action: String, container name: String, exitCode: Int? = nil, time: String? = nil) -> ChaincodeEvent {
    let info = ChaincodeContainerInfo(
        id: String(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xffff_ffff, radix: 16), name: name, peer: "peer0.org1-f-1",
        chaincode: "simple", version: "1.0", state: action == "start" ? "running" : "exited", exitCode: exitCode,
        image: "dev-peer0.org1-f-1-simple_1.0", createdAt: "2026-12-07T17:00:00Z", nameservers: ["198.18.214.10"])
    return ChaincodeEvent(action: action, container: info, time: time, exitCode: exitCode)
}
