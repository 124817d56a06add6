import ArgumentParser
import CryptoCLI
import FabricTopology
import Foundation

/// `coordinator validate`: parse and check a topology, naming file, line and field of every problem.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a cluster-config.yaml and report every problem with file, line and field.",
        discussion: "Exit status: 0 when the topology is valid (warnings allowed), 2 when it is not.")

    @OptionGroup var topology: TopologyOptions

    @Flag(help: "Print the result as JSON: {valid, summary, diagnostics:[{severity,file,line,column,field,message}]}.")
    var json = false

    func run() throws {
        var diagnostics: [TopologyDiagnostic]
        var summary: String? = nil
        do {
            let loaded = try FabricTopology.load(path: topology.config)
            diagnostics = loaded.warnings
            summary = loaded.summary
        } catch let error as TopologyError {
            diagnostics = error.diagnostics
        }
        let valid = summary != nil
        if json {
            let report = ValidationReport(valid: valid, summary: summary, diagnostics: diagnostics)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            for diagnostic in diagnostics { StandardError.print(diagnostic.description) }
            if let summary { print("\(topology.config): valid — \(summary)") }
        }
        if !valid { throw ExitCode(CoordinatorExit.invalidInput) }
    }
}

/// The JSON shape of `validate --json`.
struct ValidationReport: Codable {
    var valid: Bool
    var summary: String?
    var diagnostics: [TopologyDiagnostic]
}
