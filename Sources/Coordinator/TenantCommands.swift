import ArgumentParser
import BoKSystem
import CryptoCLI
import FabricTopology
import Fleet
import Foundation
import KubeClient
import Rollout

/// What `stop` and `start` share: the tenant (from the topology), the cluster, the output format.
struct TenantScaleOptions: ParsableArguments {
    @OptionGroup var topology: TopologyOptions
    @OptionGroup var kube: KubeOptions
    @Flag(name: .long, help: "Machine-readable output.")
    var json = false

    func scale(verb: String, _ action: (TenantLifecycle) throws -> [TenantLifecycle.ScaleChange]) throws {
        let loaded = try topology.load()
        let json = self.json
        let lifecycle = TenantLifecycle(client: try kube.client(), tenant: loaded.tenant) { line in
            if !json { StandardError.print(line) }
        }
        try TenantCommandOutput.scale(json: json, verb: verb, tenant: loaded.tenant) { try action(lifecycle) }
    }
}

/// `coordinator stop`: scale the tenant's workloads to zero, remembering their replica counts.
struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Scale every Deployment and StatefulSet of the tenant to 0 (counts kept in annotation bok.io/replicas).")
    @OptionGroup var options: TenantScaleOptions

    func run() async throws { try options.scale(verb: "stopped") { try $0.stop() } }
}

/// `coordinator start`: scale the tenant's workloads back to the counts `stop` remembered.
struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Restore the replica counts `coordinator stop` remembered.")
    @OptionGroup var options: TenantScaleOptions

    func run() async throws { try options.scale(verb: "started") { try $0.start() } }
}

/// `coordinator teardown`: delete exactly what the tenant owns.
struct TeardownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown",
        abstract: "Delete every object labelled bok.io/tenant=<Tenant> (and those namespaces), nothing else.",
        discussion: """
            Lists what would be deleted and asks for the tenant's name to confirm; without a terminal it refuses \
            unless --yes is given. Then deletes and waits until everything is gone.
            Exit status: 0 done (or nothing to delete), 1 failed, 2 not confirmed or invalid input.
            """)
    @OptionGroup var topology: TopologyOptions
    @OptionGroup var kube: KubeOptions
    @Flag(name: .long, help: "Do not ask for confirmation.")
    var yes = false
    @Option(name: .long, help: ArgumentHelp("Seconds to wait until every object is gone.", valueName: "SECONDS"))
    var timeout: Double = 300
    @Flag(name: .long, help: "Machine-readable output.")
    var json = false

    struct Report: Codable {
        var tenant: String
        var deleted: [String]
        var planned: [String]
        /// Kinds BoK labels that this API server does not serve: not looked for.
        var skippedKinds: [String] = []
    }

    func run() async throws {
        let loaded = try topology.load()
        let lifecycle = TenantLifecycle(client: try kube.client(), tenant: loaded.tenant) { line in
            if !json { StandardError.print(line) }
        }
        let plan: [ObjectRef]
        let skipped: [String]
        do {
            let found = try lifecycle.plan()
            plan = found.objects
            skipped = found.skippedKinds
        } catch {
            StandardError.print("coordinator: teardown of tenant \(loaded.tenant): cannot list its objects: \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
        if plan.isEmpty {
            if json {
                JSONOutput.print(Report(tenant: loaded.tenant, deleted: [], planned: [], skippedKinds: skipped))
            } else {
                print("tenant \(loaded.tenant) owns nothing in the cluster (no object labelled \(NetworkMaterial.tenantSelector(loaded.tenant)))")
            }
            return
        }
        if !yes {
            let namespaces = plan.filter { $0.kind == "Namespace" }.map(\.name)
            StandardError.print(
                "teardown of tenant \(loaded.tenant): \(plan.count) object(s) labelled \(NetworkMaterial.tenantSelector(loaded.tenant)), "
                    + "namespaces \(namespaces.isEmpty ? "none" : namespaces.joined(separator: ", ")) (with everything in them)")
            for ref in plan { StandardError.print("  \(ref)") }
            guard isatty(STDIN_FILENO) == 1 else {
                StandardError.print("coordinator: refusing to delete without confirmation: no terminal to ask on; pass --yes")
                throw ExitCode(CoordinatorExit.invalidInput)
            }
            StandardError.write("type the tenant name (\(loaded.tenant)) to delete all of it: ")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == loaded.tenant else {
                StandardError.print("coordinator: not confirmed; nothing was deleted")
                throw ExitCode(CoordinatorExit.invalidInput)
            }
        }
        do {
            let deleted = try lifecycle.teardown(plan, timeout: timeout)
            if json {
                JSONOutput.print(
                    Report(tenant: loaded.tenant, deleted: deleted.map(\.description), planned: plan.map(\.description), skippedKinds: skipped))
            } else {
                print(
                    "tenant \(loaded.tenant): \(deleted.count) object(s) deleted, \(plan.count - deleted.count) were already gone; nothing of it is left"
                        + (skipped.isEmpty ? "" : " (kinds this API server does not serve, skipped: \(skipped.joined(separator: ", ")))"))
            }
        } catch {
            StandardError.print("coordinator: teardown of tenant \(loaded.tenant) failed: \(error); run it again to finish")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}

enum TenantCommandOutput {
    struct Report: Codable {
        var tenant: String
        var changes: [TenantLifecycle.ScaleChange]
    }

    static func scale(json: Bool, verb: String, tenant: String, _ body: () throws -> [TenantLifecycle.ScaleChange]) throws {
        let changes: [TenantLifecycle.ScaleChange]
        do {
            changes = try body()
        } catch {
            StandardError.print("coordinator: tenant \(tenant) could not be \(verb): \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
        if json {
            JSONOutput.print(Report(tenant: tenant, changes: changes))
        } else {
            let rows = changes.map { [$0.object, String($0.from), String($0.to), $0.changed ? "changed" : "unchanged"] }
            if !rows.isEmpty { print(TextTable.render(["WORKLOAD", "FROM", "TO", "RESULT"], rows)) }
            print("tenant \(tenant) \(verb): \(changes.filter(\.changed).count) of \(changes.count) workload(s) scaled")
        }
    }
}
