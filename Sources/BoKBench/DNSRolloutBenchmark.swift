import AgentProtocol
import ArgumentParser
import DockerConfig
import Fleet
import Foundation
import Lab

/// `bok-bench dns-rollout`: on a lab of N nodes (real dockerd each, agents over mutual TLS):
/// one Docker restart, a full-parallel DNS rollout (`coordinator dns apply --max-unavailable 100%`)
/// and the unchanged re-run. Needs root; the lab is always removed again.
struct DNSRolloutBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns-rollout",
        abstract: "On an N-node lab: one Docker restart vs a full-parallel DNS rollout, then the unchanged re-run (needs root).",
        discussion: "Targets (DESIGN.md §9): N nodes in at most 1.3x one Docker restart; an unchanged re-run under 100 ms with zero restarts.")

    @Option(help: "Lab nodes (each with its own dockerd and agent).")
    var nodes = 3
    @Option(help: "Lab subnet: 198.18.<subnet>.0/24.")
    var subnet = 206
    @Option(help: "Lab root directory (default /tmp/bok-bench-lab-<subnet>).")
    var root: String?
    @Option(help: "Full rollouts (each after resetting every node to its DNS-less file).")
    var runs = 3
    @Option(help: "Unchanged re-runs after the last rollout.")
    var reruns = 5
    @Option(help: "The agent executable (default: `agent` next to bok-bench).")
    var agent: String?

    func validate() throws {
        guard (1...50).contains(nodes), (0...255).contains(subnet), runs > 0, reruns > 0 else {
            throw ValidationError("--nodes must be 1…50, --subnet 0…255, --runs and --reruns positive")
        }
    }

    func run() async throws {
        guard geteuid() == 0 else {
            print("bok-bench dns-rollout: needs root (it creates network namespaces and runs a dockerd per node); run it with sudo")
            throw ExitCode(1)
        }
        let binary = agent ?? siblingExecutable("agent")
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("bok-bench: agent executable \(binary) not found; build it with `swift build -c release --product agent` or pass --agent PATH")
            throw ExitCode(2)
        }
        let root = self.root ?? "/tmp/bok-bench-lab-\(subnet)"
        _ = LabEnvironment.down(root: root, subnet: subnet)
        defer {
            let removed = LabEnvironment.down(root: root, subnet: subnet)
            print("lab down: \(removed.count) step(s)")
        }
        print("dns-rollout: lab of \(nodes) node(s) on 198.18.\(subnet).0/24 in \(root)")
        fflush(nil)
        let setup = monotonicSeconds()
        let lab: LabState
        do {
            lab = try LabEnvironment.up(LabSpec(name: "bench", subnet: subnet, nodeCount: nodes, root: root, agentBinary: binary))
        } catch {
            print("bok-bench: lab up failed: \(error)")
            throw ExitCode(1)
        }
        print(String(format: "  lab up in %.1f s", monotonicSeconds() - setup))
        let inventory = try Inventory.load(path: lab.inventory)

        // 1. One Docker restart per node, one node at a time.
        var restarts: [Double] = []
        var restartWalls: [Double] = []
        for node in inventory.nodes {
            let runner = FleetRunner(inventory: inventory, tls: try inventory.trust.clientTLS())
            let start = monotonicSeconds()
            let outcome = await runner.run([node]) { client throws(AgentClientError) in try await client.dockerRestart() }
            let wall = monotonicSeconds() - start
            switch outcome.first?.result {
            case .success(let r)?:
                restarts.append(r.restartSeconds)
                restartWalls.append(wall)
                print(
                    String(
                        format: "  docker.restart on %@: %.2f s (agent's restartSeconds), %.2f s wall for the call", node.name, r.restartSeconds, wall
                    ))
            case .failure(let e)?:
                print("bok-bench: docker.restart on \(node.name) failed: \(e)")
                throw ExitCode(1)
            case nil:
                throw ExitCode(1)
            }
        }
        let oneRestart = spread(restartWalls).median

        // 2. Full-parallel rollouts, each from DNS-less nodes.
        let spec = DNSRolloutSpec(kubeDNS: lab.kubeDNS, maxUnavailable: .percent(100))
        var rollouts: [Double] = []
        for i in 1...runs {
            try resetNodes(lab)
            let start = monotonicSeconds()
            let runner = FleetRunner(inventory: inventory, tls: try inventory.trust.clientTLS())
            let reports = await DNSRollout(runner: runner, spec: spec).apply()
            let wall = monotonicSeconds() - start
            let applied = reports.filter { $0.outcome == .applied }.count
            print(
                String(
                    format: "  rollout %d: %d/%d applied in %.2f s (%.2fx one restart); node restarts %@", i, applied, reports.count, wall,
                    wall / oneRestart, reports.map { String(format: "%.2f s", $0.restartSeconds) }.joined(separator: ", ")))
            if applied != reports.count {
                for r in reports where r.outcome != .applied { print("bok-bench: \(r.node): \(r.outcome.rawValue): \(r.message)") }
                throw ExitCode(1)
            }
            rollouts.append(wall)
        }

        // 3. Unchanged re-runs (a fresh runner each, as a new `coordinator dns apply` process would load its TLS material).
        var reruns: [Double] = []
        var restartedOnRerun = 0
        for _ in 1...self.reruns {
            let start = monotonicSeconds()
            let runner = FleetRunner(inventory: inventory, tls: try inventory.trust.clientTLS())
            let reports = await DNSRollout(runner: runner, spec: spec).apply()
            reruns.append(monotonicSeconds() - start)
            restartedOnRerun += reports.filter { $0.outcome != .unchanged || $0.restartSeconds > 0 }.count
        }

        let r = spread(restartWalls)
        let p = spread(rollouts)
        let u = spread(reruns)
        print("")
        print(
            String(
                format: "one Docker restart (docker.restart call): min %.2f s, median %.2f s, max %.2f s (agent-measured median %.2f s)",
                r.min, r.median, r.max, spread(restarts).median))
        print(
            String(
                format: "rollout, %d nodes, max-unavailable 100%%: min %.2f s, median %.2f s, max %.2f s = %.2fx one restart  (target <= 1.3x: %@)",
                nodes, p.min, p.median, p.max, p.median / oneRestart, p.median / oneRestart <= 1.3 ? "met" : "NOT met"))
        print(
            String(
                format: "unchanged re-run, %d nodes: min %.1f ms, median %.1f ms, max %.1f ms, %d restart(s)  (target < 100 ms, 0 restarts: %@)",
                nodes, u.min * 1000, u.median * 1000, u.max * 1000, restartedOnRerun,
                u.median < 0.1 && restartedOnRerun == 0 ? "met" : "NOT met"))
    }

    /// Removes the DNS flags from every node's defaults file and restarts its dockerd (all nodes at once).
    func resetNodes(_ lab: LabState) throws {
        for node in lab.nodes {
            let text = (try? String(contentsOfFile: node.defaultsFile, encoding: .utf8)) ?? ""
            guard text.contains("--dns") else { continue }
            let edit = try DockerDefaultsFile.parse(Data(text.utf8), path: node.defaultsFile).removingDNS()
            try edit.updated.write(to: URL(fileURLWithPath: node.defaultsFile))
        }
        let nodes = lab.nodes
        DispatchQueue.concurrentPerform(iterations: nodes.count) { i in _ = nodes[i].run([lab.dockerdScript, "restart"]) }
    }
}
