import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Memory, threads and CPU of a running process, read from `/proc/<pid>/status` and `/proc/<pid>/stat`.
struct ProcessSample: Sendable {
    var vmRSSKiB = 0
    var vmHWMKiB = 0
    var rssAnonKiB = 0
    var rssFileKiB = 0
    var threads = 0
    /// utime + stime, in clock ticks.
    var cpuTicks = 0

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Nil when the process is gone.
    static func read(pid: pid_t) -> ProcessSample? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        else { return nil }
        var s = ProcessSample()
        for line in status.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let value = Int(parts[1]) else { continue }
            switch parts[0] {
            case "VmRSS:": s.vmRSSKiB = value
            case "VmHWM:": s.vmHWMKiB = value
            case "RssAnon:": s.rssAnonKiB = value
            case "RssFile:": s.rssFileKiB = value
            case "Threads:": s.threads = value
            default: break
            }
        }
        // Fields after the command (which may contain spaces) start after the last ')'.
        if let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
            if fields.count > 13, let u = Int(fields[11]), let k = Int(fields[12]) { s.cpuTicks = u + k }
        }
        return s
    }

    var rssMiB: Double { Double(vmRSSKiB) / 1024 }
    var hwmMiB: Double { Double(vmHWMKiB) / 1024 }
    var anonMiB: Double { Double(rssAnonKiB) / 1024 }
    var fileMiB: Double { Double(rssFileKiB) / 1024 }
}

/// Monotonic seconds.
func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Minimum, median and maximum of a non-empty list.
func spread(_ values: [Double]) -> (min: Double, median: Double, max: Double) {
    let s = values.sorted()
    guard !s.isEmpty else { return (0, 0, 0) }
    return (s[0], s[s.count / 2], s[s.count - 1])
}

/// A child process whose stdout and stderr come through a pipe, so the moment it prints a line
/// can be timed without polling a file.
final class PipedChild {
    let pid: pid_t
    let argv: [String]
    private let readFD: Int32
    private(set) var output = ""
    private var reaped = false

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    init(_ argv: [String]) throws {
        self.argv = argv
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw SpawnError(description: "pipe failed for \(argv[0]): \(String(cString: strerror(errno)))")
        }
        // Close-on-exec, so no other child inherits them (dup2 in the child clears the flag on 1 and 2).
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, nil, cArgs, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw SpawnError(
                description: "cannot start \(argv[0]): \(String(cString: strerror(rc))); build it with `swift build -c release --product agent`")
        }
        pid = child
        readFD = fds[0]
    }

    /// Reads output until a line containing `marker` arrives; returns false on EOF or timeout.
    func waitForLine(containing marker: String, timeout: Double) -> Bool {
        let deadline = monotonicSeconds() + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let range = output.range(of: marker), output[range.upperBound...].contains("\n") { return true }
            let left = deadline - monotonicSeconds()
            if left <= 0 { return false }
            var p = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(max(1, left * 1000)))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { return false }
            let n = read(readFD, &buffer, buffer.count)
            if n <= 0 { return false }
            output += String(decoding: buffer[0..<n], as: UTF8.self)
        }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; reaps the child. Only this PID is signalled.
    func stop(grace: Double = 5) {
        guard !reaped else { return }
        kill(pid, SIGTERM)
        let deadline = monotonicSeconds() + grace
        var status: Int32 = 0
        while monotonicSeconds() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                break
            }
            usleep(10_000)
        }
        if !reaped {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            reaped = true
        }
        close(readFD)
    }

    deinit { stop() }
}

/// The directory of this executable (where `swift build` also put `agent`).
func siblingExecutable(_ name: String) -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return ((exe as NSString).deletingLastPathComponent as NSString).appendingPathComponent(name)
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns (before, after).
func raiseFileDescriptorLimit(to wanted: UInt64? = nil) -> (before: UInt64, after: UInt64, hard: UInt64) {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    let before = UInt64(limit.rlim_cur)
    let target = min(UInt64(limit.rlim_max), wanted ?? UInt64(limit.rlim_max))
    if target > before {
        limit.rlim_cur = rlim_t(target)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return (before, UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
}
