import AgentProtocol
import ArgumentParser
import BoKSystem
import CryptoCLI
import Fleet
import Foundation
import KubeClient

/// `coordinator dns plan|apply`: the node-side rollout alone.
struct DNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns",
        abstract: "Give every node's Docker the cluster DNS (kube-dns, then the node's own resolvers).",
        subcommands: [DNSPlan.self, DNSApply.self])
}

struct DNSRolloutOptions: ParsableArguments {
    @Option(name: .long, help: "kube-dns' ClusterIP (default: the inventory's kubeDNS, else read from the Kubernetes API).")
    var kubeDNS: String?
    @OptionGroup(title: "Kubernetes API (for kube-dns' ClusterIP when neither --kube-dns nor the inventory gives it)")
    var kube: KubeOptions
    @Option(name: .long, parsing: .singleValue, help: "A search domain (repeatable; default default.svc.cluster.local and svc.cluster.local).")
    var search: [String] = []
    @Option(name: .long, parsing: .singleValue, help: "A resolver option (repeatable; default ndots:2 timeout:2 attempts:2).")
    var option: [String] = []

    func spec(_ inventory: Inventory, maxUnavailable: MaxUnavailable = .count(1), continueOnError: Bool = false) throws -> DNSRolloutSpec {
        guard let ip = try kubeDNS ?? inventory.kubeDNS ?? clusterDNSFromAPI() else {
            StandardError.print(
                "coordinator: no kube-dns address: pass --kube-dns IP (kubectl -n kube-system get svc kube-dns), "
                    + "set kubeDNS in \(inventory.path), or give a kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) to read it from the API")
            throw ExitCode(CoordinatorExit.invalidInput)
        }
        let spec = DNSRolloutSpec(
            kubeDNS: ip, search: search.isEmpty ? DNSRolloutSpec.defaultSearch : search,
            options: option.isEmpty ? DNSRolloutSpec.defaultOptions : option,
            maxUnavailable: maxUnavailable, continueOnError: continueOnError)
        do { try spec.validate() } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.invalidInput)
        }
        return spec
    }

    /// kube-dns' (or CoreDNS') ClusterIP from kube-system, when a kubeconfig is at hand; nil without one.
    func clusterDNSFromAPI() throws -> String? {
        let environment = ProcessInfo.processInfo.environment
        let defaultConfig = NSString(string: "~/.kube/config").expandingTildeInPath
        guard kube.kubeconfig != nil || environment["KUBECONFIG"] != nil || FileManager.default.fileExists(atPath: defaultConfig) else {
            return nil
        }
        let client = try kube.client()
        do {
            let ip = try client.clusterDNS().clusterIP
            StandardError.print("coordinator: kube-dns \(ip) (from the Kubernetes API at \(client.config.server))")
            return ip
        } catch {
            StandardError.print(
                "coordinator: cannot read kube-dns' ClusterIP from the Kubernetes API at \(client.config.server): "
                    + "\(error); pass --kube-dns IP instead")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

struct DNSPlan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Show each node's diff; change nothing.")
    @OptionGroup var fleet: FleetOptions
    @OptionGroup var dns: DNSRolloutOptions
    @Flag(name: .long, help: "Machine-readable output.")
    var json = false

    func run() async throws {
        let inventory = try fleet.loadInventory()
        let rollout = DNSRollout(runner: try fleet.runner(inventory), spec: try dns.spec(inventory))
        let reports = await rollout.plan()
        if json {
            JSONOutput.print(reports)
        } else {
            for r in reports {
                print("== \(r.node): \(r.outcome.rawValue) — \(r.message)")
                if !r.diff.isEmpty { print(r.diff, terminator: r.diff.hasSuffix("\n") ? "" : "\n") }
                for w in r.warnings { print("   warning: \(w)") }
            }
            let changing = reports.filter { $0.outcome == .planned }.count
            print("\(changing) of \(reports.count) node(s) would change")
        }
        if reports.contains(where: { $0.outcome == .failed }) { throw ExitCode(CoordinatorExit.failure) }
    }
}

struct DNSApply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply node by node (or in batches): write, restart Docker, verify, roll back on failure; stop on the first failure.")
    @OptionGroup var fleet: FleetOptions
    @OptionGroup var dns: DNSRolloutOptions
    @Option(name: .long, help: "How many nodes may restart Docker at once: a number or a percentage (e.g. 1, 3, 25%).")
    var maxUnavailable: MaxUnavailable = .count(1)
    @Flag(name: .long, help: "Go on with the other nodes after a node fails.")
    var continueOnError = false
    @Flag(name: .long, help: "Machine-readable output.")
    var json = false

    func run() async throws {
        let inventory = try fleet.loadInventory()
        let spec = try dns.spec(inventory, maxUnavailable: maxUnavailable, continueOnError: continueOnError)
        let rollout = DNSRollout(runner: try fleet.runner(inventory), spec: spec)
        let display = ProgressDisplay(enabled: !json)
        let started = Date()
        display.say("dns apply: \(inventory.nodes.count) node(s), kube-dns \(spec.kubeDNS), max unavailable \(maxUnavailable)")
        let reports = await rollout.apply { event in
            switch event {
            case .batchStarted(let i, let n, let nodes): display.say("batch \(i)/\(n): \(nodes.joined(separator: ", "))")
            case .nodeStarted(let node): display.say("  \(node): applying")
            case .nodeFinished(let r): display.say("  \(r.node): \(r.outcome.rawValue) — \(r.message)")
            case .stopping(let reason): display.say("stopping: \(reason)")
            }
        }
        if json {
            JSONOutput.print(reports)
        } else {
            let rows = reports.map { r in
                [
                    r.node, r.outcome.rawValue, r.desired?.nameservers.joined(separator: ",") ?? "-",
                    r.restartSeconds > 0 ? String(format: "%.1fs", r.restartSeconds) : "-", r.message,
                ]
            }
            print(TextTable.render(["NODE", "RESULT", "NAMESERVERS", "RESTART", "DETAIL"], rows))
            for r in reports { for w in r.warnings { print("  \(r.node): warning: \(w)") } }
            let count = { (o: NodeDNSReport.Outcome) in reports.filter { $0.outcome == o }.count }
            print(
                String(
                    format: "summary: %d applied, %d unchanged, %d failed, %d skipped in %.1fs",
                    count(.applied), count(.unchanged), count(.failed), count(.skipped), Date().timeIntervalSince(started)))
        }
        if reports.contains(where: { $0.outcome == .failed || $0.outcome == .skipped }) { throw ExitCode(CoordinatorExit.failure) }
    }
}
