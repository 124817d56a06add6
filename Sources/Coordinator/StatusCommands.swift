import AgentProtocol
import ArgumentParser
import Fleet
import Foundation

/// `coordinator status`: every node's agent, Docker, DNS in force vs desired, chaincode containers.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status",
        abstract: "A table per node: agent, Docker, DNS in force vs desired, chaincode containers. Exit 1 when anything fails.")
    @OptionGroup var fleet: FleetOptions
    @OptionGroup var report: ReportOptions

    func run() async throws {
        let (nodes, _) = try await report.collect(fleet, includeChaincode: true)
        if report.json {
            JSONOutput.print(nodes)
        } else {
            print(TextTable.status(nodes))
            for n in nodes {
                for c in n.checks where c.status != .ok { print("  \(n.node): \(c.status.rawValue) \(c.name): \(c.detail)") }
                for cc in n.chaincode { print("  \(n.node): chaincode \(cc.name) \(cc.state) dns \(cc.nameservers.joined(separator: ","))\(cc.staleDNS == true ? " (stale)" : "")") }
            }
        }
        try exitFor(nodes.map(\.status), strict: report.strict)
    }
}

/// `coordinator health`: the agents' health checks.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health",
        abstract: "Every agent's health checks (ok/warn/fail with reasons). Exit 1 when anything fails, for cron jobs and monitors.")
    @OptionGroup var fleet: FleetOptions
    @OptionGroup var report: ReportOptions

    func run() async throws {
        let (nodes, _) = try await report.collect(fleet, includeChaincode: false)
        if report.json {
            JSONOutput.print(nodes)
        } else {
            let rows = nodes.flatMap { n in n.checks.map { [n.node, $0.name, $0.status.rawValue.uppercased(), $0.detail] } }
            print(TextTable.render(["NODE", "CHECK", "STATUS", "DETAIL"], rows))
            let failing = nodes.filter { $0.status == .fail }.map(\.node)
            print(failing.isEmpty ? "all \(nodes.count) node(s) healthy" : "FAILING: \(failing.joined(separator: ", "))")
        }
        try exitFor(nodes.map(\.status), strict: report.strict)
    }
}

/// The options `status` and `health` share, and the collection they both run.
struct ReportOptions: ParsableArguments {
    @Option(name: .long, help: "kube-dns ClusterIP to compare each node's DNS with (default: the inventory's kubeDNS).")
    var kubeDNS: String?
    @Flag(name: .long, help: "Machine-readable output.")
    var json = false
    @Flag(name: .long, help: "Exit 1 on warnings too.")
    var strict = false

    func collect(_ fleet: FleetOptions, includeChaincode: Bool) async throws -> ([NodeStatus], Inventory) {
        let inventory = try fleet.loadInventory()
        let runner = try fleet.runner(inventory)
        let nodes = await FleetStatusCollector(runner: runner, kubeDNS: kubeDNS ?? inventory.kubeDNS, includeChaincode: includeChaincode).collect()
        return (nodes, inventory)
    }
}

func exitFor(_ statuses: [CheckStatus], strict: Bool) throws {
    let worst = statuses.max() ?? .ok
    if worst == .fail || (strict && worst == .warn) { throw ExitCode(CoordinatorExit.failure) }
}
