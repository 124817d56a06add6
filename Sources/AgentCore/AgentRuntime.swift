import AgentMetrics
import AgentProtocol
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Start-up and shutdown of the agent: recover, listen, say `ready` (log + sd_notify), stop on SIGTERM/SIGINT.
public final class AgentRuntime: Sendable {
    let config: AgentConfig
    let logger: Logger

    public init(config: AgentConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public func run() async throws {
        let started = Date()
        // Read $NOTIFY_SOCKET once and drop it from the environment: children (docker, systemctl) must not inherit it.
        SystemdNotify.takeSocket()
        FileLimits.raiseOpenFiles(to: config.limits.maxConnections * 2 + 256, logger: logger)
        var tls: NIOSSLContext? = nil
        var loadedTrust: AgentTrust? = nil
        if !config.insecure {
            do {
                tls = try AgentServer.tlsContext(certFile: config.tlsCert!, keyFile: config.tlsKey!, caFile: config.tlsCA!)
            } catch {
                throw AgentConfigError(source: "tls", key: "tlsCert/tlsKey/tlsCA", reason: "cannot load the TLS material: \(error)")
            }
            loadedTrust = try AgentTrust(certFile: config.tlsCert!, keyFile: config.tlsKey!, caFile: config.tlsCA!, stateDir: config.stateDir)
            if let own = loadedTrust?.ownCertificate, own.notAfter.timeIntervalSinceNow < 30 * 86_400 {
                logger.warning("this agent's certificate \(own.serial) expires \(own.notAfter): renew it with `coordinator certs rotate`")
            }
        } else {
            logger.warning(
                "INSECURE: plain TCP without authentication on \(config.listenHost):\(config.listenPort) — anyone who can connect can restart Docker on this node. Use only for loopback tests."
            )
        }
        let trust = loadedTrust
        let service = AgentService(config: config, logger: logger, trust: trust)
        // Recovery of an interrupted apply can take a Docker restart: tell systemd it needs longer than TimeoutStartSec.
        SystemdNotify.send(
            "EXTEND_TIMEOUT_USEC=\(UInt64((config.restartTimeout * 2 + 30) * 1_000_000))\nSTATUS=recovering an interrupted apply, if any")
        if let note = service.recover() { logger.warning("\(note)") }
        // One event loop thread: the agent serves a handful of coordinator connections, and every
        // further thread costs memory on nodes with many cores (the default group has one per core).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = AgentServer(
            handler: service, tls: tls, idleTimeout: config.idleTimeout, logger: logger, group: group,
            limits: config.limits, revoked: { trust?.revokedSerials ?? [] },
            drainTimeout: config.restartTimeout * 2 + 20)
        trust?.onNewContext { server.replaceTLSContext($0) }
        trust?.onRevoked { server.closeConnections(withSerials: $0) }
        let address: SocketAddress
        do {
            address = try await server.bind(host: config.listenHost, port: config.listenPort)
        } catch {
            try? await group.shutdownGracefully()
            throw AgentConfigError(source: "listen", key: "listen", reason: "cannot listen on \(config.listenHost):\(config.listenPort): \(error)")
        }
        var metrics: MetricsServer? = nil
        if let host = config.metricsHost, let port = config.metricsPort {
            AgentMetrics.register(methods: AgentMethod.allCases.map(\.rawValue))
            let metricsServer = MetricsServer(group: group, logger: logger, refresh: { service.refreshMetrics() })
            do {
                let bound = try await metricsServer.start(host: host, port: port)
                logger.info("metrics: Prometheus text on http://\(host.contains(":") ? "[\(host)]" : host):\(bound.port ?? port)/metrics")
                if !AgentConfig.isLoopback(host) {
                    logger.notice("metrics on \(host):\(port) are plain HTTP without authentication: keep that address node-internal")
                }
                metrics = metricsServer
            } catch {
                await server.stop()
                try? await group.shutdownGracefully()
                throw AgentConfigError(source: "metricsListen", key: "metricsListen", reason: "cannot listen on \(host):\(port): \(error)")
            }
        }
        let ms = Int(Date().timeIntervalSince(started) * 1000)
        logger.info(
            "ready: node \(config.nodeName) listening on \(address) (\(config.insecure ? "plain TCP" : "mutual TLS")), docker \(config.dockerSocket), \(service.dnsSourceDetail), started in \(ms) ms"
        )
        SystemdNotify.send("READY=1\nSTATUS=listening on \(address)")

        let (idle, idleContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        server.onIdle { idleContinuation.yield() }
        // SIGTERM/SIGINT: graceful shutdown (swift-service-lifecycle): the server drains (an apply in
        // flight finishes or rolls back, new connections are refused), then the process exits.
        let services = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: server), .init(service: StopNotice(logger: logger), successTerminationBehavior: .ignore),
                    .init(
                        service: StartupPageRelease(logger: logger, busy: { server.registry.count > 0 }, idle: idle),
                        successTerminationBehavior: .ignore),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await services.run()
        } catch {
            logger.error("the agent's server failed: \(error)")
        }
        await metrics?.stop()
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }
}

/// Says (log + sd_notify `STOPPING=1`) that a graceful stop began.
struct StopNotice: Service {
    let logger: Logger
    func run() async throws {
        do { try await gracefulShutdown() } catch { return }
        logger.info("stopping: draining (new connections refused, requests in flight finish)")
        SystemdNotify.send("STOPPING=1\nSTATUS=stopping: finishing requests in flight")
    }
}

/// Tells systemd (`Type=notify`) about readiness through `$NOTIFY_SOCKET`.
public enum SystemdNotify {
    /// `$NOTIFY_SOCKET`, read once and then removed from the environment (as sd_notify's
    /// `unset_environment` does): the commands the agent runs (`systemctl restart docker`, …) must
    /// not inherit it, or systemd logs "Got notification message from PID …, but reception only
    /// permitted for main PID" (NotifyAccess=main) for each of them.
    private static let socketPath: String? = {
        let path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"]
        unsetenv("NOTIFY_SOCKET")
        return path
    }()

    /// Call at start-up, before any child process is started.
    public static func takeSocket() { _ = socketPath }

    public static func send(_ state: String) {
        takeSocket()
        guard var path = socketPath, !path.isEmpty else { return }
        if path.hasPrefix("@") { path = "\0" + path.dropFirst() }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        _ = state.withCString { msg in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, msg, strlen(msg), 0, $0, len) }
            }
        }
    }
}

/// The descriptor limit: connections, their TLS state and Docker calls each need one.
enum FileLimits {
    static func raiseOpenFiles(to wanted: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
        let target = min(rlim_t(wanted), limit.rlim_max)
        limit.rlim_cur = target
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 || target < rlim_t(wanted) {
            logger.warning("open files limit is \(target), below the \(wanted) that maxConnections needs; raise LimitNOFILE= in the unit")
        }
    }
}
