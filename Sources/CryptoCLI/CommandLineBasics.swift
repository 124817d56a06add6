import ArgumentParser
import BoKSystem
import FabricTopology
import Foundation

// What every BoK command line shares — the coordinator's and the standalone `bok-crypto`'s: the topology option, the
// exit codes, standard error, JSON output and the entry point that maps usage errors to exit code 2.

/// The `-c FILE` option shared by every command that reads a topology.
public struct TopologyOptions: ParsableArguments, Sendable {
    @Option(
        name: [.short, .customLong("config")],
        help: ArgumentHelp("The network topology (BoK's cluster-config.yaml).", valueName: "FILE"))
    public var config: String = "cluster-config.yaml"

    public init() {}

    /// Loads the topology; on errors prints every diagnostic and exits with 2 (invalid input).
    public func load() throws -> FabricTopology {
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
public enum CoordinatorExit {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let invalidInput: Int32 = 2
}

/// Writing to standard error without buffering surprises.
public enum StandardError {
    /// A line (newline added).
    public static func print(_ line: String) { write(line + "\n") }
    /// Text as it is (a prompt).
    public static func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}

/// JSON output for commands a machine reads.
public enum JSONOutput {
    public static func print<T: Encodable>(_ value: T) {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? e.encode(value) { Swift.print(String(decoding: data, as: UTF8.self)) }
    }
}

extension ParsableCommand {
    /// Runs the command tree rooted here, mapping ArgumentParser's usage errors (EX_USAGE, 64) to exit code 2 so
    /// every kind of bad input — a wrong flag or an invalid topology — exits with 2, and failures while working
    /// with 1.
    public static func runCommandLine() async {
        do {
            var command = try parseAsRoot()
            // Parsing (the command tree's reflection, the loader's work before it) is done: its code pages are
            // unmapped, so a command's peak memory is its own work's (`ExecutablePages`).
            _ = ExecutablePages.release()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == ExitCode.validationFailure {
                StandardError.print(fullMessage(for: error))
                Foundation.exit(CoordinatorExit.invalidInput)
            }
            exit(withError: error)
        }
    }
}
