import Foundation

/// What a remote command left behind: its exit status, the signal that killed it if any, and
/// everything it wrote to stdout and stderr.
public struct SSHCommandResult: Sendable, Hashable {
    /// The exit status the server reported (0 when it reported none, e.g. after a signal).
    public var exitStatus: Int32
    /// The signal name without `SIG` (e.g. `TERM`) when the command was killed by a signal.
    public var exitSignal: String?
    /// Everything the command wrote to stdout.
    public var stdout: Data
    /// Everything the command wrote to stderr.
    public var stderr: Data

    public init(exitStatus: Int32, exitSignal: String? = nil, stdout: Data, stderr: Data) {
        self.exitStatus = exitStatus
        self.exitSignal = exitSignal
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Exit status 0 and no signal.
    public var succeeded: Bool { exitStatus == 0 && exitSignal == nil }
    /// stdout as UTF-8 (invalid bytes replaced).
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// stderr as UTF-8 (invalid bytes replaced).
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}
