import ArgumentParser
import BoKSystem
import CryptoCLI
import Fleet
import Foundation

/// `--inventory FILE [--nodes a,b] [--ca-dir DIR]`: which nodes a command works on. Declared once, shared by the agent
/// commands (`FleetOptions`) and the SSH commands (`AgentsSSHOptions`).
struct InventorySelection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The nodes and their agents (see configs/inventory.yaml).", valueName: "FILE"))
    var inventory: String = "inventory.yaml"
    @Option(name: .long, help: ArgumentHelp("Only these nodes (comma-separated names).", valueName: "a,b"))
    var nodes: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Directory of the coordinator's CA and client certificate (default: the inventory's caDir, else ~/.bok/ca).", valueName: "DIR"))
    var caDir: String?

    /// The inventory with `--ca-dir` applied, narrowed to `--nodes`; a bad file or an unknown node exits with 2.
    func load() throws -> Inventory { try loadSelectedInventory(path: inventory, nodes: nodes, caDir: caDir) }
}

/// `[--inventory FILE] [--ca-dir DIR] [--agent-port N] [--kube-dns IP]`: the nodes of a cluster and how to reach their
/// agents, for the commands that work on the cluster (`rollout`, `preflight`): without an inventory the nodes come from
/// the API's Node objects. Declared once.
struct ClusterNodeOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The nodes and their agents (default: the cluster's worker nodes, agent at <InternalIP>:7443).", valueName: "FILE"))
    var inventory: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Directory of the coordinator's CA and client certificate (default: the inventory's caDir, else ~/.bok/ca).", valueName: "DIR"))
    var caDir: String?
    @Option(name: .long, help: "Agent port on nodes taken from the cluster (without --inventory).")
    var agentPort: Int = 7443
    @Option(
        name: .long, help: ArgumentHelp("kube-dns' ClusterIP (default: from the API, kube-system, else the inventory's kubeDNS).", valueName: "IP"))
    var kubeDNS: String?

    func validate() throws {
        guard (1...65535).contains(agentPort) else { throw ValidationError("--agent-port must be a TCP port (1-65535), got \(agentPort)") }
        if let kubeDNS {
            do { try DNSRolloutSpec(kubeDNS: kubeDNS).validate() } catch {
                throw ValidationError("--kube-dns must be an IP address, got '\(kubeDNS)': \(error)")
            }
        }
    }

    /// The `--inventory` file, nil without one; an unreadable file exits with 2.
    func loadInventory() throws -> Inventory? {
        guard let inventory else { return nil }
        do { return try Inventory.load(path: inventory) } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.invalidInput)
        }
    }
}

/// Options shared by every command that talks to agents.
struct FleetOptions: ParsableArguments {
    @OptionGroup var selection: InventorySelection
    @Option(name: .long, help: "How many agents to talk to at once.")
    var concurrency: Int = 64
    @Option(name: .long, help: "Seconds to wait when connecting to an agent.")
    var connectTimeout: Double = 5

    var inventory: String { selection.inventory }

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1, got \(concurrency)") }
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be positive, got \(connectTimeout)") }
    }

    func loadInventory() throws -> Inventory { try selection.load() }

    func runner(_ inventory: Inventory) throws -> FleetRunner {
        do {
            let tls = try inventory.trust.clientTLS()
            return FleetRunner(inventory: inventory, tls: tls, concurrency: concurrency, connectTimeout: connectTimeout)
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

/// A live progress line on a terminal, plain lines otherwise (CI logs, pipes).
final class ProgressDisplay: Sendable {
    /// Serialises the lines of concurrent workers.
    private let lines = Locked(0)
    private let enabled: Bool
    init(enabled: Bool) { self.enabled = enabled }

    func say(_ line: String) {
        guard enabled else { return }
        lines.withLock { count in
            count += 1
            StandardError.print("\(timestamp()) \(line)")
        }
    }

    private func timestamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        return f.string(from: Date())
    }
}

/// The inventory at `path`, its CA directory overridden by `--ca-dir`, narrowed to `--nodes a,b`;
/// a bad file or an unknown node is a usage error (exit 2).
func loadSelectedInventory(path: String, nodes: String?, caDir: String?) throws -> Inventory {
    do {
        var inv = try Inventory.load(path: path)
        if let caDir { inv.caDir = caDir }
        let names = nodes?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } ?? []
        return try inv.selecting(names)
    } catch {
        StandardError.print("coordinator: \(error)")
        throw ExitCode(CoordinatorExit.invalidInput)
    }
}
