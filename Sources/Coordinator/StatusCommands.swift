import AgentProtocol
import ArgumentParser
import BoKSystem
import CryptoCLI
import FabricTopology
import Fleet
import Foundation
import MSP

/// `coordinator status`: every node's agent, Docker, DNS in force vs desired, chaincode containers.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
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
                for cc in n.chaincode {
                    print(
                        "  \(n.node): chaincode \(cc.name) \(cc.state) dns \(cc.nameservers.joined(separator: ","))\(cc.staleDNS == true ? " (stale)" : "")"
                    )
                }
            }
        }
        try exitFor(nodes.map(\.status), strict: report.strict)
    }
}

/// `coordinator health`: the agents' health checks.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Every agent's health checks (ok/warn/fail with reasons). Exit 1 when anything fails, for cron jobs and monitors.")
    @OptionGroup var fleet: FleetOptions
    @OptionGroup var report: ReportOptions
    @Option(
        name: [.short, .customLong("config")],
        help: ArgumentHelp("The topology: also report the nearest expiry of its crypto tree (--crypto).", valueName: "FILE"))
    var config: String?
    @Option(
        name: .customLong("crypto"),
        help: ArgumentHelp("The crypto directory whose nearest expiry to report (default with -c: crypto-config).", valueName: "DIR"))
    var crypto: String?

    func run() async throws {
        let (nodes, _) = try await report.collect(fleet, includeChaincode: false)
        var expiries = NearestExpiry.agentLinks(nodes)
        if config != nil || crypto != nil {
            expiries.insert(try cryptoExpiry(), at: 0)
        }
        if report.json {
            if config != nil || crypto != nil {
                JSONOutput.print(HealthReport(nodes: nodes, nearestExpiry: expiries))
            } else {
                JSONOutput.print(nodes)
            }
        } else {
            let rows = nodes.flatMap { n in n.checks.map { [n.node, $0.name, $0.status.rawValue.uppercased(), $0.detail] } }
            print(TextTable.render(["NODE", "CHECK", "STATUS", "DETAIL"], rows))
            for expiry in expiries { print(expiry.line) }
            let failing = nodes.filter { $0.status == .fail }.map(\.node)
            print(failing.isEmpty ? "all \(nodes.count) node(s) healthy" : "FAILING: \(failing.joined(separator: ", "))")
        }
        try exitFor(nodes.map(\.status) + expiries.map(\.status), strict: report.strict)
    }

    /// The crypto tree's nearest notAfter (a failing entry when the tree cannot be read).
    private func cryptoExpiry() throws -> NearestExpiry {
        let directory = crypto ?? "crypto-config"
        var topology: FabricTopology?
        if let config {
            var options = TopologyOptions()
            options.config = config
            topology = try options.load()
        }
        do {
            let status = try CryptoTree.scan(root: directory, topology: topology).report(warnDays: Int(CertificateExpiry.warnDays))
            guard let nearest = status.nearest else {
                return NearestExpiry(
                    source: "crypto", name: directory, notAfter: nil, daysLeft: nil, status: .fail,
                    detail: "no certificate in \(directory); run `coordinator crypto` or pass --crypto DIR")
            }
            let warn = nearest.daysLeft < Int(CertificateExpiry.warnDays)
            return NearestExpiry(
                source: "crypto", name: "\(directory)/\(nearest.path)", notAfter: nearest.notAfter, daysLeft: nearest.daysLeft,
                status: warn ? .warn : .ok,
                detail: warn ? "renew with `coordinator crypto renew --crypto \(directory)`, then `coordinator rollout`" : nil)
        } catch {
            return NearestExpiry(source: "crypto", name: directory, notAfter: nil, daysLeft: nil, status: .fail, detail: "\(error)")
        }
    }
}

/// `health --json` with -c/--crypto: the nodes and the nearest expiries.
struct HealthReport: Encodable {
    var nodes: [NodeStatus]
    var nearestExpiry: [NearestExpiry]
}

/// The certificate that expires first, of the crypto tree or of the agents' link certificates.
struct NearestExpiry: Encodable {
    /// `crypto` or `agent-link`.
    var source: String
    /// The certificate's path, or the node whose agent presents it.
    var name: String
    var notAfter: String?
    var daysLeft: Int?
    var status: CheckStatus
    var detail: String?

    var line: String {
        let what = source == "crypto" ? "crypto material" : "agent link certificates"
        guard let notAfter, let daysLeft else { return "nearest expiry of the \(what): \(status.rawValue.uppercased()) \(detail ?? "")" }
        return "nearest expiry of the \(what): \(name) \(notAfter) (\(daysLeft) days)"
            + (status == .ok ? "" : " \(status.rawValue.uppercased())") + (detail.map { ": \($0)" } ?? "")
    }

    /// The agents' link certificate that expires first, of those the agents presented.
    static func agentLinks(_ nodes: [NodeStatus], now: Date = Date()) -> [NearestExpiry] {
        let formatter = ISO8601DateFormatter()
        let dated = nodes.compactMap { n in n.certificateNotAfter.flatMap { formatter.date(from: $0) }.map { (n, $0) } }
        guard let (node, date) = dated.min(by: { $0.1 < $1.1 }) else { return [] }
        let days = Int((date.timeIntervalSince(now) / 86_400).rounded(.down))
        let warn = Double(days) < CertificateExpiry.warnDays
        return [
            NearestExpiry(
                source: "agent-link", name: node.node, notAfter: node.certificateNotAfter, daysLeft: days,
                status: warn ? .warn : .ok,
                detail: warn ? "renew with `coordinator certs rotate --nodes \(node.node)`" : nil)
        ]
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
