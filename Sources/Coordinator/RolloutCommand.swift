import ArgumentParser
import BoKSystem
import CryptoCLI
import FabricTopology
import Fleet
import Foundation
import KubeClient
import Rollout

/// `coordinator rollout`: the whole network, idempotent and resumable.
struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Roll out the Fabric network: preflight, crypto, node DNS, objects, wait, channel, explorer, summary.",
        discussion: """
            Steps, each shown live: 1 preflight (API reachable and allowed, agents healthy, storage), 2 crypto material \
            (kept between runs), 3 node DNS (Docker on every node gets kube-dns first), 4 apply objects (server-side \
            apply, only what differs), 5 wait until every Deployment is available, 6 channel Jobs, 7 explorer, 8 URLs. \
            Progress is kept in ConfigMap bok-rollout in the orderer namespace: a second run changes nothing and an \
            interrupted run finishes the job.
            Exit status: 0 done, 1 a step failed or a node was left out (--continue-on-error), 2 invalid input.
            """)

    @OptionGroup var topology: TopologyOptions
    @OptionGroup var kube: KubeOptions
    @OptionGroup var nodes: ClusterNodeOptions
    @Option(name: .long, help: ArgumentHelp("Where the crypto material is kept (keys are reused on every run).", valueName: "DIR"))
    var cryptoDir: String = "crypto-config"
    @Option(name: .long, help: ArgumentHelp("How many nodes may restart Docker at once: a number or a percentage.", valueName: "N|P%"))
    var maxUnavailable: MaxUnavailable = .count(1)
    @Flag(name: .long, help: "Go on without a node whose agent is down or whose DNS change failed; the exit status is still 1.")
    var continueOnError = false
    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Leave the nodes' Docker DNS as it is (step 3 skipped): for nodes whose Docker another tool configures, or to see "
                + "chaincode fail to reach its peer before `coordinator dns apply`. Agents are still checked."))
    var skipNodeDNS = false
    @Flag(
        name: .long,
        help: "Install the agent over SSH on nodes where it does not answer (as `agents install --missing-only`; SSH and install flags below).")
    var installAgents = false
    @OptionGroup(title: "With --install-agents: SSH login") var sshLogin: SSHLoginOptions
    @OptionGroup(title: "With --install-agents: the agent") var agentInstall: AgentInstallFlags
    @Option(name: .long, help: ArgumentHelp("Seconds each wait (Deployments, channel Jobs, explorer) may take.", valueName: "SECONDS"))
    var timeout: Double = 600
    @Option(name: .long, help: "Objects applied at once within a stage.")
    var concurrency: Int = 8
    @Flag(name: .long, help: "Show what would change (objects, nodes' DNS); write nothing anywhere.")
    var dryRun = false
    @Flag(name: .long, help: "Print a machine-readable report.")
    var json = false

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive, got \(timeout)") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive, got \(concurrency)") }
    }

    func run() async throws {
        let loaded = try topology.load()
        var options = RolloutOptions(cryptoDirectory: cryptoDir)
        options.inventory = try nodes.loadInventory()
        options.caDir = nodes.caDir
        options.agentPort = nodes.agentPort
        options.kubeDNS = nodes.kubeDNS
        options.maxUnavailable = maxUnavailable
        options.continueOnError = continueOnError
        options.skipNodeDNS = skipNodeDNS
        options.installAgents = installAgents
        options.timeout = timeout
        options.dryRun = dryRun
        options.applyConcurrency = concurrency
        options.topologyText = (try? String(contentsOfFile: topology.config, encoding: .utf8)) ?? ""
        let client = try kube.client()

        let display = ProgressDisplay(enabled: true)
        let throttle = ProgressThrottle()
        display.say("rollout of tenant \(loaded.tenant) to \(client.config.server)\(dryRun ? " (dry run: nothing is written)" : "")")
        var provisioner: SSHAgentProvisioner?
        if installAgents {
            // The CA the agents' certificates come from: the one the rollout checks them with.
            let trust = TrustStore(dir: nodes.caDir ?? options.inventory?.caDir ?? TrustStore.defaultDir)
            provisioner = SSHAgentProvisioner(
                options: try agentInstall.installOptions(
                    trust: trust, login: sshLogin, parallel: 8,
                    operationTimeout: 60))
        }
        let rollout = NetworkRollout(topology: loaded, client: client, options: options, provisioner: provisioner) { event in
            switch event {
            case .stepStarted(let step): display.say("[\(step.number)/\(RolloutStep.count)] \(step.title) …")
            case .progress(let step, let message, let done, let total):
                if throttle.shouldShow(step: step, done: done, total: total) {
                    display.say("[\(step.number)/\(RolloutStep.count)]   \(message)")
                }
            case .stepFinished(let step, let status, let detail):
                display.say("[\(step.number)/\(RolloutStep.count)] \(step.title): \(status.rawValue) — \(detail)")
            case .warning(let text): display.say("warning: \(text)")
            }
        }
        let report = await rollout.run()
        if json {
            JSONOutput.print(report)
        } else {
            print(Self.text(report))
        }
        if !report.success { throw ExitCode(CoordinatorExit.failure) }
    }

    static func text(_ report: RolloutReport) -> String {
        var out = ""
        let rows = report.steps.map { s in [String(s.number), s.step, s.status.rawValue, String(format: "%.1fs", s.seconds), s.detail] }
        out += TextTable.render(["#", "STEP", "RESULT", "TIME", "DETAIL"], rows) + "\n"
        if let resumed = report.resumedAfter { out += "resumed after step \(resumed) of an interrupted run\n" }
        if report.dryRun {
            for change in report.objects where change.action != .unchanged { out += "  would \(change.action.rawValue) \(change.object)\n" }
            for node in report.nodes where node.outcome == .planned {
                out += "  node \(node.node): Docker DNS would change\n"
                if !node.diff.isEmpty { out += node.diff.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n") + "\n" }
            }
        }
        for change in report.objects where change.action == .failed { out += "  FAILED \(change.object): \(change.message ?? "")\n" }
        if !report.restarted.isEmpty { out += "restarted one at a time (crypto material changed): \(report.restarted.joined(separator: ", "))\n" }
        for (node, reason) in report.skippedNodes.sorted(by: { $0.key < $1.key }) { out += "  node \(node) left out: \(reason)\n" }
        if !report.endpoints.isEmpty {
            out +=
                TextTable.render(
                    ["SERVICE", "NAMESPACE", "PORT", "URL"],
                    report.endpoints.map { [$0.service, $0.namespace, $0.port, $0.url] }) + "\n"
        }
        if let url = report.explorerURL { out += "explorer: \(url)\n" }
        if let error = report.error { out += "error: \(error)\n" }
        out += String(
            format: "%@ in %.1fs (objects: %d created, %d updated, %d unchanged)",
            report.success ? (report.dryRun ? "dry run done" : "rollout done") : "rollout FAILED", report.seconds,
            report.count(.create), report.count(.update) + report.count(.recreate), report.count(.unchanged))
        return out
    }
}

/// Counted progress ("applied 37/120 objects") is shown at the start, at every tenth and at the
/// end, so a log stays readable for thousands of objects; other progress lines always show.
final class ProgressThrottle: Sendable {
    private let last = Locked<[RolloutStep: Int]>([:])

    func shouldShow(step: RolloutStep, done: Int?, total: Int?) -> Bool {
        guard let done, let total, total > 20 else { return true }
        let decile = done * 10 / total
        return last.withLock { last in
            guard done == 0 || done == total || last[step] != decile else { return false }
            last[step] = decile
            return true
        }
    }
}
