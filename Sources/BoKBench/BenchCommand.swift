import ArgumentParser
import Foundation

/// Benchmarks for the targets of DESIGN.md §9. Each prints its figures; BENCHMARKS.md records them.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bok-bench",
        abstract: "Run BoK's benchmarks and print their figures.",
        subcommands: [
            AllBenchmarks.self, CryptoBenchmark.self, RenderBenchmark.self, KubeApplyBenchmark.self, RolloutApplyBenchmark.self,
            AgentIdleBenchmark.self, FleetHealthBenchmark.self, FleetAgentsCommand.self, DNSRolloutBenchmark.self,
        ]
    )
}

/// `bok-bench all`: every benchmark with its default arguments, one after the other (the lab one
/// only as root).
struct AllBenchmarks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all", abstract: "Run every benchmark with its defaults (dns-rollout needs root and is skipped without it).")

    func run() async throws {
        func section(_ name: String) { print("\n=== bok-bench \(name)") }
        section("crypto")
        try CryptoBenchmark.parse([]).run()
        section("render")
        try RenderBenchmark.parse([]).run()
        section("kube-apply")
        try KubeApplyBenchmark.parse([]).run()
        section("rollout-apply")
        try await RolloutApplyBenchmark.parse([]).run()
        section("agent-idle")
        try await AgentIdleBenchmark.parse([]).run()
        section("fleet-health")
        try await FleetHealthBenchmark.parse([]).run()
        section("dns-rollout")
        if geteuid() == 0 {
            try await DNSRolloutBenchmark.parse([]).run()
        } else {
            print("skipped: needs root (it builds a lab of network namespaces and dockerd processes)")
        }
    }
}
