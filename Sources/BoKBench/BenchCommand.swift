import ArgumentParser

/// Benchmarks for the targets of DESIGN.md §9. Each prints its figures; BENCHMARKS.md records them.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bok-bench",
        abstract: "Run BoK's benchmarks and print their figures.",
        subcommands: [CryptoBenchmark.self, RenderBenchmark.self, KubeApplyBenchmark.self, AgentIdleBenchmark.self,
                      FleetHealthBenchmark.self, DNSRolloutBenchmark.self, KubeStandInCommand.self]
    )
}
