import BoKSystem
import DockerEngine
import Fleet
import Foundation

extension LabEnvironment {
    /// The lab's CA (agent link) lives inside the lab.
    public static func trust(_ state: LabState) -> TrustStore { TrustStore(dir: state.root + "/ca") }

    /// Creates the lab's CA, a certificate per node, starts an agent in every node (mutual TLS on
    /// the node's address) and writes the lab's inventory.
    static func startAgents(_ state: LabState, binary: String, port: Int, progress: (String) -> Void) throws(LabError) {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw LabError(step: "starting agents", detail: "agent binary \(binary) not found; build it with `swift build` or pass --agent-binary")
        }
        let trust = trust(state)
        do {
            if !trust.exists { try trust.initialize(commonName: "BoK lab CA (\(state.name))") }
        } catch { throw LabError(step: "creating the lab CA", detail: "\(error)") }
        for node in state.nodes {
            progress("node \(node.name): agent on \(node.address):\(port) (mutual TLS)")
            do { try trust.issueAgent(node: node.name, addresses: [node.address], outDir: node.dir + "/tls") } catch {
                throw LabError(step: "issuing the certificate of \(node.name)", detail: "\(error)")
            }
            try startAgent(node, state: state, binary: binary, port: port)
        }
        let inventory = Inventory(
            path: state.inventory,
            nodes: state.nodes.map { Inventory.Node(name: $0.name, agent: "\($0.address):\(port)", ssh: "root@\($0.address):22") },
            caDir: trust.dir, kubeDNS: state.kubeDNS)
        try Host.write(inventory.yaml(), to: state.inventory)
    }

    /// Starts (or restarts) one node's agent; its PID goes to `<node>/agent.pid`.
    public static func startAgent(
        _ node: LabNode, state: LabState, binary: String, port: Int = 7443,
        restartCommand: String? = nil, extraArgs: [String] = []
    ) throws(LabError) {
        if let text = try? String(contentsOfFile: node.agentPIDFile, encoding: .utf8),
            let old = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            Host.stop(pid: old, expecting: "agent", grace: 5)
            _ = CommandRunner.reapIfExited(old)
        }
        let logSize = (try? FileManager.default.attributesOfItem(atPath: node.agentLog)[.size] as? Int) ?? 0
        let argv = node.argv(
            [
                binary, "--listen", "\(node.address):\(port)", "--node-name", node.name,
                "--tls-cert", node.dir + "/tls/agent.crt", "--tls-key", node.dir + "/tls/agent.key", "--tls-ca", node.dir + "/tls/ca.crt",
                "--restart", "command", "--restart-command", restartCommand ?? "\(state.dockerdScript) restart",
                "--docker-log-file", LabNode.dockerdLog, "--state-dir", node.stateDir,
            ] + extraArgs)
        let pid: pid_t
        switch CommandRunner.spawnDetached(argv, logPath: node.agentLog) {
        case .success(let p): pid = p
        case .failure(let e): throw LabError(step: "starting the agent of \(node.name)", detail: "\(e)")
        }
        try Host.write("\(pid)\n", to: node.agentPIDFile)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let log = (try? String(contentsOfFile: node.agentLog, encoding: .utf8)) ?? ""
            let fresh = String(log.utf8.dropFirst(logSize)) ?? ""
            if fresh.contains("ready") { return }
            if CommandRunner.reapIfExited(pid) {
                throw LabError(step: "starting the agent of \(node.name)", detail: "it exited: \(fresh.suffix(500))")
            }
            usleep(20_000)
        }
        throw LabError(step: "starting the agent of \(node.name)", detail: "no `ready` within 20s; see \(node.agentLog)")
    }

    /// Stops one node's agent (by its PID file).
    public static func stopAgent(_ node: LabNode, signal: Int32 = SIGTERM) {
        guard let text = try? String(contentsOfFile: node.agentPIDFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        if signal == SIGKILL, Host.isAlive(pid, expecting: "agent") { kill(pid, SIGKILL) } else { Host.stop(pid: pid, expecting: "agent", grace: 5) }
        for _ in 0..<100 where !CommandRunner.reapIfExited(pid) { usleep(20_000) }
        try? FileManager.default.removeItem(atPath: node.agentPIDFile)
    }
}
