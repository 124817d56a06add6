import AgentCore
import AgentProtocol
import ArgumentParser
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `agent`: the BoK node daemon. Thin: flags → AgentConfig → AgentRuntime.
@main
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "BoK node agent: owns this worker's Docker DNS settings and reports chaincode containers.",
        discussion: "Every key of --config (YAML) can also be given as a flag; flags win. See configs/agent.yaml.",
        version: BoKVersion.string,
        subcommands: [CSRCommand.self])

    @Option(name: .long, help: "YAML config file (default: /etc/bok/agent.yaml if it exists).")
    var config: String?
    @Option(name: .long, help: "Listen address HOST:PORT (default 0.0.0.0:7443).")
    var listen: String?
    @Flag(name: .long, help: "Plain TCP instead of mutual TLS. Only allowed on a loopback address; for tests.")
    var insecure = false
    @Option(name: .long, help: "PEM certificate of this agent (issued by the coordinator's CA).")
    var tlsCert: String?
    @Option(name: .long, help: "PEM private key of this agent.")
    var tlsKey: String?
    @Option(name: .long, help: "PEM CA that client certificates must chain to.")
    var tlsCa: String?
    @Option(name: .long, help: "Docker's defaults file (default /etc/default/docker).")
    var dockerDefaults: String?
    @Option(name: .long, help: "Docker's daemon.json (default /etc/docker/daemon.json).")
    var dockerDaemonJson: String?
    @Option(name: .long, help: "Docker's API socket (default /var/run/docker.sock).")
    var dockerSocket: String?
    @Option(name: .long, help: "How to restart Docker: systemd, sysv or command (default systemd).")
    var restart: String?
    @Option(name: .long, help: "With --restart command: the argv to run, split like a shell would but never run through one.")
    var restartCommand: String?
    @Option(name: .long, help: "dockerd's log file, quoted when an apply fails (for --restart command/sysv).")
    var dockerLogFile: String?
    @Option(name: .long, help: "State directory: backups, journal, lock (default /var/lib/bok-agent).")
    var stateDir: String?
    @Option(name: .long, help: "This node's name (default: the host name).")
    var nodeName: String?
    @Option(name: .long, help: "At most this many open connections (default 256); the oldest unauthenticated one makes room.")
    var maxConnections: Int?
    @Option(name: .long, help: "Seconds a client has to finish the TLS handshake (default 10).")
    var handshakeTimeout: Double?
    @Option(name: .long, help: "Requests per connection read but not yet answered (default 16); reading pauses at the limit.")
    var maxInFlight: Int?
    @Option(name: .long, help: "chaincode.watch subscriptions per connection (default 4).")
    var maxWatchesPerConnection: Int?
    @Option(name: .long, help: "chaincode.watch subscriptions in total (default 64).")
    var maxWatches: Int?
    @Option(
        name: .long, help: "Serve Prometheus metrics on plain HTTP at HOST:PORT/metrics (off by default; bind loopback or a node-internal address).")
    var metricsListen: String?
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func run() async throws {
        var cfg = AgentConfig()
        do {
            let path = config ?? (FileManager.default.fileExists(atPath: "/etc/bok/agent.yaml") ? "/etc/bok/agent.yaml" : nil)
            if let path { cfg = try AgentConfig.load(path: path) }
            let flags: [(String, Any?)] = [
                ("listen", listen), ("tlsCert", tlsCert), ("tlsKey", tlsKey), ("tlsCA", tlsCa),
                ("dockerDefaults", dockerDefaults), ("dockerDaemonJSON", dockerDaemonJson), ("dockerSocket", dockerSocket),
                ("restart", restart), ("restartCommand", restartCommand), ("dockerLogFile", dockerLogFile),
                ("stateDir", stateDir), ("nodeName", nodeName), ("insecure", insecure ? true : nil),
                ("maxConnections", maxConnections), ("handshakeTimeout", handshakeTimeout), ("maxInFlight", maxInFlight),
                ("maxWatchesPerConnection", maxWatchesPerConnection), ("maxWatches", maxWatches), ("metricsListen", metricsListen),
            ]
            for (key, value) in flags { if let value { try cfg.set(key: key, value: value, source: "--\(key)") } }
            try cfg.validate()
        } catch {
            printError("agent: \(error)\n")
            throw ExitCode(2)
        }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardOutput(label: label)
            h.logLevel = level
            return h
        }
        let runtime = AgentRuntime(config: cfg, logger: Logger(label: "bok-agent"))
        do {
            try await runtime.run()
        } catch {
            printError("agent: \(error)\n")
            throw ExitCode(1)
        }
    }
}

/// `agent csr --key PATH --node NAME`: this node's key, made here (0600), and a CSR on stdout for
/// `coordinator certs sign --csr FILE --node NAME --address IP`. The key never leaves the node.
struct CSRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csr", abstract: "Make this node's TLS key (0600, never overwriting) and print a CSR for `coordinator certs sign`.")
    @Option(name: .long, help: "Where to create the key, e.g. /etc/bok/tls/agent.key (must not exist).")
    var key: String
    @Option(name: .long, help: "This node's name as the inventory knows it.")
    var node: String

    func run() throws {
        do {
            print(try NodeKey.generate(keyPath: key, nodeName: node), terminator: "")
            printError("agent: key written to \(key) (0600); give the CSR above to `coordinator certs sign --csr FILE --node \(node) --address IP`\n")
        } catch {
            printError("agent: \(error)\n")
            throw ExitCode(1)
        }
    }
}

/// Writes to standard error (unbuffered, no Foundation `FileHandle`).
func printError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeMutableBufferPointer { write(2, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        offset += n
    }
    bytes.removeAll()
}
