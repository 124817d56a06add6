#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The outcome of running a program.
public struct CommandResult: Sendable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
    /// The child's peak resident set size in KiB and its user + system CPU seconds (from `wait4`), when it was reaped.
    public var peakRSSKiB: Int? = nil
    public var cpuSeconds: Double? = nil
    public var succeeded: Bool { exitCode == 0 && !timedOut }
    /// The last lines of stderr then stdout, for error messages.
    public func tail(_ n: Int = 20) -> [String] {
        let all = (stderr + "\n" + stdout).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        return Array(all.suffix(n))
    }
}

/// Runs an argv directly (never through a shell) with `posix_spawn`, collects its output with
/// `poll`, reaps it with `waitpid`, and enforces a timeout (SIGTERM, then SIGKILL, by PID).
/// Blocks the calling thread. Output stops being collected when the child exits, even if a
/// daemon it started still holds the pipes.
public enum CommandRunner {
    public static func run(_ argv: [String], timeout: Double = 60, environment: [String: String]? = nil) -> CommandResult {
        guard let first = argv.first else { return CommandResult(exitCode: 127, stdout: "", stderr: "empty command", timedOut: false) }
        guard let path = first.contains("/") ? first : which(first) else {
            return CommandResult(exitCode: 127, stdout: "", stderr: "\(first): command not found in PATH", timedOut: false)
        }
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { return failure("pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0])
            close(outPipe[1])
            return failure("pipe: \(String(cString: strerror(errno)))")
        }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // Do not leak our other descriptors (sockets, files) into the child.
        for fd in openDescriptors() where fd > 2 && ![outPipe[0], outPipe[1], errPipe[0], errPipe[1]].contains(fd) {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaultSignals, s) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attr, &defaultSignals)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in posix_spawn(&pid, path, &actions, &attr, cargv, cenv) }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            return CommandResult(exitCode: 126, stdout: "", stderr: "cannot start \(path): \(String(cString: strerror(rc)))", timedOut: false)
        }

        var out = Data()
        var err = Data()
        var open: [Int32] = [outPipe[0], errPipe[0]]
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        var exited = false
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        var usage = rusage()
        while true {
            if !exited, wait4(pid, &status, WNOHANG, &usage) == pid { exited = true }
            if exited {
                // Take what is already in the pipes, then stop: a daemon may keep them open.
                for fd in open {
                    if fd == outPipe[0] { drain(fd, into: &out, buffer: &buffer) } else { drain(fd, into: &err, buffer: &buffer) }
                }
                break
            }
            if Date() > deadline {
                timedOut = true
                kill(pid, SIGTERM)
                let grace = Date().addingTimeInterval(2)
                while waitpid(pid, &status, WNOHANG) != pid {
                    if Date() > grace {
                        kill(pid, SIGKILL)
                        waitpid(pid, &status, 0)
                        break
                    }
                    usleep(20_000)
                }
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            // Both pipes closed: the child is exiting, look again soon (a benchmark times it).
            let n = poll(&fds, nfds_t(fds.count), open.isEmpty ? 1 : 20)
            if n > 0 {
                for f in fds where f.revents != 0 {
                    let count = read(f.fd, &buffer, buffer.count)
                    if count > 0 {
                        if f.fd == outPipe[0] { out.append(contentsOf: buffer[0..<count]) } else { err.append(contentsOf: buffer[0..<count]) }
                    } else if count == 0 {
                        open.removeAll { $0 == f.fd }
                    }
                }
            }
        }
        close(outPipe[0])
        close(errPipe[0])
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        var result = CommandResult(
            exitCode: code, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut)
        if exited {
            result.peakRSSKiB = Int(usage.ru_maxrss)
            result.cpuSeconds =
                Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        return result
    }

    private static func failure(_ message: String) -> CommandResult {
        CommandResult(exitCode: 126, stdout: "", stderr: message, timedOut: false)
    }

    private static func drain(_ fd: Int32, into data: inout Data, buffer: inout [UInt8]) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
    }

    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in (path + ":/usr/sbin:/sbin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

extension CommandRunner {
    /// Starts argv in the background in its own session, stdout and stderr appended to `logPath`,
    /// and returns its PID (the caller owns it and stops it by that PID). No shell is involved.
    public static func spawnDetached(_ argv: [String], logPath: String, environment: [String: String]? = nil) -> Result<pid_t, CommandSpawnError> {
        guard let first = argv.first, let path = first.contains("/") ? first : which(first) else {
            return .failure(CommandSpawnError(argv: argv, reason: "command not found"))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        for fd in ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap({ Int32($0) }) where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, s) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setsigmask(&attr, &none)
        // POSIX_SPAWN_SETSID (glibc ≥ 2.26): the daemon outlives our terminal session.
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | 0x80))
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cenv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            cargv.forEach { free($0) }
            cenv.forEach { free($0) }
        }
        let rc = posix_spawn(&pid, path, &actions, &attr, &cargv, &cenv)
        guard rc == 0 else { return .failure(CommandSpawnError(argv: argv, reason: String(cString: strerror(rc)))) }
        return .success(pid)
    }

    /// Reaps `pid` if it is our child and has exited: its exit code (128 + the signal when a signal ended it), or nil
    /// while it runs. A PID that is not our child and no longer exists counts as exited with 255.
    public static func exitStatus(ifExited pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            let signal = status & 0x7f
            return signal == 0 ? (status >> 8) & 0xff : 128 + signal
        }
        if r < 0 && errno == ECHILD && kill(pid, 0) != 0 { return 255 }
        return nil
    }

    /// Reaps `pid` if it is our child and has exited; true when it is gone.
    public static func reapIfExited(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        return r == pid || (r < 0 && errno == ECHILD && kill(pid, 0) != 0)
    }
}

/// A background process could not be started.
public struct CommandSpawnError: Error, CustomStringConvertible, Sendable {
    public let argv: [String]
    public let reason: String
    public var description: String { "cannot start `\(argv.joined(separator: " "))`: \(reason)" }
}
