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
        discussion: "Target (issue 16): 1,000 agents in under 1 s including TLS handshakes, at most 1 ms of coordinator CPU per node.")

    @Option(help: "Agents (each its own listener on 127.0.0.1 with its own certificate).")
    var agents = 1000
    @Option(help: "Timed runs over the whole fleet.")
    var runs = 5
    @Option(help: "Agents talked to at once (coordinator --concurrency; default: the coordinator's default).")
    var concurrency: Int?
    @Option(help: "Event loop threads serving the in-process agents.")
    var serverThreads = 1
    @Option(
        help: "kube-dns address compared with each node's DNS (adds the node.upstreamDNS call, as an inventory with kubeDNS does); \"none\" skips it."
    )
    var kubeDNS = "10.96.0.10"
    @Flag(help: "Serve the agents from a child process, so this process's CPU time is the coordinator's alone.")
    var agentsProcess = false

    func validate() throws {
        guard agents > 0, runs > 0, serverThreads > 0 else { throw ValidationError("--agents, --runs and --server-threads must be positive") }
        if let concurrency, concurrency <= 0 { throw ValidationError("--concurrency must be positive") }
    }

    func run() async throws {
        let fds = raiseFileDescriptorLimit()
        let needed = UInt64(agents) * 3 + 64  // listener + accepted side + client side per agent
        print(
            String(
                format: "fleet-health: %d agents, RLIMIT_NOFILE soft %llu -> %llu (hard %llu), about %llu descriptors needed",
                agents, fds.before, fds.after, fds.hard, needed))
        if fds.after < needed {
            print(
                "bok-bench: the open-file limit \(fds.after) is below the \(needed) descriptors this run needs; raise it (ulimit -n \(needed)) or pass fewer --agents"
            )
            throw ExitCode(1)
        }

        let dir = try temporaryDirectory("bok-bench-fleet-health")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trust = TrustStore(dir: dir + "/ca")
        try trust.initialize(commonName: "bok-bench CA")

        let setupStart = monotonicSeconds()
        var fleet: InProcessAgents?
        var child: PipedChild?
        defer { child?.stop() }
        var nodes: [Inventory.Node] = []
        if agentsProcess {
            // The agents in a child process (this executable, `fleet-agents`): this process is the coordinator alone,
            // so its getrusage is the coordinator's CPU.
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            let spawned = try PipedChild([
                exe, "fleet-agents", "--ca-dir", trust.dir, "--agents", String(agents),
                "--server-threads", String(serverThreads), "--dir", dir + "/agents",
            ])
            child = spawned
            guard spawned.waitForLine(containing: "fleet-agents ready", timeout: 300),
                let line = spawned.output.split(separator: "\n").first(where: { $0.hasPrefix("ports ") })
            else {
                print("bok-bench: the agents' process (PID \(spawned.pid)) did not get ready within 300 s; its output:\n\(spawned.output)")
                throw ExitCode(1)
            }
            let ports = line.dropFirst(6).split(separator: ",").compactMap { Int($0) }
            nodes = ports.enumerated().map { Inventory.Node(name: String(format: "node%04d", $0.offset), agent: "127.0.0.1:\($0.element)") }
        } else {
            let started = try await InProcessAgents.start(count: agents, trust: trust, dir: dir, serverThreads: serverThreads)
            fleet = started
            nodes = started.nodes
        }
        let setupSeconds = monotonicSeconds() - setupStart
        print(
            String(
                format: "  set-up: %d listeners with their own certificates in %.1f s; agents on %d event loop thread(s) %@, coordinator on %d",
                nodes.count, setupSeconds, serverThreads, agentsProcess ? "in a child process (PID \(child?.pid ?? 0))" : "in this process",
                System.coreCount))

        let inventory = Inventory(
            path: dir + "/inventory.yaml", nodes: nodes, caDir: trust.dir,
            kubeDNS: kubeDNS == "none" ? nil : kubeDNS)
        let effectiveConcurrency = concurrency ?? FleetRunner(inventory: inventory, tls: nil).concurrency
        print("  coordinator side: FleetStatusCollector (as `coordinator health`), concurrency \(effectiveConcurrency), kube-dns \(kubeDNS)")
        print(
            "run  wall(s)  answered  unreachable  cpu(s) \(agentsProcess ? "coordinator" : "process (coordinator + agents)")  ms/node"
                + (agentsProcess ? "  agents cpu(s)" : ""))
        var walls: [Double] = []
        var cpuPerNode: [Double] = []
        for i in 1...runs {
            let childBefore = child.flatMap { ProcessSample.read(pid: $0.pid) }?.cpuTicks ?? 0
            let cpuBefore = processCPUSeconds()
            let start = monotonicSeconds()
            // Per run, as the coordinator process does per invocation: load the TLS material once.
            let runner = FleetRunner(inventory: inventory, tls: try trust.clientTLS(), concurrency: effectiveConcurrency)
            let statuses = await FleetStatusCollector(runner: runner, kubeDNS: inventory.kubeDNS, includeChaincode: false).collect()
            let wall = monotonicSeconds() - start
            let cpu = processCPUSeconds() - cpuBefore
            let childCPU = Double((child.flatMap { ProcessSample.read(pid: $0.pid) }?.cpuTicks ?? 0) - childBefore) / ProcessSample.ticksPerSecond
            walls.append(wall)
            cpuPerNode.append(cpu * 1000 / Double(max(1, nodes.count)))
            let unreachable = statuses.filter { !$0.reachable }
            let answered = statuses.count - unreachable.count
            print(
                String(format: "%3d  %7.3f  %8d  %11d  %7.3f  %7.3f", i, wall, answered, unreachable.count, cpu, cpuPerNode.last!)
                    + (agentsProcess ? String(format: "  %7.2f", childCPU) : ""))
            if let first = unreachable.first { print("     first failure: \(first.error ?? "?")") }
            fflush(nil)
        }
        let s = spread(walls)
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        print(
            String(
                format: "health over %d agents: min %.3f s, median %.3f s, max %.3f s over %d runs  (target < 1 s: %@; load %.2f)",
                agents, s.min, s.median, s.max, runs, s.median < 1 ? "met" : "NOT met", load[0]))
        let c = spread(cpuPerNode)
        print(
            String(
                format: "%@ CPU per node: min %.3f ms, median %.3f ms, max %.3f ms  (target <= 1 ms: %@)",
                agentsProcess ? "coordinator" : "process (coordinator + in-process agents; --agents-process for the coordinator alone)",
                c.min, c.median, c.max, c.median <= 1 ? "met" : "NOT met"))
        await fleet?.stop()
    }
}

/// utime + stime of this whole process (getrusage RUSAGE_SELF), in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// N agents in this process: a real AgentServer per agent on 127.0.0.1:0 with its own certificate from `trust`'s CA
/// (mutual TLS, client certificates must chain to the CA), all answering with one AgentService whose Docker paths
/// point at nothing.
final class InProcessAgents {
    let servers: [AgentServer]
    let nodes: [Inventory.Node]
    let group: MultiThreadedEventLoopGroup

    private init(servers: [AgentServer], nodes: [Inventory.Node], group: MultiThreadedEventLoopGroup) {
        self.servers = servers
        self.nodes = nodes
        self.group = group
    }

    static func start(count: Int, trust: TrustStore, dir: String, serverThreads: Int) async throws -> InProcessAgents {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
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
        let group = MultiThreadedEventLoopGroup(numberOfThreads: serverThreads)
        var servers: [AgentServer] = []
        var nodes: [Inventory.Node] = []
        for i in 0..<count {
            let name = String(format: "node%04d", i)
            let key = P256.Signing.PrivateKey()
            let cert = try ca.issue(
                commonName: name, organizationalUnit: "agent", sans: [name, "127.0.0.1"], usage: .serverAndClient,
                publicKey: key.publicKey, validityDays: 30, notBefore: nil)
            var tlsConfig = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(try PEMFile.pem(for: cert).utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(PEMFile.pem(for: key).utf8), format: .pem)))
            // As AgentServer.tlsContext: client certificates must chain to the CA.
            tlsConfig.trustRoots = .certificates([caCert])
            tlsConfig.certificateVerification = .noHostnameVerification
            tlsConfig.minimumTLSVersion = .tlsv12
            let server = AgentServer(
                handler: service, tls: try NIOSSLContext(configuration: tlsConfig), idleTimeout: 300,
                logger: logger, group: group)
            let address = try await server.start(host: "127.0.0.1", port: 0)
            servers.append(server)
            nodes.append(Inventory.Node(name: name, agent: "127.0.0.1:\(address.port ?? 0)"))
        }
        return InProcessAgents(servers: servers, nodes: nodes, group: group)
    }

    func stop() async {
        for server in servers { await server.stop() }
        try? await group.shutdownGracefully()
    }
}

/// `bok-bench fleet-agents` (used by `fleet-health --agents-process`): N in-process agents with certificates from the
/// CA in --ca-dir; prints `ports P1,P2,…` and `fleet-agents ready`, then serves until it is terminated.
struct FleetAgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-agents", abstract: "Serve N agents for `fleet-health --agents-process` until terminated.", shouldDisplay: false)

    @Option(help: "The CA directory (`coordinator ca init` layout) that issues the agents' certificates.")
    var caDir: String
    @Option(help: "Agents.")
    var agents = 1000
    @Option(help: "Event loop threads serving the agents.")
    var serverThreads = 1
    @Option(help: "Directory for the agents' files.")
    var dir: String

    func run() async throws {
        _ = raiseFileDescriptorLimit()
        let fleet = try await InProcessAgents.start(count: agents, trust: TrustStore(dir: caDir), dir: dir, serverThreads: serverThreads)
        let ports = fleet.nodes.map { String($0.agentPort) }.joined(separator: ",")
        print("ports \(ports)")
        print("fleet-agents ready")
        fflush(nil)
        while true { try await Task.sleep(nanoseconds: 3_600_000_000_000) }
    }
}
