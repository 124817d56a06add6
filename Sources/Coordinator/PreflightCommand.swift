import AgentProtocol
import ArgumentParser
import BoKSystem
import CryptoCLI
import Fleet
import Foundation
import Rollout

/// `coordinator preflight`: rollout's step 1 and the checks that look at the nodes, on their own; writes nothing.
struct PreflightCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preflight",
        abstract: "Check the cluster and every node before a rollout: runtime, clock, disk, kube-dns, storage, NodePorts. Writes nothing.",
        discussion: """
            Cluster: the API answers and allows applying (a dry run), kube-dns' address, the StorageClass the \
            topology names exists (or the NFS server answers on TCP 2049), no Service of another tenant or \
            namespace holds the tenant's NodePorts. Per node, through its agent (node.preflight, node.resolve): \
            the container runtime (Docker, or containerd only: fail), the clock offset from this machine \
            (warn > 2 s, fail > 30 s), free space under Docker's root (warn < 5 GiB or 10 %, fail < 1 GiB or 2 %), \
            and kube-dns answering kubernetes.default.svc.cluster.local from the node. `coordinator rollout` \
            runs the same checks as its first step.
            Exit status: 0 no check failed (warnings are printed), 1 a check failed, 2 invalid input.
            """)

    @OptionGroup var topology: TopologyOptions
    @OptionGroup var kube: KubeOptions
    @OptionGroup var nodes: ClusterNodeOptions
    @Option(name: .long, help: "Seconds to wait when connecting to an agent.")
    var connectTimeout: Double = 5
    @Option(name: .long, help: ArgumentHelp("Warn when less than this many GiB are free under Docker's root.", valueName: "GiB"))
    var diskWarnGib: Double = 5
    @Option(name: .long, help: ArgumentHelp("Fail when less than this many GiB are free under Docker's root.", valueName: "GiB"))
    var diskFailGib: Double = 1
    @Flag(name: .long, help: "Print a machine-readable report.")
    var json = false

    func validate() throws {
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be positive") }
        guard diskFailGib >= 0, diskWarnGib >= diskFailGib else {
            throw ValidationError("--disk-warn-gib must be at least --disk-fail-gib, and both 0 or more")
        }
    }

    func run() async throws {
        let loaded = try topology.load()
        var options = PreflightOptions()
        options.inventory = try nodes.loadInventory()
        options.caDir = nodes.caDir
        options.agentPort = nodes.agentPort
        options.kubeDNS = nodes.kubeDNS
        options.agentConnectTimeout = connectTimeout
        options.thresholds.diskWarnBytes = Int(diskWarnGib * Double(1 << 30))
        options.thresholds.diskFailBytes = Int(diskFailGib * Double(1 << 30))
        let client = try kube.client()
        let display = ProgressDisplay(enabled: !json)
        display.say("preflight of tenant \(loaded.tenant) against \(client.config.server) (nothing is written)")
        let report = await TenantPreflight(topology: loaded, client: client, options: options).run()
        if json { JSONOutput.print(report) } else { print(Self.text(report)) }
        if !report.success { throw ExitCode(CoordinatorExit.failure) }
    }

    static func text(_ report: PreflightReport) -> String {
        var out = TextTable.render(
            ["SCOPE", "CHECK", "STATUS", "DETAIL"], report.checks.map { [$0.scope, $0.name, $0.status.rawValue.uppercased(), $0.detail] })
        let failures = report.failures
        let warnings = report.warnings
        out += "\n"
        if failures.isEmpty {
            out += String(
                format: "preflight of tenant %@ passed (%d check(s), %d warning(s)) in %.1fs", report.tenant, report.checks.count, warnings.count,
                report.seconds)
        } else {
            let scopes = Array(Set(failures.map(\.scope))).sorted()
            out += "preflight of tenant \(report.tenant) FAILED: \(failures.count) check(s) on \(scopes.joined(separator: ", "))"
        }
        return out
    }
}
