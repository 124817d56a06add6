import CLibSSH2

/// libssh2 must be initialised once per process before any session exists.
private let libssh2Initialised: Bool = libssh2_init(0) == 0

/// A libssh2 session handle (`LIBSSH2_SESSION`) over one TCP socket; owns both and frees them in
/// `deinit`.
///
/// The session runs in non-blocking mode: each call is retried on `LIBSSH2_ERROR_EAGAIN` after
/// poll(2) says the socket is ready in the direction libssh2 waits for, until the step's deadline.
/// That gives every step a real timeout, and lets one loop read stdout and stderr without the
/// deadlock a blocking read of one stream can cause while the other fills its window.
final class LibSSH2Session {
    let handle: OpaquePointer
    let socket: TCPSocket
    let target: SSHTarget
    private var handshakeDone = false

    init(socket: TCPSocket, target: SSHTarget) throws(SSHError) {
        guard libssh2Initialised, let handle = bok_ssh2_session_init() else {
            throw SSHError(target, .handshake, .protocolFailure, "libssh2 could not be initialised (out of memory?)")
        }
        self.handle = handle
        self.socket = socket
        self.target = target
        libssh2_session_set_blocking(handle, 0)
    }

    deinit {
        // Saying goodbye may take a round trip; bound it instead of hanging on a dead peer.
        libssh2_session_set_timeout(handle, 2000)
        libssh2_session_set_blocking(handle, 1)
        if handshakeDone {
            _ = bok_ssh2_session_disconnect(handle, "BoK coordinator done")
        }
        libssh2_session_free(handle)
    }

    // MARK: Errors

    /// libssh2's last error code and message.
    func lastError() -> (code: Int32, message: String) {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(handle, &message, &length, 0)
        guard let message, length > 0 else { return (code, "libssh2 error \(code)") }
        let bytes = UnsafeRawBufferPointer(start: message, count: Int(length))
        return (code, String(decoding: bytes, as: UTF8.self))
    }

    func timeoutError(_ step: SSHError.Step, _ seconds: Double) -> SSHError {
        switch step {
        case .handshake:
            return SSHError(
                target, step, .timedOut,
                "the host accepted the TCP connection but completed no SSH handshake within \(formatSeconds(seconds))",
                hint:
                    "Is it an SSH server on port \(target.port)? A service that accepts TCP but never speaks SSH "
                    + "(a proxy, a firewall, another program) looks like this. Check with `ssh -v -p \(target.port) "
                    + "\(target.user)@\(target.host)`.")
        case .exec:
            return SSHError(
                target, step, .timedOut,
                "the remote command stayed silent (no output, no input taken, no exit) for \(formatSeconds(seconds))",
                hint: "Give slow commands a longer timeout. The remote process may still be running.")
        default:
            return SSHError(
                target, step, .timedOut,
                "the host did not answer within \(formatSeconds(seconds))",
                hint: "The host or the network is slow, or the remote command takes longer: raise the timeout.")
        }
    }

    // MARK: Waiting

    /// Waits until the socket is ready in the direction libssh2 is blocked on, or throws a timeout.
    func waitForSocket(_ step: SSHError.Step, _ deadline: Deadline) throws(SSHError) {
        if deadline.hasPassed { throw timeoutError(step, deadline.seconds) }
        let directions = libssh2_session_block_directions(handle)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        // No direction: libssh2 wants to be called again soon (e.g. it just drained a packet).
        let limit = events == 0 ? min(10, deadline.remainingMilliseconds) : deadline.remainingMilliseconds
        var descriptor = pollfd(fd: socket.fileDescriptor, events: events == 0 ? Int16(POLLIN) : events, revents: 0)
        _ = poll(&descriptor, 1, limit)
    }

    /// Calls `body` until it stops answering EAGAIN (as `wouldBlock` tells), waiting on the socket in
    /// between; throws a timeout when `deadline` passes first.
    func retry<T>(_ step: SSHError.Step, _ deadline: Deadline, _ body: () -> T, wouldBlock: (T) -> Bool)
        throws(SSHError) -> T
    {
        while true {
            let value = body()
            if !wouldBlock(value) { return value }
            try waitForSocket(step, deadline)
        }
    }

    /// `retry` for calls that return an `int` status.
    func retry(_ step: SSHError.Step, _ deadline: Deadline, _ body: () -> Int32) throws(SSHError) -> Int32 {
        try retry(step, deadline, body, wouldBlock: { $0 == LIBSSH2_ERROR_EAGAIN })
    }

    /// `retry` for calls that return a pointer, NULL plus `last_errno == EAGAIN` meaning "again".
    func retryPointer(_ step: SSHError.Step, _ deadline: Deadline, _ body: () -> OpaquePointer?)
        throws(SSHError) -> OpaquePointer?
    {
        try retry(
            step, deadline, body, wouldBlock: { $0 == nil && libssh2_session_last_errno(self.handle) == LIBSSH2_ERROR_EAGAIN })
    }

    /// Runs a cleanup call (close/free) in blocking mode with a short libssh2 timeout, so `deinit`s
    /// never spin and never hang on a dead peer.
    func blockingCleanup(milliseconds: Int = 2000, _ body: () -> Void) {
        libssh2_session_set_timeout(handle, milliseconds)
        libssh2_session_set_blocking(handle, 1)
        body()
        libssh2_session_set_blocking(handle, 0)
        libssh2_session_set_timeout(handle, 0)
    }

    // MARK: Handshake

    /// Asks for host key algorithms in this order (unsupported names are dropped by libssh2).
    func preferHostKeyAlgorithms(_ algorithms: [String]) {
        _ = libssh2_session_method_pref(handle, LIBSSH2_METHOD_HOSTKEY, algorithms.joined(separator: ","))
    }

    /// The SSH handshake (banner, key exchange), within `deadline` (the connect timeout).
    func handshake(deadline: Deadline) throws(SSHError) {
        let fd = socket.fileDescriptor
        let rc = try retry(.handshake, deadline) { libssh2_session_handshake(handle, fd) }
        guard rc == 0 else {
            let (code, message) = lastError()
            switch code {
            case LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV:
                throw SSHError(
                    target, .handshake, .protocolFailure,
                    "the connection closed before the SSH handshake finished (libssh2: \(message))",
                    hint:
                        "Is port \(target.port) an SSH server? sshd also drops connections when MaxStartups is "
                        + "reached or tcp wrappers refuse us; its log says which.")
            case LIBSSH2_ERROR_KEX_FAILURE, LIBSSH2_ERROR_METHOD_NONE:
                throw SSHError(
                    target, .handshake, .protocolFailure,
                    "no common key exchange, cipher or host key algorithm with the server (libssh2: \(message))",
                    hint:
                        "libssh2 1.10 offers curve25519/ECDH/DH key exchange, AES-CTR/CBC ciphers, HMAC-SHA2 and host keys "
                        + "ssh-ed25519, ecdsa-sha2-* and ssh-rsa (SHA-1; no rsa-sha2-256/512): check the server's KexAlgorithms, "
                        + "Ciphers, MACs and HostKeyAlgorithms, and give it an ed25519 host key.")
            default:
                throw SSHError(target, .handshake, .protocolFailure, "SSH handshake failed (libssh2 \(code): \(message))")
            }
        }
        handshakeDone = true
    }

    /// The host key the server presented, with its SHA-256 fingerprint.
    func presentedHostKey() throws(SSHError) -> PresentedHostKey {
        var length = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(handle, &length, &type), length > 0 else {
            throw SSHError(target, .hostKey, .protocolFailure, "the server presented no host key")
        }
        let blob = [UInt8](UnsafeRawBufferPointer(start: key, count: length))
        var fingerprint: [UInt8] = []
        if let hash = libssh2_hostkey_hash(handle, LIBSSH2_HOSTKEY_HASH_SHA256) {
            fingerprint = [UInt8](UnsafeRawBufferPointer(start: hash, count: 32))
        }
        return PresentedHostKey(blob: blob, libssh2Type: type, sha256: fingerprint)
    }
}
