import ArgumentParser
import Foundation

extension CoordinatorCommand {
    /// Runs the command tree, mapping ArgumentParser's usage errors (EX_USAGE, 64) to exit code 2 so every kind of
    /// bad input — a wrong flag or an invalid topology — exits with 2, and failures while working with 1.
    static func main() async {
        do {
            var command = try parseAsRoot()
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
