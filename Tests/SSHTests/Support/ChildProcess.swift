import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with posix_spawn and reaped by its own PID.
///
/// Not Foundation's `Process`: on Linux its child watcher answers any SIGCHLD with a blocking
/// `waitpid` on every running `Process`, so one long-lived child (our sshd) stalls
/// `waitUntilExit()` of every short one (ssh-keygen) started after it.
final class ChildProcess {
    let pid: pid_t
    private var status: Int32?

    /// Starts `executable` (an absolute path) with stdin from /dev/null and stdout and stderr
    /// appended to `outputPath` (or /dev/null).
    init(_ executable: String, _ arguments: [String], outputPath: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw TestSetupError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// True until the process has exited (and then it is reaped).
    var isRunning: Bool {
        if status != nil { return false }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid {
            status = raw
            return false
        }
        return true
    }

    /// Waits for the exit and returns the exit code (128 + signal when killed).
    @discardableResult
    func wait() -> Int32 {
        if status == nil {
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            status = raw
        }
        let raw = status!
        return raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
    }

    /// SIGTERM, up to `grace` seconds to exit, then SIGKILL; always reaps.
    func stop(grace: Double = 5) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let limit = Date().addingTimeInterval(grace)
        while isRunning && Date() < limit { usleep(10_000) }
        if isRunning { kill(pid, SIGKILL) }
        wait()
    }
}
