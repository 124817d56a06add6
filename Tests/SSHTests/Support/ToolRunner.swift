import Foundation

/// Runs a local tool by absolute path and waits for it; its output (stdout and stderr together)
/// is captured through a temporary file.
enum ToolRunner {
    struct Output {
        var status: Int32
        var output: String
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bok-tool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let status = try ChildProcess(executable, arguments, outputPath: path).wait()
        return Output(status: status, output: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    /// `ssh-keygen` with the given arguments; throws when it fails.
    static func sshKeygen(_ arguments: [String]) throws -> String {
        let result = try run("/usr/bin/ssh-keygen", arguments)
        guard result.status == 0 else {
            throw TestSetupError("ssh-keygen \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
