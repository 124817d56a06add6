import CLibSSH2
import Foundation

/// An SFTP subsystem (`LIBSSH2_SFTP`) on one session; owns it and shuts it down in `deinit`.
final class SFTPSession {
    let handle: OpaquePointer
    let session: LibSSH2Session

    init(session: LibSSH2Session, step: SSHError.Step, timeout: Double) throws(SSHError) {
        let raw = session.handle
        guard let handle = try session.retryPointer(step, Deadline(seconds: timeout), { libssh2_sftp_init(raw) }) else {
            let (code, message) = session.lastError()
            throw SSHError(
                session.target, step, .protocolFailure, "cannot start SFTP (libssh2 \(code): \(message))",
                hint:
                    "The server needs an SFTP subsystem: `Subsystem sftp /usr/lib/openssh/sftp-server` "
                    + "(or `internal-sftp`) in sshd_config."
            )
        }
        self.handle = handle
        self.session = session
    }

    deinit {
        let handle = handle
        session.blockingCleanup { _ = libssh2_sftp_shutdown(handle) }
    }

    /// The error for a failed SFTP call: the server's SFTP status in words when there is one.
    func error(_ step: SSHError.Step, _ action: String, _ path: String) -> SSHError {
        let (code, message) = session.lastError()
        guard code == LIBSSH2_ERROR_SFTP_PROTOCOL else {
            return SSHError(session.target, step, .protocolFailure, "\(action) \(path) failed (libssh2 \(code): \(message))")
        }
        let status = libssh2_sftp_last_error(handle)
        let hint: String? =
            switch status {
            case LIBSSH2_FX_PERMISSION_DENIED:
                "User \(session.target.user) may not do this; log in as a user that may (e.g. --user root)."
            case LIBSSH2_FX_NO_SUCH_FILE, LIBSSH2_FX_NO_SUCH_PATH:
                "Check the path; directories are not created."
            default: nil
            }
        let missing = status == LIBSSH2_FX_NO_SUCH_FILE || status == LIBSSH2_FX_NO_SUCH_PATH
        return SSHError(
            session.target, step, missing ? .remoteFileNotFound : .remoteFile, "\(action) \(path): \(Self.describe(status))",
            hint: hint)
    }

    static func describe(_ status: UInt) -> String {
        switch status {
        case LIBSSH2_FX_EOF: "unexpected end of file"
        case LIBSSH2_FX_NO_SUCH_FILE: "no such file or directory"
        case LIBSSH2_FX_PERMISSION_DENIED: "permission denied"
        case LIBSSH2_FX_FAILURE: "the server reports a failure (a directory where a file is expected, a full disk, …)"
        case LIBSSH2_FX_BAD_MESSAGE: "the server did not understand the request"
        case LIBSSH2_FX_OP_UNSUPPORTED: "operation not supported by the server"
        case LIBSSH2_FX_NO_SUCH_PATH: "no such path"
        case LIBSSH2_FX_FILE_ALREADY_EXISTS: "file already exists"
        case LIBSSH2_FX_WRITE_PROTECT: "write-protected file system"
        case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: "no space left on the file system"
        case LIBSSH2_FX_QUOTA_EXCEEDED: "quota exceeded"
        case LIBSSH2_FX_NOT_A_DIRECTORY: "a path component is not a directory"
        default: "SFTP status \(status)"
        }
    }

    func open(_ path: String, flags: Int32, mode: Int32, step: SSHError.Step, timeout: Double) throws(SSHError) -> SFTPFile {
        let raw = handle
        let opened = try session.retryPointer(step, Deadline(seconds: timeout)) {
            bok_ssh2_sftp_open(raw, path, UInt(flags), Int(mode))
        }
        guard let opened else {
            throw error(step, (flags & LIBSSH2_FXF_WRITE) != 0 ? "cannot create" : "cannot open", path)
        }
        return SFTPFile(handle: opened, sftp: self, path: path)
    }

    /// Best-effort removal (cleanup after a failed upload).
    func removeQuietly(_ path: String, timeout: Double) {
        let raw = handle
        _ = try? session.retry(.upload, Deadline(seconds: timeout)) {
            libssh2_sftp_unlink_ex(raw, path, UInt32(path.utf8.count))
        }
    }
}

/// An open remote file (`LIBSSH2_SFTP_HANDLE`); owns it and closes it in `deinit` unless closed.
final class SFTPFile {
    let handle: OpaquePointer
    let sftp: SFTPSession
    let path: String
    private var closed = false

    init(handle: OpaquePointer, sftp: SFTPSession, path: String) {
        self.handle = handle
        self.sftp = sftp
        self.path = path
    }

    deinit {
        guard !closed else { return }
        let handle = handle
        sftp.session.blockingCleanup { _ = libssh2_sftp_close_handle(handle) }
    }

    /// Writes all of `data`; `timeout` limits each wait without progress.
    func write(_ data: Data, step: SSHError.Step, timeout: Double) throws(SSHError) {
        let session = sftp.session
        let raw = handle
        var offset = 0
        while offset < data.count {
            let n = try session.retry(
                step, Deadline(seconds: timeout),
                {
                    data.withUnsafeBytes { bytes -> Int in
                        let base = bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self)
                        return libssh2_sftp_write(raw, base, min(bytes.count - offset, 1 << 20))
                    }
                }, wouldBlock: { $0 == Int(LIBSSH2_ERROR_EAGAIN) })
            guard n >= 0 else { throw sftp.error(step, "writing", path) }
            offset += n
        }
    }

    /// Reads to the end of the file; `timeout` limits each wait without progress.
    func readAll(step: SSHError.Step, timeout: Double) throws(SSHError) -> Data {
        let session = sftp.session
        let raw = handle
        var result = Data()
        var buffer = [CChar](repeating: 0, count: 64 * 1024)
        while true {
            let n = try session.retry(
                step, Deadline(seconds: timeout),
                { buffer.withUnsafeMutableBufferPointer { libssh2_sftp_read(raw, $0.baseAddress, $0.count) } },
                wouldBlock: { $0 == Int(LIBSSH2_ERROR_EAGAIN) })
            if n == 0 { return result }
            guard n > 0 else { throw sftp.error(step, "reading", path) }
            buffer.withUnsafeBytes { result.append(contentsOf: $0.prefix(n)) }
        }
    }

    /// Asks the server to flush the file to disk (`fsync@openssh.com`); servers without it are fine.
    func sync(step: SSHError.Step, timeout: Double) throws(SSHError) {
        let raw = handle
        let rc = try sftp.session.retry(step, Deadline(seconds: timeout)) { libssh2_sftp_fsync(raw) }
        if rc != 0 && libssh2_sftp_last_error(sftp.handle) != LIBSSH2_FX_OP_UNSUPPORTED {
            throw sftp.error(step, "flushing", path)
        }
    }

    /// Sets the permission bits exactly (the mode given at creation is filtered by the server's umask).
    func setPermissions(_ mode: Int32, step: SSHError.Step, timeout: Double) throws(SSHError) {
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        attributes.flags = UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS)
        attributes.permissions = UInt(mode)
        let raw = handle
        let rc = try sftp.session.retry(step, Deadline(seconds: timeout)) { libssh2_sftp_fstat_ex(raw, &attributes, 1) }
        guard rc == 0 else { throw sftp.error(step, "setting the mode of", path) }
    }

    func close(step: SSHError.Step, timeout: Double) throws(SSHError) {
        let raw = handle
        let rc = try sftp.session.retry(step, Deadline(seconds: timeout)) { libssh2_sftp_close_handle(raw) }
        closed = true
        guard rc == 0 else { throw sftp.error(step, "closing", path) }
    }
}
