import BoKSystem
import DockerEngine
import Foundation

/// A lab step that failed: which step, on which node, the command and its output, what to do.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public let step: String
    public let detail: String
    public var description: String { "lab: \(step) failed: \(detail)" }
    public init(step: String, detail: String) {
        self.step = step
        self.detail = detail
    }
}

/// Runs host commands for the lab; every failure becomes a `LabError` naming the command.
enum Host {
    @discardableResult
    static func run(_ argv: [String], step: String, timeout: Double = 60, allowFailure: Bool = false) throws(LabError) -> CommandResult {
        let r = CommandRunner.run(argv, timeout: timeout)
        if !r.succeeded && !allowFailure {
            throw LabError(
                step: step,
                detail: "`\(argv.joined(separator: " "))` \(r.timedOut ? "timed out" : "exited \(r.exitCode)"): \(r.tail(5).joined(separator: " | "))"
            )
        }
        return r
    }

    static func requireRoot() throws(LabError) {
        guard geteuid() == 0 else {
            throw LabError(
                step: "permission check",
                detail: "the lab creates network namespaces, mounts and dockerd processes and needs root; run it with sudo (or as root)")
        }
    }

    static func write(_ text: String, to path: String, mode: Int = 0o644) throws(LabError) {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        } catch {
            throw LabError(step: "writing \(path)", detail: "\(error)")
        }
    }

    /// The whole of a /proc file. Foundation's `String(contentsOfFile:)` trusts st_size, which is 0
    /// for procfs, and returns only the first page: /proc/self/mountinfo grows past 4 KiB on a
    /// busy host, and the mounts after that page went unseen (`lab down` left them behind).
    static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n > 0 { data.append(contentsOf: buffer[0..<n]) } else if n == 0 || errno != EINTR { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func mkdir(_ path: String) throws(LabError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw LabError(step: "creating \(path)", detail: "\(error)")
        }
    }

    /// Whether `pid` is alive and its argv[0] or comm contains `expected` (guards against PID reuse).
    static func isAlive(_ pid: Int32, expecting expected: String?) -> Bool {
        guard pid > 1, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let expected else { return true }
        let comm = DockerdProcess.command(pid: pid) ?? ""
        let argv0 = DockerdProcess.argv(pid: pid)?.first ?? ""
        return comm.contains(expected) || argv0.contains(expected)
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL; only if the process still is what we started.
    static func stop(pid: Int32, expecting: String?, grace: Double = 10) {
        guard isAlive(pid, expecting: expecting) else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            if kill(pid, 0) != 0 { return }
            // A zombie child of ours counts as gone.
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), stat.contains(") Z ") { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
    }
}
