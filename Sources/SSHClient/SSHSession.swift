import BoKSystem
import CLibSSH2
import Foundation
import Logging

/// An authenticated SSH connection to one host, over libssh2.
///
/// Every method **blocks** the calling thread until the host answered or a timeout passed: call it
/// from a thread of your own or a thread pool (e.g. `NIOThreadPool`), never on a NIO event loop or
/// from a Swift concurrency task that must not block. Calls on one session are serialised by a
/// lock, so a session may be shared, but they do not run in parallel: open several sessions for
/// parallel work.
///
/// Timeouts: `connectTimeout` bounds the TCP connect and the SSH handshake together (like OpenSSH's
/// `ConnectTimeout`); `operationTimeout` bounds every later wait for the host: authentication,
/// opening channels, and each stretch of silence while a command runs or a file moves.
///
/// The host key is checked against an OpenSSH known_hosts file before any credential is sent: an
/// unknown key is refused unless the policy is `.acceptNew`, a changed or revoked key always is.
public final class SSHSession: @unchecked Sendable {
    // @unchecked: every use of the libssh2 handles below happens under `lock`.

    /// The host, port and user this session is logged in as.
    public let target: SSHTarget
    /// The host key the server proved it holds.
    public let hostKey: SSHHostKey
    /// The default for `run(_:stdin:timeout:)` and the limit for uploads and downloads.
    public let operationTimeout: Double

    let session: LibSSH2Session
    private let lock = NSLock()
    let logger: Logger

    /// Connects, verifies the host key and authenticates.
    ///
    /// - Parameters:
    ///   - knownHostsPath: an OpenSSH known_hosts file; a missing file counts as empty.
    ///   - connectTimeout: seconds for the TCP connect and the SSH handshake together.
    ///   - operationTimeout: seconds any later step may wait for the host without progress.
    public init(
        target: SSHTarget,
        auth: SSHAuth,
        knownHostsPath: String,
        hostKeyPolicy: HostKeyPolicy = .strict,
        connectTimeout: Double = 10,
        operationTimeout: Double = 30,
        logger: Logger = Logger(label: "bok.ssh")
    ) throws(SSHError) {
        self.target = target
        self.operationTimeout = operationTimeout
        self.logger = logger
        guard connectTimeout > 0, operationTimeout > 0 else {
            throw SSHError(target, .connect, .invalidArgument, "timeouts must be positive")
        }
        let deadline = Deadline(seconds: connectTimeout)

        let socket = try TCPSocket.connect(to: target, deadline: deadline)
        let session = try LibSSH2Session(socket: socket, target: target)
        let knownHosts = try KnownHostsFile(path: knownHostsPath, session: session, logger: logger)
        let recorded = knownHosts.recordedKeyTypes(for: target.knownHostsName)
        session.preferHostKeyAlgorithms(KnownHostKeyType.preferredAlgorithms(known: recorded))
        try session.handshake(deadline: deadline)

        let presented = try session.presentedHostKey()
        let added = try Self.verify(
            presented, of: target, against: knownHosts, recorded: recorded, policy: hostKeyPolicy, logger: logger)
        self.hostKey = presented.publicValue(added: added)
        self.session = session
        logger.debug(
            "SSH connected",
            metadata: ["host": "\(target.hostAndPort)", "hostKey": "\(hostKey.algorithm) \(hostKey.fingerprint)"])

        try authenticate(auth, timeout: operationTimeout)
        logger.debug("SSH authenticated", metadata: ["target": "\(target)", "auth": "\(auth)"])
    }

    // MARK: Commands

    /// Runs `command` through the remote user's login shell, feeding it `stdin`, and returns its exit
    /// status and output. A non-zero exit status is not an error here: look at the result.
    ///
    /// - Parameter timeout: how long the command may stay silent (no output, no input taken); defaults
    ///   to `operationTimeout`. On a timeout the channel is closed; the remote process may live on.
    public func run(_ command: String, stdin: Data? = nil, timeout: Double? = nil) throws(SSHError) -> SSHCommandResult {
        lock.lock()
        defer { lock.unlock() }
        return try execute(command, stdin: stdin, step: .exec, timeout: timeout ?? operationTimeout)
    }

    /// Like `run(_:stdin:timeout:)`, but a non-zero exit status or a signal is an error that quotes
    /// the command's stderr.
    @discardableResult
    public func runChecked(_ command: String, stdin: Data? = nil, timeout: Double? = nil) throws(SSHError) -> SSHCommandResult {
        let result = try run(command, stdin: stdin, timeout: timeout)
        guard result.succeeded else { throw commandError(command, result, step: .exec) }
        return result
    }

    private func execute(_ command: String, stdin: Data?, step: SSHError.Step, timeout: Double) throws(SSHError)
        -> SSHCommandResult
    {
        guard !command.isEmpty else {
            throw SSHError(target, step, .invalidArgument, "the command is empty")
        }
        let channel = try SSHChannel(session: session, step: step, timeout: timeout)
        return try channel.execute(command, stdin: stdin, step: step, timeout: timeout)
    }

    private func commandError(_ command: String, _ result: SSHCommandResult, step: SSHError.Step) -> SSHError {
        let how = result.exitSignal.map { "was killed by SIG\($0)" } ?? "exited with status \(result.exitStatus)"
        var stderr = result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
        if stderr.count > 2000 { stderr = String(stderr.suffix(2000)) }
        return SSHError(
            target, step, .commandFailed, "`\(command)` \(how)" + (stderr.isEmpty ? "" : ": \(stderr)"))
    }

    // MARK: Files

    /// Writes `data` to `remotePath` atomically: into a temporary file in the same directory (SFTP,
    /// flushed, mode set exactly, owner changed when asked), then renamed over the target with
    /// `mv -f`, so readers see the old file or the new one, never a part. The directory must exist.
    ///
    /// - Parameters:
    ///   - mode: permission bits, e.g. `0o644`; applied exactly, whatever the server's umask.
    ///   - owner: `user` or `user:group` for `chown` (needs a privileged login, typically root).
    public func upload(_ data: Data, to remotePath: String, mode: Int32, owner: String? = nil) throws(SSHError) {
        lock.lock()
        defer { lock.unlock() }
        guard !remotePath.isEmpty, !remotePath.hasSuffix("/") else {
            throw SSHError(target, .upload, .invalidArgument, "'\(remotePath)' is not a file path")
        }
        let timeout = operationTimeout
        let sftp = try SFTPSession(session: session, step: .upload, timeout: timeout)
        let (directory, name) = Self.split(remotePath)
        let temporary = directory + "." + name + ".bok-upload-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)

        let file = try sftp.open(
            temporary, flags: LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL | LIBSSH2_FXF_TRUNC,
            mode: mode & 0o7777, step: .upload, timeout: timeout)
        do throws(SSHError) {
            try file.write(data, step: .upload, timeout: timeout)
            try file.sync(step: .upload, timeout: timeout)
            try file.setPermissions(mode & 0o7777, step: .upload, timeout: timeout)
            try file.close(step: .upload, timeout: timeout)

            // SFTP v3 (what OpenSSH speaks to libssh2 1.10) cannot rename over an existing file; mv can,
            // atomically. Refuse a directory target: mv would move the file into it.
            var script =
                "if [ -d \(shellQuoted(remotePath)) ]; then echo \(shellQuoted("\(remotePath) is a directory")) >&2; exit 1; fi"
            if let owner { script += " && chown -- \(shellQuoted(owner)) \(shellQuoted(temporary))" }
            script += " && mv -f -- \(shellQuoted(temporary)) \(shellQuoted(remotePath))"
            let result = try execute(script, stdin: nil, step: .upload, timeout: timeout)
            guard result.succeeded else {
                var error = commandError(owner == nil ? "mv" : "chown/mv", result, step: .upload)
                error.kind = .remoteFile
                error.reason = "cannot put \(remotePath) in place: " + error.reason
                throw error
            }
        } catch {
            sftp.removeQuietly(temporary, timeout: min(timeout, 5))
            throw error
        }
        logger.debug("uploaded", metadata: ["host": "\(target.hostAndPort)", "path": "\(remotePath)", "bytes": "\(data.count)"])
    }

    /// Reads the whole remote file over SFTP.
    public func download(_ remotePath: String) throws(SSHError) -> Data {
        lock.lock()
        defer { lock.unlock() }
        let sftp = try SFTPSession(session: session, step: .download, timeout: operationTimeout)
        let file = try sftp.open(remotePath, flags: LIBSSH2_FXF_READ, mode: 0, step: .download, timeout: operationTimeout)
        let data = try file.readAll(step: .download, timeout: operationTimeout)
        try file.close(step: .download, timeout: operationTimeout)
        return data
    }

    /// `("/dir/", "name")`; a bare name lives in the login directory (`""`).
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }
}
