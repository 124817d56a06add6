import CLibSSH2
import Foundation

/// An SSH channel (`LIBSSH2_CHANNEL`) of one session; owns it and frees it in `deinit`.
final class SSHChannel {
    let handle: OpaquePointer
    let session: LibSSH2Session
    /// How long `deinit` may wait for the server to confirm the close. Short once a step timed out:
    /// sshd confirms only when the remote command has exited, which may be never.
    private var cleanupMilliseconds = 2000

    init(session: LibSSH2Session, step: SSHError.Step, timeout: Double) throws(SSHError) {
        let deadline = Deadline(seconds: timeout)
        let raw = session.handle
        guard let handle = try session.retryPointer(step, deadline, { bok_ssh2_channel_open_session(raw) }) else {
            let (code, message) = session.lastError()
            throw SSHError(
                session.target, step, .protocolFailure,
                "the server refused to open a session channel (libssh2 \(code): \(message))",
                hint: "sshd limits sessions per connection with MaxSessions; its log says more.")
        }
        self.handle = handle
        self.session = session
    }

    deinit {
        let handle = handle
        session.blockingCleanup(milliseconds: cleanupMilliseconds) { _ = libssh2_channel_free(handle) }
    }

    /// Runs `command`, feeds it `stdin`, collects stdout and stderr until the remote side closes them,
    /// and returns the exit status. `timeout` limits how long the remote may stay silent (no byte in
    /// either direction), not the command's total run time.
    func execute(_ command: String, stdin: Data?, step: SSHError.Step, timeout: Double) throws(SSHError) -> SSHCommandResult {
        do throws(SSHError) {
            return try run(command, stdin: stdin, step: step, timeout: timeout)
        } catch {
            if error.kind == .timedOut { cleanupMilliseconds = 500 }
            throw error
        }
    }

    private func run(_ command: String, stdin: Data?, step: SSHError.Step, timeout: Double) throws(SSHError) -> SSHCommandResult {
        let target = session.target
        let raw = handle
        let started = try session.retry(step, Deadline(seconds: timeout)) { bok_ssh2_channel_exec(raw, command) }
        guard started == 0 else {
            let (code, message) = session.lastError()
            throw SSHError(target, step, .commandFailed, "the server refused to run the command (libssh2 \(code): \(message))")
        }

        let input = stdin ?? Data()
        var written = 0
        var eofSent = false
        var stdout = Data()
        var stderr = Data()
        var stdoutDone = false
        var stderrDone = false
        var buffer = [CChar](repeating: 0, count: 32 * 1024)
        var deadline = Deadline(seconds: timeout)

        while !(stdoutDone && stderrDone) {
            var progressed = false

            if written < input.count && !stdoutDone {
                let n = input.withUnsafeBytes { bytes -> Int in
                    let base = bytes.baseAddress!.advanced(by: written).assumingMemoryBound(to: CChar.self)
                    return bok_ssh2_channel_write(raw, base, min(bytes.count - written, 256 * 1024))
                }
                if n > 0 {
                    written += n
                    progressed = true
                } else if n != Int(LIBSSH2_ERROR_EAGAIN) {
                    // The command may exit without reading its input; its output still matters.
                    if bok_ssh2_channel_eof(raw) == 0 {
                        let (code, message) = session.lastError()
                        throw SSHError(
                            target, step, .protocolFailure, "sending input to the command failed (libssh2 \(code): \(message))")
                    }
                    written = input.count
                }
            }
            if written >= input.count && !eofSent {
                let rc = bok_ssh2_channel_send_eof(raw)
                if rc == 0 || rc != LIBSSH2_ERROR_EAGAIN {
                    eofSent = true
                    progressed = progressed || rc == 0
                }
            }

            for isStderr in [false, true] where !(isStderr ? stderrDone : stdoutDone) {
                let n = buffer.withUnsafeMutableBufferPointer { pointer in
                    isStderr
                        ? bok_ssh2_channel_read_stderr(raw, pointer.baseAddress, pointer.count)
                        : bok_ssh2_channel_read(raw, pointer.baseAddress, pointer.count)
                }
                if n > 0 {
                    let chunk = buffer.withUnsafeBytes { Data($0.prefix(n)) }
                    if isStderr { stderr.append(chunk) } else { stdout.append(chunk) }
                    progressed = true
                } else if n == 0 {
                    if isStderr { stderrDone = true } else { stdoutDone = true }
                } else if n != Int(LIBSSH2_ERROR_EAGAIN) {
                    let (code, message) = session.lastError()
                    throw SSHError(
                        target, step, .protocolFailure, "reading the command's output failed (libssh2 \(code): \(message))")
                }
            }

            if progressed {
                deadline = Deadline(seconds: timeout)
            } else if !(stdoutDone && stderrDone) {
                try session.waitForSocket(step, deadline)
            }
        }

        // The exit status arrives before the channel closes; wait for the close so it is there.
        _ = try session.retry(step, deadline) { bok_ssh2_channel_close(raw) }
        _ = try session.retry(step, deadline) { bok_ssh2_channel_wait_closed(raw) }
        let status = libssh2_channel_get_exit_status(raw)
        return SSHCommandResult(exitStatus: status, exitSignal: exitSignal(), stdout: stdout, stderr: stderr)
    }

    private func exitSignal() -> String? {
        var signal: UnsafeMutablePointer<CChar>?
        var length = 0
        guard libssh2_channel_get_exit_signal(handle, &signal, &length, nil, nil, nil, nil) == 0, let signal else {
            return nil
        }
        defer { libssh2_free(session.handle, signal) }
        return length > 0 ? String(decoding: UnsafeRawBufferPointer(start: signal, count: length), as: UTF8.self) : nil
    }
}
