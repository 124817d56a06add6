import BoKSystem
import DockerEngine
import Foundation

/// The agent binary `coordinator agents install` uploads when not told otherwise: the build of
/// `scripts/build-agent.sh` (release, Swift runtime linked statically, stripped) in the source tree
/// the coordinator was built from, or `bok-agent` next to an installed coordinator.
///
/// A plain `swift build` agent is no good on a worker: it is linked to the Swift runtime of the
/// machine that built it and fails to load anywhere else.
public enum ShippedAgent {
    /// `scripts/build-agent.sh`, relative to the source tree.
    public static let script = "scripts/build-agent.sh"
    /// The script's own scratch path (so it never fights the debug build in `.build`).
    public static let scratch = ".build-agent"

    /// Where the script leaves the binary in a source tree.
    public static func binary(sourceTree: String) -> String {
        "\(sourceTree)/\(scratch)/release/agent"
    }

    /// The source tree a coordinator at `executable` was built in: the nearest directory above it
    /// holding `Package.swift` and `scripts/build-agent.sh`.
    public static func sourceTree(executable: String) -> String? {
        var dir = (executable as NSString).deletingLastPathComponent
        while !dir.isEmpty, dir != "/" {
            if FileManager.default.fileExists(atPath: dir + "/Package.swift"),
                FileManager.default.fileExists(atPath: dir + "/" + script)
            {
                return dir
            }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return nil
    }

    /// The running executable's real path.
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
    }

    /// The binary to upload by default. Builds it with the script when the source tree has none yet
    /// (`say` tells what happens: the release build takes minutes).
    public static func locate(
        executable: String = currentExecutable, build: Bool = true,
        say: (String) -> Void = { _ in }
    ) throws(ShippedAgentError) -> String {
        guard let tree = sourceTree(executable: executable) else {
            let installed = (executable as NSString).deletingLastPathComponent + "/bok-agent"
            if FileManager.default.isExecutableFile(atPath: installed) { return installed }
            throw ShippedAgentError(
                "no agent binary to install: \(executable) is neither in a BoK source tree (with \(script)) nor next to a `bok-agent`",
                hint:
                    "Pass --agent-binary PATH with a build of `bash \(script)` (release, static Swift runtime)."
            )
        }
        let path = binary(sourceTree: tree)
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        guard build else {
            throw ShippedAgentError(
                "the shipped agent \(path) has not been built yet",
                hint: "Build it with `bash \(tree)/\(script)` or pass --agent-binary PATH.")
        }
        say(
            "the shipped agent \(path) is missing; building it with `bash \(tree)/\(script)` (release, static Swift runtime: several minutes)"
        )
        return try self.build(sourceTree: tree)
    }

    /// Runs `scripts/build-agent.sh` and returns the path it prints as its last line.
    public static func build(sourceTree: String, timeout: Double = 3600) throws(ShippedAgentError)
        -> String
    {
        let command = ["bash", "\(sourceTree)/\(script)"]
        let r = CommandRunner.run(command, timeout: timeout)
        let last =
            r.stdout.split(separator: "\n").last.map(String.init)?.trimmingCharacters(in: .whitespaces)
            ?? ""
        guard r.succeeded, FileManager.default.isExecutableFile(atPath: last) else {
            let why =
                r.timedOut
                ? "timed out after \(Int(timeout))s"
                : r.succeeded ? "its last line '\(last)' is no executable" : "exited \(r.exitCode)"
            throw ShippedAgentError(
                "building the shipped agent with `\(command.joined(separator: " "))` failed (\(why)): "
                    + r.stderr.split(separator: "\n").suffix(8).joined(separator: " | "),
                hint:
                    "Run `bash \(sourceTree)/\(script)` yourself to see the whole output, or pass --agent-binary PATH."
            )
        }
        return last
    }
}

/// No agent binary to install: why, and what to do.
public struct ShippedAgentError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let hint: String
    init(_ reason: String, hint: String) {
        self.reason = reason
        self.hint = hint
    }
    public var description: String { "\(reason)\nhint: \(hint)" }
}
