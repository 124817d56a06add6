import ArgumentParser
import FabricTopology
import Foundation
import MSP

/// `coordinator crypto`: Fabric MSP and TLS material in cryptogen's layout, without any Fabric binary.
struct CryptoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "Generate MSP and TLS material for the topology, laid out as Fabric's cryptogen does.",
        discussion: """
            Writes DIR/peerOrganizations/<domain>/… and DIR/ordererOrganizations/<domain>/… (CA and TLS CA per org, \
            msp/{cacerts,keystore,signcerts,tlscacerts,config.yaml} and tls/ per identity), ECDSA P-256 with low-S \
            signatures, NodeOUs enabled, TLS certificates naming the Kubernetes services (peer0.org1-f-1 …). \
            Re-running keeps existing keys and re-issues only certificates that no longer fit the topology.
            Exit status: 0 done, 1 failed while generating or writing, 2 invalid topology or arguments.
            """)

    @OptionGroup var topology: TopologyOptions

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Directory to write the material to.", valueName: "DIR"))
    var output: String = "crypto-config"

    @Flag(help: "Discard the orgs' existing material (keys included) and generate everything anew.")
    var force = false

    func run() throws {
        let loaded = try topology.load()
        do {
            let started = Date()
            let report = try MSPGenerator(topology: loaded).generate(into: output, force: force)
            let seconds = Date().timeIntervalSince(started)
            print("""
                \(output): \(report.filesWritten) files written, \(report.filesUnchanged) unchanged; \
                \(report.keysGenerated) keys generated, \(report.keysKept) kept; \
                \(report.certificatesIssued) certificates issued (\(String(format: "%.2f", seconds)) s)
                """)
        } catch {
            StandardError.print("error: cannot generate crypto material in \(output): \(error)")
            throw ExitCode(CoordinatorExit.failure)
        }
    }
}
