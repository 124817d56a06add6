import AgentCore
import AgentProtocol
import Crypto
import Fleet
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PKI
import X509
import XCTest

/// A temporary CA and helpers to run agents in-process (real TLS on loopback) and to mint hostile certificates.
final class SecurityFixture: @unchecked Sendable {
    let dir: String
    let trust: TrustStore
    let ca: CertificateAuthority
    let logs = LogCapture()
    private var servers: [(AgentServer, MultiThreadedEventLoopGroup)] = []

    init(_ name: String = #function) throws {
        dir = NSTemporaryDirectory() + "bok-sec-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        trust = TrustStore(dir: dir + "/ca")
        try trust.initialize()
        ca = try trust.loadCA()
    }

    func tearDown() async {
        for (server, group) in servers {
            await server.stop()
            try? await group.shutdownGracefully()
        }
        servers.removeAll()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// An agent config that needs no Docker: every Docker call fails fast.
    func agentConfig(node: String, tls: (cert: String, key: String, ca: String)) throws -> AgentConfig {
        var config = AgentConfig()
        config.nodeName = node
        config.tlsCert = tls.cert
        config.tlsKey = tls.key
        config.tlsCA = tls.ca
        config.dockerSocket = dir + "/\(node)-no-docker.sock"
        config.dockerDefaults = dir + "/\(node)-docker-defaults"
        config.restart = "command"
        config.restartCommand = ["/bin/true"]
        config.stateDir = dir + "/\(node)-state"
        try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: config.dockerDefaults) { try Data().write(to: URL(fileURLWithPath: config.dockerDefaults)) }
        return config
    }

    /// Starts an in-process agent for `node` presenting the certificate in `tlsDir` (issued for `certNode`).
    /// Returns the port, the service and a counter of requests that reached the handler.
    func startAgent(
        node: String, certNode: String? = nil, limits: ConnectionLimits = ConnectionLimits(),
        handler wrap: ((AgentService) -> RPCHandling)? = nil
    ) async throws -> RunningAgent {
        let files = try trust.issueAgent(node: certNode ?? node, addresses: ["127.0.0.1"], outDir: dir + "/agents/\(node)-\(certNode ?? node)")
        let config = try agentConfig(node: node, tls: files)
        let agentTrust = try AgentTrust(certFile: files.cert, keyFile: files.key, caFile: files.ca, stateDir: config.stateDir)
        let service = AgentService(config: config, logger: logs.logger(level: .error), trust: agentTrust)
        let counter = CountingHandler(inner: wrap?(service) ?? service)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = AgentServer(
            handler: counter, tls: try AgentServer.tlsContext(certFile: files.cert, keyFile: files.key, caFile: files.ca),
            idleTimeout: 60, logger: logs.logger(), group: group, limits: limits,
            revoked: { agentTrust.revokedSerials })
        agentTrust.onNewContext { server.replaceTLSContext($0) }
        agentTrust.onRevoked { server.closeConnections(withSerials: $0) }
        let address = try await server.start(host: "127.0.0.1", port: 0)
        servers.append((server, group))
        return RunningAgent(node: node, port: address.port!, server: server, counter: counter, files: files, trust: agentTrust)
    }

    /// A client certificate from this CA with any usage, SANs and validity (hostile variants included).
    func client(
        _ name: String, usage: CertificateUsage, sans: [String], days: Int = 30, notBefore: Date? = nil,
        issuer: CertificateAuthority? = nil
    ) throws -> ClientTLS {
        let key = P256.Signing.PrivateKey()
        let cert = try (issuer ?? ca).issue(
            commonName: name, organizationalUnit: nil, sans: sans, usage: usage, publicKey: key.publicKey,
            validityDays: days, notBefore: notBefore)
        let out = dir + "/clients/\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try PEMFile.write(cert, to: out + "/c.crt")
        try PEMFile.write(key, to: out + "/c.key")
        return try ClientTLS(certFile: out + "/c.crt", keyFile: out + "/c.key", caFile: trust.caCert)
    }

    func coordinatorTLS() throws -> ClientTLS { try trust.clientTLS() }

    /// Connects and says hello; returns the error (nil when served).
    func refusal(node: String, port: Int, tls: ClientTLS) async -> AgentClientError? {
        do {
            let client = try await AgentClient.connect(node: node, host: "127.0.0.1", port: port, tls: tls, timeout: 5)
            _ = try await client.hello()
            await client.close()
            return nil
        } catch {
            return error
        }
    }
}

struct RunningAgent {
    let node: String
    let port: Int
    let server: AgentServer
    let counter: CountingHandler
    let files: (cert: String, key: String, ca: String)
    let trust: AgentTrust
}

/// Counts requests that reach the agent's methods (to prove "no call was made").
final class CountingHandler: RPCHandling, @unchecked Sendable {
    let inner: RPCHandling
    let count = NIOLockedValueBox(0)
    init(inner: RPCHandling) { self.inner = inner }
    func handle(_ request: RPCRequest, connection: ConnectionContext) async -> RPCResponse? {
        count.withLockedValue { $0 += 1 }
        return await inner.handle(request, connection: connection)
    }
}

/// Collects log lines in memory.
final class LogCapture: @unchecked Sendable {
    let lines = NIOLockedValueBox<[String]>([])
    func logger(level: Logger.Level = .debug) -> Logger {
        var l = Logger(label: "sec") { _ in CaptureHandler(sink: self) }
        l.logLevel = level
        return l
    }
    func matching(_ s: String) -> [String] { lines.withLockedValue { $0.filter { $0.contains(s) } } }

    struct CaptureHandler: LogHandler {
        let sink: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            sink.lines.withLockedValue { $0.append("\(event.level) \(event.message)") }
        }
    }
}

/// A raw TCP socket to loopback (idle connections, bytes before TLS).
final class RawSocket {
    let fd: Int32
    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 {
            close(fd)
            return nil
        }
    }
    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// True when the peer closed (EOF or reset) within `timeout`.
    func closedByPeer(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while deadline.timeIntervalSinceNow > 0 {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) >= 0 else { return true }
            if p.revents != 0 {
                let n = recv(fd, &chunk, chunk.count, 0)
                if n <= 0 { return true }
            }
        }
        return false
    }
}

/// Raises this process's descriptor limit (thousands of test connections).
func raiseOpenFileLimit(_ wanted: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
