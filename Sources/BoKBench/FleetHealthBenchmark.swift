import AgentCore
import AgentProtocol
import ArgumentParser
import Crypto
import Fleet
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PKI

/// `bok-bench fleet-health`: N in-process agents (real AgentServer + AgentService, each listener
/// with its own certificate, Docker paths pointing nowhere), then `coordinator health`'s code path
/// (FleetRunner + FleetStatusCollector) over all of them, end to end including TLS handshakes.
struct FleetHealthBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-health",
        abstract: "Run `coordinator health`'s code path over N in-process agents with mutual TLS; print min/median/max.",
        discussion: "Target (DESIGN.md §9): 1,000 agents in under 2 s including TLS handshakes.")

    @Option(help: "Agents (each its own listener on 127.0.0.1 with its own certificate).")
    var agents = 1000
    @Option(help: "Timed runs over the whole fleet.")
    var runs = 5
    @Option(help: "Agents talked to at once (coordinator --concurrency; default: the coordinator's default).")
    var concurrency: Int?
    @Option(help: "Event loop threads serving the in-process agents.")
    var serverThreads = 1
    @Option(help: "kube-dns address compared with each node's DNS (adds the node.upstreamDNS call, as an inventory with kubeDNS does); \"none\" skips it.")
    var kubeDNS = "10.96.0.10"

    func validate() throws {
        guard agents > 0, runs > 0, serverThreads > 0 else { throw ValidationError("--agents, --runs and --server-threads must be positive") }
        if let concurrency, concurrency <= 0 { throw ValidationError("--concurrency must be positive") }
    }

    func run() async throws {
        let fds = raiseFileDescriptorLimit()
        let needed = UInt64(agents) * 3 + 64  // listener + accepted side + client side per agent
        print(String(format: "fleet-health: %d agents, RLIMIT_NOFILE soft %llu -> %llu (hard %llu), about %llu descriptors needed",
                     agents, fds.before, fds.after, fds.hard, needed))
        if fds.after < needed {
            print("bok-bench: the open-file limit \(fds.after) is below the \(needed) descriptors this run needs; raise it (ulimit -n \(needed)) or pass fewer --agents")
            throw ExitCode(1)
        }

        let dir = try temporaryDirectory("bok-bench-fleet-health")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trust = TrustStore(dir: dir + "/ca")
        try trust.initialize(commonName: "bok-bench CA")
        let ca = try trust.loadCA()
        let caCert = try NIOSSLCertificate(bytes: Array(try PEMFile.pem(for: ca.certificate).utf8), format: .pem)

        // One AgentService for all listeners: it reads files only, and Docker is absent.
        var config = AgentConfig()
        config.nodeName = "bench"
        config.dockerDefaults = dir + "/etc-default-docker"
        config.dockerDaemonJSON = dir + "/daemon.json"
        config.dockerSocket = dir + "/no-docker.sock"
        config.restart = "command"
        config.restartCommand = ["/bin/true"]
        config.stateDir = dir + "/state"
        try Data().write(to: URL(fileURLWithPath: config.dockerDefaults))
        var logger = Logger(label: "bok-bench-agents")
        logger.logLevel = .error
        let service = AgentService(config: config, logger: logger)
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: serverThreads)

        var servers: [AgentServer] = []
        var nodes: [Inventory.Node] = []
        let setupStart = monotonicSeconds()
        for i in 0..<agents {
            let name = String(format: "node%04d", i)
            let key = P256.Signing.PrivateKey()
            let cert = try ca.issue(commonName: name, organizationalUnit: "agent", sans: [name, "127.0.0.1"], usage: .serverAndClient,
                                    publicKey: key.publicKey, validityDays: 30, notBefore: nil)
            var tlsConfig = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(try PEMFile.pem(for: cert).utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(PEMFile.pem(for: key).utf8), format: .pem)))
            // As AgentServer.tlsContext: client certificates must chain to the CA.
            tlsConfig.trustRoots = .certificates([caCert])
            tlsConfig.certificateVerification = .noHostnameVerification
            tlsConfig.minimumTLSVersion = .tlsv12
            let server = AgentServer(handler: service, tls: try NIOSSLContext(configuration: tlsConfig), idleTimeout: 300,
                                     logger: logger, group: serverGroup)
            let address = try await server.start(host: "127.0.0.1", port: 0)
            servers.append(server)
            nodes.append(Inventory.Node(name: name, agent: "127.0.0.1:\(address.port ?? 0)"))
        }
        let setupSeconds = monotonicSeconds() - setupStart
        print(String(format: "  set-up: %d listeners with their own certificates in %.1f s; agents on %d event loop thread(s), coordinator on %d",
                     agents, setupSeconds, serverThreads, System.coreCount))

        let inventory = Inventory(path: dir + "/inventory.yaml", nodes: nodes, caDir: trust.dir,
                                  kubeDNS: kubeDNS == "none" ? nil : kubeDNS)
        let effectiveConcurrency = concurrency ?? FleetRunner(inventory: inventory, tls: nil).concurrency
        print("  coordinator side: FleetStatusCollector (as `coordinator health`), concurrency \(effectiveConcurrency), kube-dns \(kubeDNS)")
        print("run  wall(s)  answered  unreachable")
        var walls: [Double] = []
        for i in 1...runs {
            let start = monotonicSeconds()
            // Per run, as the coordinator process does per invocation: load the TLS material once.
            let runner = FleetRunner(inventory: inventory, tls: try trust.clientTLS(), concurrency: effectiveConcurrency)
            let statuses = await FleetStatusCollector(runner: runner, kubeDNS: inventory.kubeDNS, includeChaincode: false).collect()
            let wall = monotonicSeconds() - start
            walls.append(wall)
            let unreachable = statuses.filter { !$0.reachable }
            let answered = statuses.count - unreachable.count
            print(String(format: "%3d  %7.3f  %8d  %11d", i, wall, answered, unreachable.count))
            if let first = unreachable.first { print("     first failure: \(first.error ?? "?")") }
            fflush(nil)
        }
        let s = spread(walls)
        print(String(format: "health over %d agents: min %.3f s, median %.3f s, max %.3f s over %d runs  (target < 2 s: %@)",
                     agents, s.min, s.median, s.max, runs, s.median < 2 ? "met" : "NOT met"))
        for server in servers { await server.stop() }
        try? await serverGroup.shutdownGracefully()
    }
}
