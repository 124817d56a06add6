import ArgumentParser
import FabricTopology
import Foundation

/// The `-c FILE` option shared by every command that reads a topology.
struct TopologyOptions: ParsableArguments {
    @Option(
        name: [.short, .customLong("config")],
        help: ArgumentHelp("The network topology (BoK's cluster-config.yaml).", valueName: "FILE"))
    var config: String = "cluster-config.yaml"

    /// Loads the topology; on errors prints every diagnostic and exits with 2 (invalid input).
    func load() throws -> FabricTopology {
        do {
            let topology = try FabricTopology.load(path: config)
            for warning in topology.warnings { StandardError.print(warning.description) }
            return topology
        } catch let error as TopologyError {
            for diagnostic in error.diagnostics { StandardError.print(diagnostic.description) }
            throw ExitCode(CoordinatorExit.invalidInput)
        }
    }
}

/// Exit codes a script can rely on.
enum CoordinatorExit {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let invalidInput: Int32 = 2
}

/// Writing to standard error without buffering surprises.
enum StandardError {
    /// A line (newline added).
    static func print(_ line: String) { write(line + "\n") }
    /// Text as it is (a prompt).
    static func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
